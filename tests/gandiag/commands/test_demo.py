"""`gandiag demo --fast`: the README's main job, end to end (about 2 minutes on 2 cores)."""
import json

import pytest

from gandiag.cli import main
from gandiag.commands import demo

pytestmark = pytest.mark.slow


def test_demo_fast_end_to_end_and_resume(tmp_path, capsys, monkeypatch):
    out = tmp_path / "demo"
    assert main(["demo", "--fast", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    real = json.loads((out / "real-vs-real" / "metrics.json").read_text())
    good = json.loads((out / "dcgan-mnist" / "metrics.json").read_text())
    bad = json.loads((out / "collapse" / "metrics.json").read_text())
    assert real["modes"]["covered"] == 10 and not real["neighbours"]["copying"]
    assert bad["modes"]["covered"] <= 5
    assert real["mnist-fid"]["value"] < good["mnist-fid"]["value"] < bad["mnist-fid"]["value"]
    diag = json.loads((out / "diagnose-collapse" / "diagnosis.json").read_text())
    assert diag["verdict"]["verdict"] == "collapse" and len(diag["checkpoints"]) == 5
    for report in ("real-vs-real", "dcgan-mnist", "collapse", "diagnose-dcgan-mnist", "diagnose-collapse"):
        assert (out / report / "report.html").stat().st_size > 20_000
    for name in ("index.html", "sheets.pdf", "answer_key.csv", "design.json"):
        assert (out / "human-kit" / name).is_file()
    assert "diagnosis: collapse" in printed and "human-kit/index.html" in printed

    # re-running resumes: finished training runs are reused, not retrained
    monkeypatch.setattr(demo.subprocess, "call", lambda *a, **k: pytest.fail("retrained a finished run"))
    assert demo._train(out, "collapse", demo.FAST["collapse_steps"], demo.FAST["collapse_every"], 0, True) \
        == out / "runs" / "collapse"
