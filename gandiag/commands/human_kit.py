"""``gandiag human-kit``: build a rapid-categorization "real or fake?" study kit."""
from __future__ import annotations

import argparse

from ._common import add_image_format, add_quiet, add_seed

NAME = "human-kit"
HELP = "build a human-study kit: offline page, printable sheets, answer key, design"
ORDER = 60
DESCRIPTION = """Build a rapid-categorization human study (Denton et al. 2015; HYPE, Zhou et al. 2019):
a participant sees an image for a short fixed time, then a mask, then answers "real" or "fake".

Writes OUT/: index.html (one offline page: instructions, consent, participant id, practice with
feedback, timed trials, results downloaded as JSON + CSV and kept in the browser), sheets.pdf
(printable grids + answer forms), answer_key.csv (keep it away from participants), design.json
(every trial, truth, seed, sources, version) and images/*.png. Hand out participant ids P01, P02, ...
(one trial order each). Score the answers with `gandiag human-score`.

examples:
  gandiag human-kit --real mnist-subset:test --fake samples.npz --out kit/
  gandiag human-kit --real mnist-subset:test --fake samples.npz --out kit/ \\
      --trials 96 --exposures 250,500,1000 --participants 20 --attention 6
  gandiag human-kit --real mnist-subset:test --fake samples.npz --out kit_time/ --staircase
  gandiag human-kit --real mnist-subset:test --fake dcgan=a.npz --fake wgan=b.npz --out kit2/ --trials 48
  gandiag human-kit ... --participants 40     # same kit, more participants: same study id, answers pool
  gandiag human-kit ... --out kit/            # same command again: resumes / re-checks an existing kit
"""
HYPE_LADDER = "100,200,300,400,500,600,700,800,900,1000"


def _exposures(text: str):
    from ..errors import GandiagError

    try:
        values = [int(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise GandiagError(f"--exposures must be comma-separated whole milliseconds, e.g. 250,500,1000; "
                           f"got {text!r}") from None
    return tuple(values)


def _fakes(values):
    """``--fake`` values -> {model name: source spec} (one unnamed source is the model "fake")."""
    import re

    from ..errors import GandiagError

    named = {}
    for v in values:
        name, sep, spec = v.partition("=")
        if sep and re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$", name):
            if name in named:
                raise GandiagError(f"--fake {v}: model name {name!r} given twice")
            named[name] = spec
        elif len(values) == 1:
            return {"fake": v}
        else:
            raise GandiagError(f"--fake {v}: with several generators name each one, e.g. --fake dcgan={v}")
    return named


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--real", required=True, metavar="SRC", help="real images: data spec or path "
                        "(mnist-subset:test, folder, .npz, ...)")
    parser.add_argument("--fake", required=True, action="append", metavar="[NAME=]SRC",
                        help="generated images: source spec or path; repeat as NAME=SRC for several generators in "
                             "one kit (fakes split evenly between them, compared within participants)")
    parser.add_argument("--out", required=True, metavar="DIR", help="kit folder to create (or resume)")
    parser.add_argument("--trials", type=int, default=60,
                        help="main trials per participant, half real / half fake (a multiple of 2 x number of "
                             "exposures; attention checks and practice come on top)")
    parser.add_argument("--exposures", default=None, metavar="MS,MS,...",
                        help="exposure times in ms (default 250,500,1000; with --staircase the ladder, default "
                             f"{HYPE_LADDER})")
    parser.add_argument("--staircase", action="store_true",
                        help="HYPE_time: adapt the exposure per participant (3 correct -> shorter, 1 error -> "
                             "longer) instead of fixed, counterbalanced exposures")
    parser.add_argument("--staircase-start", type=int, default=None, metavar="MS",
                        help="first staircase exposure (default: the ladder value closest to 500 ms)")
    parser.add_argument("--staircase-down", type=int, default=3, help="correct answers in a row before a shorter exposure")
    parser.add_argument("--staircase-up", type=int, default=1, help="errors in a row before a longer exposure")
    parser.add_argument("--practice", type=int, default=4, help="practice trials with feedback (even; 0 = none)")
    parser.add_argument("--attention", type=int, default=4, help="attention-check trials in the main block")
    parser.add_argument("--attention-kind", choices=["mixed", "noise", "probe"], default="mixed",
                        help="catch trials with a known answer: noise = a noise image (answer fake); probe = "
                             "'answer REAL/FAKE' written on screen; mixed = noise and 'answer REAL' alternating")
    parser.add_argument("--participants", type=int, default=10, help="participant ids / trial orders P01..PNN")
    parser.add_argument("--fixation-ms", type=int, default=500, help="fixation cross before each image")
    parser.add_argument("--mask-ms", type=int, default=300, help="backward mask after each image")
    parser.add_argument("--display-px", type=int, default=256,
                        help="largest on-screen image size in CSS pixels; the page uses the largest whole multiple "
                             "of the image size that fits both this and the window")
    parser.add_argument("--untimed", action="store_true",
                        help="HYPE_inf on screen: each image stays until the answer (no exposure limit, no mask)")
    parser.add_argument("--feedback", choices=["practice", "all"], default="practice",
                        help="tell participants whether they were right after practice trials only, or after "
                             "every trial (Salimans et al. 2016; the page then holds the truth)")
    parser.add_argument("--no-counterbalance-keys", dest="counterbalance_keys", action="store_false",
                        help="F = real for everyone (default: P02, P04, ... answer real with J)")
    parser.add_argument("--demographics", action="store_true",
                        help="ask optional age range, gender and corrected vision at the end")
    parser.add_argument("--instructions-file", default=None, metavar="TXT",
                        help="plain-text task description to show instead of the default")
    parser.add_argument("--debrief-file", default=None, metavar="TXT",
                        help="plain-text debriefing shown at the end instead of the default")
    parser.add_argument("--title", default="Real or fake?", help="title on the page and the sheets")
    parser.add_argument("--consent-file", default=None, metavar="TXT",
                        help="plain-text consent to show instead of the generic placeholder")
    parser.add_argument("--force", action="store_true", help="overwrite a different kit or a non-empty folder")
    add_image_format(parser)
    add_seed(parser)
    add_quiet(parser)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..errors import GandiagError
    from ..human.app import DEFAULT_CONSENT
    from ..human.design import StudyConfig
    from ..human.kit import build_kit

    exposures = _exposures(args.exposures or (HYPE_LADDER if args.staircase else "250,500,1000"))
    fakes = _fakes(args.fake)
    config = StudyConfig(
        trials=args.trials, exposures_ms=exposures, practice=args.practice, attention=args.attention,
        attention_kind=args.attention_kind, participants=args.participants, staircase=args.staircase,
        staircase_start_ms=args.staircase_start, staircase_down=args.staircase_down,
        staircase_up=args.staircase_up, fixation_ms=args.fixation_ms, mask_ms=args.mask_ms,
        display_px=args.display_px, seed=args.seed, models=tuple(fakes), untimed=args.untimed,
        feedback=args.feedback, counterbalance_keys=args.counterbalance_keys, demographics=args.demographics,
    )

    def text_file(option, value):
        if value is None:
            return None
        path = Path(value)
        if not path.is_file():
            raise GandiagError(f"{option} {path}: file not found")
        text = path.read_text(encoding="utf-8").strip()
        if not text:
            raise GandiagError(f"{option} {path} is empty")
        return text

    consent = text_file("--consent-file", args.consent_file) or DEFAULT_CONSENT
    texts = {"instructions": text_file("--instructions-file", args.instructions_file),
             "debrief": text_file("--debrief-file", args.debrief_file)}
    fake_options = {"value_range": args.output_range, "layout": args.layout, "npz_key": args.npz_key}
    result = build_kit(args.real, fakes, args.out, config, title=args.title, consent=consent,
                       force=args.force, fake_options=fake_options, texts=texts)
    if not args.quiet:
        d = result.design
        n = len(d["participants"][0]["trials"])
        state = "resumed" if result.resumed else (f"grew kit {result.grown_from} into" if result.grown_from
                                                    else "built")
        print(f"{state} kit {result.kit_id} in {result.out}: {len(d['participants'])} participants x {n} trials "
              f"({config.practice} practice, {config.trials} main, {config.attention} attention), "
              f"{len(d['images'])} images; wrote {len(result.written)} files, kept {len(result.kept)}")
        print(f"  participants open {result.out / 'index.html'} and enter ids "
              f"{d['participants'][0]['id']}..{d['participants'][-1]['id']}")
        print(f"  paper: print {result.out / 'sheets.pdf'}; answer key {result.out / 'answer_key.csv'} "
              "(do not hand it out)")
    return 0
