"""Render the CLI reference (docs/cli.md) from the live argparse parsers.

``python -m gandiag.commands._reference > docs/cli.md``; a test checks the file is current.
"""
from __future__ import annotations

import os


def cli_reference() -> str:
    os.environ["COLUMNS"] = "100"  # argparse wraps help at the terminal width: fix it for a stable file
    from ..cli import build_parser

    parser = build_parser()
    parts = ["# gandiag command-line reference", "",
             "Generated from the live parsers by `python -m gandiag.commands._reference > docs/cli.md`.", "",
             "```", parser.format_help().rstrip(), "```", ""]
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, p in sub.choices.items():
        parts += [f"## gandiag {name}", "", "```", p.format_help().rstrip(), "```", ""]
    return "\n".join(parts)


if __name__ == "__main__":  # pragma: no cover
    print(cli_reference(), end="")
