"""Shared flags: the generator flags are declared once (add_generator_arguments) for every command."""
from gandiag.cli import build_parser
from gandiag.sources import DEFAULT_GENERATOR_SAMPLES


def _actions(command):
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices[command]
    return {flag: a for a in sub._actions for flag in a.option_strings}


def test_generator_flags_declared_once():
    commands = ("evaluate", "fid", "conformance", "diagnose")
    flags = {c: _actions(c) for c in commands}
    for flag in ("--z-dim", "--trust-pickle"):
        helps = {flags[c][flag].help for c in commands}
        defaults = {flags[c][flag].default for c in commands}
        assert len(helps) == 1 and len(defaults) == 1, (flag, helps, defaults)
    assert "only for files you trust" in flags["fid"]["--trust-pickle"].help
    for c in ("evaluate", "fid", "conformance"):
        assert flags[c]["--num-samples"].default is None  # the source's default applies ...
        assert f"(default {DEFAULT_GENERATOR_SAMPLES})" in flags[c]["--num-samples"].help  # ... and is named
    assert flags["diagnose"]["--num-samples"].default == 2000
    assert build_parser().parse_args(["fid", "a", "b", "--num-samples", "7", "--z-dim", "3",
                                      "--trust-pickle"]).num_samples == 7
