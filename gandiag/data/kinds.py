"""The source registry: every kind of input gandiag reads, as ``(recognise, load)`` registered by name.

A *source kind* answers two questions about a spec string (a path, ``mnist-subset:test``,
``pkg.module:make_generator``, ``G.onnx``...): :attr:`SourceKind.recognise` ("is this mine?",
cheap, never raises for foreign specs) and :attr:`SourceKind.load` ("give me its images").
Data kinds (``generator=False``) return every image they hold; generator kinds return a
:class:`gandiag.generators.GeneratorSource` from ``open`` and are sampled by
:func:`gandiag.sources.load_source`.

:func:`resolve_kind` asks every registered kind: no taker is an error listing the kinds,
two takers an error naming both (a spec must mean one thing). Built-in data kinds are
registered in :mod:`gandiag.data`, built-in generator kinds in :mod:`gandiag.sources`, and
plug-ins through the ``gandiag.sources`` entry-point group (the reference trainer registers
its checkpoints that way). See docs/plugins.md.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from ..errors import GandiagError
from ..registry import Registry


@dataclass(frozen=True)
class SourceOptions:
    """How to read a source (every field optional; kinds use what applies to them).

    Attributes:
        num_samples: data: a seeded random subset of this size (all rows when None);
            generators: how many images to sample (default 10,000).
        seed: seed of the subset or of the generator's latents.
        value_range, layout, npz_key: resolve ambiguous arrays or generator outputs.
        z_dim, num_classes, prior: generator latents when the file does not record them.
        batch_size, device, trust_pickle, progress: generator sampling.
    """

    num_samples: Optional[int] = None
    seed: int = 0
    value_range: Any = None
    layout: Optional[str] = None
    npz_key: Optional[str] = None
    z_dim: Optional[int] = None
    num_classes: Optional[int] = None
    prior: Optional[str] = None
    batch_size: int = 250
    trust_pickle: bool = False
    device: str = "cpu"
    progress: bool = False


@dataclass(frozen=True)
class SourceKind:
    """One registered kind of source.

    Attributes:
        name: registry name, recorded as the images' ``kind``.
        recognise: ``recognise(spec) -> bool``; must not raise for specs of other kinds.
        load: data kinds: ``load(spec, options) -> ImageSet``.
        open: generator kinds: ``open(spec, options) -> GeneratorSource``.
        description: one line for ``--help`` and docs/plugins.md.
        example: a spec of this kind, for messages.
    """

    name: str
    recognise: Callable[[str], bool]
    description: str
    example: str = ""
    load: Optional[Callable[[str, SourceOptions], Any]] = None
    open: Optional[Callable[[str, SourceOptions], Any]] = None
    extra: Dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def generator(self) -> bool:
        return self.open is not None


SOURCES: Registry[SourceKind] = Registry("source kind")


def register_source(name: str, recognise: Callable[[str], bool], *, load=None, open=None, description: str,
                    example: str = "", replace: bool = False) -> SourceKind:
    """Register a source kind: exactly one of ``load`` (data) or ``open`` (generator)."""
    if (load is None) == (open is None):
        raise GandiagError(f"source kind {name!r}: pass exactly one of load=(data) or open=(generator)")
    if not callable(recognise):
        raise GandiagError(f"source kind {name!r}: recognise must be callable recognise(spec) -> bool")
    kind = SourceKind(name, recognise, description, example, load=load, open=open)
    return SOURCES.register(name, kind, description, replace=replace)


_PLUGINS_LOADED: List[bool] = []


def load_plugins() -> None:
    """Register the built-in generator kinds and run the ``gandiag.sources`` entry points, once."""
    if _PLUGINS_LOADED:
        return
    _PLUGINS_LOADED.append(True)
    import importlib
    from importlib.metadata import entry_points

    importlib.import_module("gandiag.sources")  # the built-in generator kinds (discovery, as for commands)

    for ep in entry_points(group="gandiag.sources"):
        try:
            ep.load()()
        except Exception as exc:  # a broken plug-in must not break every command
            warnings.warn(f"gandiag.sources plug-in {ep.name!r} ({ep.value}) failed to load: {exc}", RuntimeWarning)


def matching_kinds(spec: str, *, generator: Optional[bool] = None) -> List[str]:
    """Names of the kinds that recognise ``spec`` (restricted to data or generator kinds)."""
    load_plugins()
    out = []
    for entry in SOURCES.entries():
        kind = entry.obj
        if generator is not None and kind.generator != generator:
            continue
        try:
            ok = bool(kind.recognise(spec))
        except GandiagError:
            raise
        except Exception:  # a recogniser that cannot read a foreign spec did not recognise it
            ok = False
        if ok:
            out.append(kind.name)
    return out


def resolve_kind(spec: str, *, generator: Optional[bool] = None, hint: str = "") -> SourceKind:
    """The one kind that recognises ``spec``; none or several are errors that name them."""
    names = matching_kinds(str(spec), generator=generator)
    if len(names) == 1:
        return SOURCES.get(names[0])
    if names:
        raise GandiagError(f"{spec!r} is ambiguous: it is recognised as {' and '.join(names)}; rename it or "
                           "pass an unambiguous path (e.g. ./name for a file)")
    if not hint:
        hint = next((text for text in (fn(str(spec)) for fn in _HINTS) if text), "")
    pool = [e.obj for e in SOURCES.entries() if generator is None or e.obj.generator == generator]
    what = {None: "source", True: "generator", False: "data"}[generator]
    listing = "; ".join(f"{k.name} ({k.description})" for k in pool)
    raise GandiagError(f"{spec!r} is not a {what} gandiag can read{hint}. Known kinds: {listing}")


_HINTS: List[Callable[[str], str]] = []


def add_unrecognised_hint(fn: Callable[[str], str]) -> None:
    """Register ``fn(spec) -> str``: an explanation appended when no kind recognises ``spec`` ("" if none)."""
    _HINTS.append(fn)


def list_sources(*, generator: Optional[bool] = None) -> List[SourceKind]:
    load_plugins()
    return [e.obj for e in SOURCES.entries() if generator is None or e.obj.generator == generator]


__all__ = ["SourceKind", "SourceOptions", "SOURCES", "register_source", "resolve_kind", "matching_kinds",
           "list_sources", "load_plugins", "add_unrecognised_hint"]
