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
    from ..human.design import StudyConfig
    from ..options import add_dataclass_arguments

    # --trials ... --demographics: StudyConfig's fields (defaults and help written there once); --exposures
    # defaults to None here: 250,500,1000 (StudyConfig's) or, with --staircase, the HYPE ladder
    add_dataclass_arguments(parser, StudyConfig, defaults={"exposures_ms": None})
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
    from ..human.design import HYPE_LADDER_MS, StudyConfig
    from ..human.kit import build_kit
    from ..options import dataclass_kwargs_from_args

    fakes = _fakes(args.fake)
    kwargs = dataclass_kwargs_from_args(StudyConfig, args)
    if kwargs["exposures_ms"] is None:  # not given: StudyConfig's default, or the ladder for --staircase
        del kwargs["exposures_ms"]
        if args.staircase:
            kwargs["exposures_ms"] = HYPE_LADDER_MS
    config = StudyConfig(**kwargs, seed=args.seed, models=tuple(fakes))

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
