"""`gandiag human-kit`: its study flags are StudyConfig's fields (defaults and help written there once)."""
import dataclasses

from gandiag.cli import build_parser
from gandiag.human.design import HYPE_LADDER_MS, StudyConfig

BASE = ["human-kit", "--real", "mnist-subset:test", "--fake", "f.npz", "--out", "kit"]
# former hand-written flag -> StudyConfig field (every name users typed keeps working)
FLAGS = {"--trials": "trials", "--exposures": "exposures_ms", "--practice": "practice", "--attention": "attention",
         "--attention-kind": "attention_kind", "--participants": "participants", "--staircase": "staircase",
         "--staircase-start": "staircase_start_ms", "--staircase-down": "staircase_down",
         "--staircase-up": "staircase_up", "--fixation-ms": "fixation_ms", "--mask-ms": "mask_ms",
         "--display-px": "display_px", "--untimed": "untimed", "--feedback": "feedback",
         "--no-counterbalance-keys": "counterbalance_keys", "--demographics": "demographics"}


def _subparser():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return parser, sub.choices["human-kit"]


def _config(argv):
    from gandiag.commands import human_kit

    args = build_parser().parse_args(BASE + argv)
    captured = {}

    def build_kit(real, fakes, out, config, **kw):
        captured["config"] = config
        raise SystemExit(0)

    import gandiag.human.kit as kit

    original, kit.build_kit = kit.build_kit, build_kit
    try:
        try:
            human_kit.run(args)
        except SystemExit:
            pass
    finally:
        kit.build_kit = original
    return captured["config"]


def test_every_study_field_has_its_former_flag():
    _, sub = _subparser()
    dests = {flag: a.dest for a in sub._actions for flag in a.option_strings}
    for flag, field in FLAGS.items():
        assert dests.get(flag) == field, flag
    cli_fields = {f.name for f in dataclasses.fields(StudyConfig) if f.metadata.get("cli")}
    assert cli_fields == set(FLAGS.values())  # seed (the shared --seed) and models (--fake) are the others


def test_defaults_are_the_dataclass_defaults():
    assert _config([]) == StudyConfig(models=("fake",))
    _, sub = _subparser()
    for action in sub._actions:
        if action.dest in FLAGS.values() and action.dest != "exposures_ms":
            assert action.default == getattr(StudyConfig(), action.dest), action.dest
            assert action.help.startswith(dataclasses.fields(StudyConfig)[
                [f.name for f in dataclasses.fields(StudyConfig)].index(action.dest)].metadata["help"][:20])


def test_values_reach_the_config_and_staircase_defaults_to_the_ladder():
    config = _config(["--trials", "12", "--exposures", "100,300", "--attention-kind", "probe",
                      "--no-counterbalance-keys", "--feedback", "all", "--seed", "4"])
    assert (config.trials, config.exposures_ms, config.attention_kind, config.counterbalance_keys,
            config.feedback, config.seed) == (12, (100, 300), "probe", False, "all", 4)
    staircase = _config(["--staircase", "--staircase-start", "300"])
    assert staircase.exposures_ms == HYPE_LADDER_MS == (100, 200, 300, 400, 500, 600, 700, 800, 900, 1000)
    assert staircase.staircase_start_ms == 300
