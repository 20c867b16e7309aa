"""Options declared once: dataclass fields -> argparse flags (name, default, help, flag/metavar/choices)."""
import argparse
import dataclasses
from typing import Optional, Tuple

import pytest

from gandiag.options import add_dataclass_arguments, dataclass_kwargs_from_args


@dataclasses.dataclass(frozen=True)
class _Knobs:
    count: int = dataclasses.field(default=3, metadata={"help": "how many", "cli": True, "minimum": 1})
    delays_ms: Tuple[int, ...] = dataclasses.field(default=(1, 2), metadata={
        "help": "delays", "cli": True, "flag": "--delays", "metavar": "MS,..."})
    kind: str = dataclasses.field(default="a", metadata={"help": "kind", "cli": True, "choices": ("a", "b")})
    start_ms: Optional[int] = dataclasses.field(default=None, metadata={"help": "start", "cli": True,
                                                                         "flag": "--start"})
    keys: bool = dataclasses.field(default=True, metadata={"help": "swap keys", "cli": True})
    loud: bool = dataclasses.field(default=False, metadata={"help": "loud", "cli": True})
    hidden: int = 7  # no metadata: no flag


def _parser():
    parser = argparse.ArgumentParser(exit_on_error=False)
    add_dataclass_arguments(parser, _Knobs, defaults={"count": 5})
    return parser


def test_defaults_come_from_the_fields_and_round_trip():
    args = _parser().parse_args([])
    kwargs = dataclass_kwargs_from_args(_Knobs, args)
    assert kwargs == {"count": 5, "delays_ms": (1, 2), "kind": "a", "start_ms": None, "keys": True, "loud": False}
    assert _Knobs(**kwargs) == _Knobs(count=5)


def test_flag_metavar_and_choices_from_metadata():
    parser = _parser()
    args = parser.parse_args(["--delays", "4,5", "--start", "9", "--kind", "b", "--no-keys", "--loud"])
    assert (args.delays_ms, args.start_ms, args.kind, args.keys, args.loud) == ((4, 5), 9, "b", False, True)
    assert "--delays MS,..." in parser.format_help() and "--hidden" not in parser.format_help()
    assert "--delays-ms" not in parser.format_help() and "--start-ms" not in parser.format_help()
    with pytest.raises(argparse.ArgumentError, match="argument --kind: invalid choice: 'c'"):
        parser.parse_args(["--kind", "c"])
    with pytest.raises(argparse.ArgumentError, match="argument --count: must be >= 1, got 0"):
        parser.parse_args(["--count", "0"])
