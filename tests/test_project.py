"""Project-level checks: README and CI agree, the CLI reference is current, --help works everywhere."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gandiag import __version__
from gandiag.cli import build_parser, main
from gandiag.commands._reference import cli_reference

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, flags=re.S)
    test_cmd = next(b for b in blocks if "pytest" in b)
    assert test_cmd in (ROOT / ".ci" / "run").read_text()
    assert any("gandiag demo" in b for b in blocks)


def test_cli_reference_is_current():
    assert (ROOT / "docs" / "cli.md").read_text() == cli_reference(), \
        "regenerate: python -m gandiag.commands._reference > docs/cli.md"


def test_every_command_has_help_with_examples(capsys):
    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    assert {"demo", "evaluate", "diagnose", "fid", "neighbours", "extract", "extractors", "human-kit",
            "human-score"} <= set(sub.choices)
    for name, parser in sub.choices.items():
        assert "example" in parser.format_help().lower(), name


def test_version_and_no_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and __version__ in capsys.readouterr().out
    assert main([]) == 2


def test_console_script_runs_as_module():
    out = subprocess.run([sys.executable, "-m", "gandiag", "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "evaluate" in out.stdout


def test_top_level_lazy_api():
    import gandiag

    assert gandiag.evaluate.__module__ == "gandiag.evaluation"
    assert callable(gandiag.metrics.frechet_distance)
    with pytest.raises(AttributeError):
        gandiag.not_a_thing
