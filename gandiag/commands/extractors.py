"""``gandiag extractors``: list the registered feature extractors."""
from __future__ import annotations

import argparse

NAME = "extractors"
HELP = "list the registered feature extractors (names for --extractor)"
ORDER = 41
DESCRIPTION = """List the feature extractors registered in gandiag.features.EXTRACTORS, with what they
output. Besides these names, --extractor accepts a TorchScript file or package.module:callable.

examples:
  gandiag extractors
  gandiag extractors --json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")


def run(args: argparse.Namespace) -> int:
    import json

    from ..features import list_extractors

    entries = list_extractors()
    if args.json:
        print(json.dumps(entries, indent=2))
        return 0
    width = max(len(e["name"]) for e in entries)
    for entry in entries:
        print(f"{entry['name']:<{width}}  {entry['description']}")
    return 0
