"""gandiag neighbours: nearest training images of generated samples, and a copying score."""
from __future__ import annotations

import argparse

NAME = "neighbours"
ORDER = 40
HELP = "nearest training images (pixel and feature space) and a data-copying score"
DESCRIPTION = """For samples of SOURCE, find the k nearest training images (--ref) in pixel space
and in feature space, and score memorization: the share of samples closer to a training
image than 95% of held-out real images are (about 5% expected; flagged above 20%).
Writes metrics.json and report.html (neighbour grids) when --out is given.

examples:
  gandiag neighbours runs/memorize --out nn/
  gandiag neighbours samples.npz -k 8 --num-samples 2000
"""


def add_arguments(parser) -> None:
    from .evaluate import add_arguments as evaluate_arguments

    evaluate_arguments(parser, with_metrics=False)
    # a short spelling of --neighbours-k (whose default stays the one in the metric's record)
    parser.add_argument("-k", type=int, default=argparse.SUPPRESS, dest="neighbours_k", help="same as --neighbours-k")


def run(args) -> int:
    from .evaluate import run as evaluate_run

    args.metrics = "neighbours"
    return evaluate_run(args)
