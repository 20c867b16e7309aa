"""``gandiag human-score``: score the answers of a human-study kit."""
from __future__ import annotations

import argparse

from ._common import add_force, add_quiet, add_seed

NAME = "human-score"
HELP = "score human-study answers: accuracy, fool rate, HYPE, d', per exposure and participant, bootstrap CIs"
ORDER = 61
DESCRIPTION = """Score the answers collected with a `gandiag human-kit` kit.

RESPONSES are any mix of: the JSON or CSV files the page downloaded (one per session), CSV files
transcribed from the paper sheets with columns participant,item,response (response: real/fake or
R/F; an empty response = not answered; optional columns kit_id, study_id, notes), and the database
of `gandiag human-serve` (its SQLite file, or the URL given to --db, e.g. postgresql://...). Answers from another kit of the same study (the kit grown with
more participants) pool. Every answer is checked against design.json; a mismatch names the file
and line.

Reports accuracy, fool rate (fakes judged real), real error rate, a HYPE_inf-style error score,
d' and criterion (log-linear correction), HYPE_time (staircase kits), accuracy per exposure and
per participant, per model with paired differences (kits with several generators), per-image
judged-real rates (images_grid.png), Fleiss' kappa / Krippendorff's alpha and reaction times,
with two-way (participants x images) bootstrap 95% CIs. Participants below --min-attention on the
catch trials, or giving one answer on more than --max-same-answer of the trials, are excluded
(and listed); trials with late frames and answers faster than --min-rt-ms are flagged (and
dropped with --exclude-late-trials / --exclude-fast).

examples:
  gandiag human-score results/*.json --design kit/design.json
  gandiag human-score results/*.json paper.csv answers.sqlite --design kit/ --out scores/
  gandiag human-score postgresql://lab@127.0.0.1:5432/study --design kit/
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("responses", nargs="+", metavar="RESPONSES", help="page JSON/CSV exports, paper CSVs, human-serve databases (file or URL)")
    parser.add_argument("--design", required=True, help="design.json of the kit (or the kit folder)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="write scores.json, summary.html and summary.png here (default: print only)")
    parser.add_argument("--bootstrap", type=int, default=2000, help="bootstrap replicates for 95%% CIs (0 = none)")
    parser.add_argument("--min-attention", type=float, default=0.75,
                        help="exclude participants whose attention-check pass rate is below this")
    parser.add_argument("--max-same-answer", type=float, default=0.9,
                        help="exclude participants giving one answer on more than this share of trials")
    parser.add_argument("--min-rt-ms", type=float, default=100.0,
                        help="flag answers given sooner than this after the mask onset (anticipations)")
    parser.add_argument("--exclude-late-trials", action="store_true",
                        help="drop trials the page flagged for late frames / durations off by a frame or more")
    parser.add_argument("--exclude-fast", action="store_true", help="drop answers faster than --min-rt-ms")
    add_seed(parser)
    add_force(parser)
    add_quiet(parser)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..fileio import atomic_write_bytes, atomic_write_json, atomic_write_text
    from ..human.analysis import Rules, score_sessions
    from ..human.kit import read_design
    from ..human.responses import read_responses
    from ..human.store import is_url
    from ..human.summary import render_html, render_image_grid, render_png, summary_lines

    from ..fileio import check_output_dir

    if args.out:  # before reading and scoring
        check_output_dir(args.out, ("scores.json", "summary.png", "summary.html"),
                         inputs=[*(r for r in args.responses if not is_url(r)), args.design], force=args.force)
    design = read_design(args.design)
    sessions = read_responses(args.responses, design)
    rules = Rules(min_attention=args.min_attention, max_same_answer=args.max_same_answer,
                  min_rt_ms=args.min_rt_ms, exclude_late=args.exclude_late_trials, exclude_fast=args.exclude_fast)
    scores = score_sessions(sessions, design, n_boot=args.bootstrap, seed=args.seed, rules=rules,
                            files=[str(p) for p in args.responses])
    if args.out:
        out = Path(args.out)
        atomic_write_json(out / "scores.json", scores)
        png = render_png(scores)
        atomic_write_bytes(out / "summary.png", png)
        atomic_write_text(out / "summary.html", render_html(scores, png))
        grid = render_image_grid(scores, Path(args.design) if Path(args.design).is_dir()
                                 else Path(args.design).parent)
        if grid is not None:
            atomic_write_bytes(out / "images_grid.png", grid)
        elif not args.quiet:
            print("  images_grid.png not written: the kit's images/ folder is not next to design.json")
    if not args.quiet:
        print("\n".join(summary_lines(scores)))
        if args.out:
            print(f"  wrote {Path(args.out) / 'scores.json'}, summary.html, summary.png, images_grid.png")
    return 0
