"""Options declared once: a frozen dataclass and its CLI flags from the same :class:`Option` records.

An :class:`Option` names one knob (``kid_subsets``), its default, its type and its help text.
:func:`options_dataclass` assembles a frozen dataclass from a list of them (unknown keys are a
``TypeError`` at construction, as for any dataclass); :func:`add_dataclass_arguments` derives the
argparse flags (``--kid-subsets``) from the fields of *any* dataclass whose fields carry
``metadata={"help": ...}``, and :func:`dataclass_kwargs_from_args` reads them back, so a default
is written in exactly one place.

Flag rules: ``name`` -> ``--name-with-dashes``; ``bool`` defaulting to False -> ``store_true``,
defaulting to True -> ``--no-name``; ``Tuple[float, ...]`` / ``Tuple[str, ...]`` -> one
comma-separated value; ``Optional[T]`` -> ``T`` with default ``None``. Fields with
``metadata={"cli": False}`` (or no ``"cli"``) get no flag. Optional metadata: ``"flag"`` (a flag
name other than the field's, e.g. ``--exposures`` for ``exposures_ms``), ``"metavar"``,
``"choices"``, ``"minimum"``.
"""
from __future__ import annotations

import argparse
import dataclasses
import typing
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, Optional, Sequence, Tuple

from .errors import GandiagError


@dataclass(frozen=True)
class Option:
    """One knob of an evaluation (or of any options dataclass).

    Attributes:
        name: Python identifier, also the dataclass field and (with dashes) the CLI flag.
        type: the field's type (``int``, ``float``, ``str``, ``bool``, ``Optional[int]``,
            ``Tuple[float, ...]``, ...).
        default: its default (immutable: tuples, not lists).
        help: one line for ``--help`` and the docs.
        cli: whether a CLI flag is derived from it.
        minimum: smallest value the CLI flag accepts (numbers only; None: no bound).
    """

    name: str
    type: Any
    default: Any
    help: str
    cli: bool = True
    minimum: Optional[float] = None

    def field(self) -> Tuple[str, Any, Any]:
        return (self.name, self.type, dataclasses.field(
            default=self.default, metadata={"help": self.help, "cli": self.cli, "minimum": self.minimum}))


def options_dataclass(name: str, options: Sequence[Option], doc: str, module: str) -> type:
    """A frozen dataclass with one field per option (duplicate names are an error)."""
    seen: Dict[str, Option] = {}
    for opt in options:
        if not opt.name.isidentifier():
            raise GandiagError(f"option name {opt.name!r} must be a Python identifier")
        if opt.name in seen:
            raise GandiagError(f"option {opt.name!r} is declared twice (options must have one owner)")
        seen[opt.name] = opt
    cls = dataclasses.make_dataclass(name, [o.field() for o in options], frozen=True)
    cls.__doc__ = doc
    cls.__module__ = module
    return cls


def _base_type(tp) -> Tuple[Any, bool]:
    """``Optional[int]`` -> ``(int, False)``; ``Tuple[float, ...]`` -> ``(float, True)``."""
    args = typing.get_args(tp)
    if typing.get_origin(tp) is typing.Union:
        inner = [a for a in args if a is not type(None)]
        return _base_type(inner[0])
    if typing.get_origin(tp) in (tuple, Tuple):
        return args[0], True
    return tp, False


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _bounded(tp, minimum, flag: str):
    def parse(text: str):
        try:
            value = tp(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {tp.__name__}, got {text!r}")
        if minimum is not None and value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum:g}, got {text}")
        return value
    parse.__name__ = tp.__name__  # argparse names the type in its messages
    return parse


def _parse_list(item_type) -> Callable[[str], tuple]:
    def parse(text: str) -> tuple:
        try:
            return tuple(item_type(part.strip()) for part in text.split(",") if part.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated {item_type.__name__} values, got {text!r}")
    return parse


def dataclass_cli_fields(cls, *, only: Optional[Iterable[str]] = None, exclude: Iterable[str] = ()):
    """The fields of ``cls`` that get a CLI flag (in declaration order)."""
    keep = None if only is None else set(only)
    drop = set(exclude)
    return [f for f in dataclasses.fields(cls) if f.metadata.get("cli", False) and f.name not in drop
            and (keep is None or f.name in keep)]


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls, *, only: Optional[Iterable[str]] = None,
                            exclude: Iterable[str] = (), defaults: Optional[Dict[str, Any]] = None) -> None:
    """Add one flag per CLI field of the dataclass ``cls``; defaults and help come from the fields.

    Args:
        only / exclude: restrict the fields (by name).
        defaults: command-specific defaults overriding the dataclass ones (e.g. diagnose's
            smaller sample count); the dataclass stays the one place for everything else.
    """
    hints = typing.get_type_hints(cls)
    for f in dataclass_cli_fields(cls, only=only, exclude=exclude):
        default = (defaults or {}).get(f.name, f.default)
        tp, is_list = _base_type(hints[f.name])
        help_text = f.metadata.get("help", "").replace("%", "%%")  # argparse formats help with %
        flag = f.metadata.get("flag") or _flag(f.name)
        extra = {k: f.metadata[k] for k in ("metavar", "choices") if f.metadata.get(k) is not None}
        if tp is bool and not is_list:
            if default:
                parser.add_argument("--no-" + flag[2:], dest=f.name, action="store_false",
                                    help=help_text + " (on by default; this flag turns it off)")
            else:
                parser.add_argument(flag, dest=f.name, action="store_true", help=help_text)
            continue
        if is_list:  # (the CLI's formatter appends the default)
            extra.setdefault("metavar", "A,B,...")
            parser.add_argument(flag, dest=f.name, type=_parse_list(tp), default=default,
                                help=help_text + " (comma-separated)", **extra)
        else:
            kind = _bounded(tp, f.metadata.get("minimum"), flag) if tp in (int, float) else tp
            parser.add_argument(flag, dest=f.name, type=kind, default=default, help=help_text, **extra)


def dataclass_kwargs_from_args(cls, args: argparse.Namespace, *, only: Optional[Iterable[str]] = None,
                               exclude: Iterable[str] = ()) -> Dict[str, Any]:
    """Keyword arguments for ``cls(...)`` from the flags :func:`add_dataclass_arguments` added."""
    return {f.name: getattr(args, f.name) for f in dataclass_cli_fields(cls, only=only, exclude=exclude)
            if hasattr(args, f.name)}


__all__ = ["Option", "options_dataclass", "add_dataclass_arguments", "dataclass_kwargs_from_args",
           "dataclass_cli_fields"]
