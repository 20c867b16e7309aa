"""The ``gandiag`` command line.

Each sub-command lives in its own module under :mod:`gandiag.commands` and is
found there by discovery, so adding a command never edits this file. A command
module defines:

* ``NAME`` (the sub-command, e.g. ``"human-kit"``), ``HELP`` (one line),
  ``DESCRIPTION`` (paragraph with examples, shown by ``gandiag NAME --help``),
  ``ORDER`` (int, position in ``gandiag --help``);
* ``add_arguments(parser)`` and ``run(args) -> int``.

Heavy imports (torch, matplotlib) belong inside ``run`` so ``--help`` stays fast.
A :class:`~gandiag.errors.GandiagError` becomes one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from typing import List, Optional

from . import __version__
from .errors import GandiagError

EPILOG = """examples:
  gandiag demo                                  # offline tour on the embedded MNIST subset
  gandiag evaluate samples.npz --out report/    # score a folder/array/generator against MNIST
  gandiag fid a.npz b.npz                       # FID between two sources or two stats files
  gandiag <command> --help                      # options and examples of one command
"""


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    pass


class _Parser(argparse.ArgumentParser):
    """Usage mistakes are one line on stderr and exit status 2, like every other user error."""

    def error(self, message):  # noqa: D401 - argparse hook
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _command_modules():
    from . import commands

    mods = []
    for info in pkgutil.iter_modules(commands.__path__):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{commands.__name__}.{info.name}")
        if hasattr(mod, "NAME") and hasattr(mod, "run"):
            mods.append(mod)
    return sorted(mods, key=lambda m: (getattr(m, "ORDER", 100), m.NAME))


def _selected_command(argv: List[str], names) -> Optional[str]:
    """The sub-command named in ``argv`` (its first non-option word), or None."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in names else None
    return None


def build_parser(only: Optional[str] = "") -> argparse.ArgumentParser:
    """The parser of every command (default); ``only=NAME``: options of that command alone,
    ``only=None``: of none (``gandiag --help`` shows names and one-line help). Start-up: some
    commands' ``add_arguments`` read the metric/extractor registries (seconds of imports)."""
    parser = _Parser(
        prog="gandiag",
        description="gandiag: how good is your GAN really? Metrics, collapse diagnosis, human-study kits.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"gandiag {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _command_modules():
        p = sub.add_parser(
            mod.NAME,
            help=mod.HELP,
            description=getattr(mod, "DESCRIPTION", mod.HELP),
            formatter_class=_Formatter,
        )
        if only == "" or only == mod.NAME:
            mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    from .commands._common import normalize_argv

    argv = normalize_argv(sys.argv[1:] if argv is None else list(argv))
    parser = build_parser(only=_selected_command(argv, {m.NAME for m in _command_modules()}))
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except GandiagError as exc:
        print(f"gandiag {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"gandiag {args.command}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        # The environment refused a read or write (disk full, permissions, a vanished file):
        # not a bug in gandiag, so one line naming the file, not a traceback.
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        print(f"gandiag {args.command}: error:{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"gandiag {args.command}: error: out of memory; use fewer samples (--num-samples) or a smaller "
              "--batch-size", file=sys.stderr)
        return 2


def _one_line(exc: BaseException) -> str:
    """The message on one line (a multi-line message would read as several errors)."""
    return " ".join(str(exc).split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
