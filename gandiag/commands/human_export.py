"""``gandiag human-export``: a human-study kit as a jsPsych experiment (JATOS, Pavlovia)."""
from __future__ import annotations

import argparse

from ._common import add_force, add_quiet

NAME = "human-export"
HELP = "export a human-study kit as a jsPsych experiment (for JATOS, Pavlovia or any web host)"
ORDER = 63
DESCRIPTION = """Write a folder that runs the kit's trials as a jsPsych 8 experiment (jsPsych is vendored,
MIT): the same trials per participant id, the same frame-counted fixation / image / mask and
late-frame checks as the kit's page, and at the end the page's JSON export, which
`gandiag human-score` reads. It runs offline (open index.html), on JATOS (the results are
submitted to JATOS) and on any static host; the participant id comes from ?participant=P01 or
is typed. Staircase and untimed kits are refused. Upload steps: docs/human-study.md.

examples:
  gandiag human-export kit/ --jspsych --out kit-jspsych/
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kit", metavar="KIT", help="the kit folder (from gandiag human-kit)")
    parser.add_argument("--jspsych", action="store_true", required=True,
                        help="export as a jsPsych experiment (the only format so far; required)")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder to write the experiment into")
    add_force(parser)
    add_quiet(parser)


def run(args: argparse.Namespace) -> int:
    from ..human.jspsych import export_jspsych

    out = export_jspsych(args.kit, args.out, force=args.force)
    if not args.quiet:
        print(f"wrote {out}/index.html (+ kit.js, gandiag-jspsych.js, jspsych/); open it in a browser, or zip the "
              "folder for JATOS / upload it to Pavlovia (docs/human-study.md)")
    return 0
