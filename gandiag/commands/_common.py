"""Argument helpers shared by several commands (one definition of each common flag)."""
from __future__ import annotations

import argparse


def add_seed(parser: argparse.ArgumentParser, default: int = 0) -> None:
    parser.add_argument("--seed", type=int, default=default, help="seed for every random choice")


def add_quiet(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="torch device: auto, cpu, cuda, cuda:1, ...")


def add_image_format(parser: argparse.ArgumentParser) -> None:
    """Flags that resolve ambiguous array inputs (see gandiag.images)."""
    parser.add_argument("--output-range", default=None, metavar="LO,HI",
                        help="value range of float images/generator output: 0,1 (default for floats), -1,1 or 0,255")
    parser.add_argument("--layout", choices=["NCHW", "NHWC"], default=None,
                        help="array layout when the shape alone is ambiguous")
    parser.add_argument("--npz-key", default=None, help="array name inside an .npz (default: images/x/arr_0)")


def resolve_device(name: str) -> str:
    if name != "auto":
        return name
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
