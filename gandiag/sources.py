"""Sources: "anything that yields images", resolved from one string spec through the source registry.

Every kind of input is one registered :class:`~gandiag.data.kinds.SourceKind`
(``recognise(spec) -> bool`` plus ``load``/``open``). Data kinds (folders, arrays, idx,
``mnist-subset``, ...) are registered in :mod:`gandiag.data`; generator kinds here:

============================  ======================================================
kind                          recognised by
============================  ======================================================
``torchscript``               a zip written by ``torch.jit.save`` (``code/`` + ``constants.pkl``)
``export``                    a ``torch.export`` program: ``*.pt2`` or a zip with
                              ``serialized_exported_program.json``
``callable``                  ``package.module:attr`` naming an ``nn.Module``, a factory or
                              ``f(z) -> images`` (not an existing path; ``package`` importable)
``pickle``                    ``.pkl``/``.pickle`` files, and ``torch.save`` files holding Python
                              objects beyond tensors (loaded only with ``trust_pickle=True``)
plug-ins                      ``gandiag.sources`` entry points: the reference trainer's
                              ``checkpoint`` kind, ...
============================  ======================================================

:func:`load_source` returns an :class:`~gandiag.data.ImageSet` that carries its ``kind``
and ``provenance``; :func:`open_generator` returns the generator itself (for sampling
several times, as ``diagnose`` does).
"""
from __future__ import annotations

import functools
import os
import zipfile
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np

from .data import ImageSet, load_images
from .data.kinds import SourceOptions, add_unrecognised_hint, matching_kinds, register_source, resolve_kind
from .errors import GandiagError

DEFAULT_GENERATOR_SAMPLES = 10_000
TORCH_SAVE_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".tar")


# ------------------------------------------------------------------------------ probing files
def zip_members(spec) -> Optional[list]:
    """Member names of a zip file, or None when ``spec`` is not a readable zip file."""
    path = Path(spec)
    if not path.is_file():
        return None
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return None


def _is_torchscript(spec: str) -> bool:
    members = zip_members(spec) or []
    return any("/code/" in m for m in members) and any(m.endswith("constants.pkl") for m in members)


def _is_export(spec: str) -> bool:
    path = Path(spec)
    if not path.is_file():
        return False
    if path.suffix.lower() == ".pt2":
        return True
    members = zip_members(spec) or []
    return any(m.endswith("serialized_exported_program.json") or "/models/" in m and m.endswith(".json")
               for m in members)


def _is_callable(spec: str) -> bool:
    import importlib.util

    head, sep, attr = spec.partition(":")
    if not sep or not attr or os.path.exists(spec):
        return False
    if not (all(p.isidentifier() for p in head.split(".")) and all(p.isidentifier() for p in attr.split("."))):
        return False
    # Only names whose top-level package exists (find_spec of a top-level name runs no code), so a
    # data kind spelled like "toyset:train" is not mistaken for a callable.
    try:
        return importlib.util.find_spec(head.split(".")[0]) is not None
    except (ImportError, ValueError):
        return False


@functools.lru_cache(maxsize=64)
def _probe_cached(path: str, mtime_ns: int, size: int) -> Dict[str, Any]:
    import pickle

    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)  # the restricted unpickler: no code runs
    except pickle.UnpicklingError:
        return {"status": "pickle"}
    except Exception as exc:
        return {"status": "unreadable", "error": f"{type(exc).__name__}: {exc}"}
    if isinstance(obj, dict):
        return {"status": "weights", "format": obj.get("format") if isinstance(obj.get("format"), str) else None,
                "keys": sorted(str(k) for k in obj)[:50]}
    return {"status": "weights", "format": None, "keys": [], "type": type(obj).__name__}


def probe_torch_file(spec) -> Optional[Dict[str, Any]]:
    """What a ``torch.save`` file holds, read with ``weights_only=True`` (never runs code from it).

    Returns ``None`` for a spec that is not a ``torch.save`` zip, else ``{"status": "weights",
    "format": <its "format" string or None>, "keys": [...]}``, ``{"status": "pickle"}`` (Python
    objects beyond tensors) or ``{"status": "unreadable", "error": ...}``. Cached per file version.
    """
    path = Path(spec)
    if path.suffix.lower() not in TORCH_SAVE_SUFFIXES or not path.is_file():
        return None
    if _is_torchscript(str(path)) or _is_export(str(path)):
        return None
    if zip_members(path) is None:  # the legacy (non-zip) torch.save format is a plain pickle stream
        from .safe_load import is_plain_pickle

        if is_plain_pickle(path):
            return {"status": "pickle"}
        with open(path, "rb") as handle:
            if handle.read(1) != b"\x80":
                return {"status": "unreadable", "error": "neither a torch.save file nor a pickle"}
    st = path.stat()
    return _probe_cached(str(path.resolve()), st.st_mtime_ns, st.st_size)


def _is_pickle(spec: str) -> bool:
    path = Path(spec)
    if path.is_file() and path.suffix.lower() in (".pkl", ".pickle"):
        return True
    probe = probe_torch_file(spec)
    return probe is not None and probe["status"] == "pickle"


# ------------------------------------------------------------------------------ generator kinds
def generator_from(fn, meta: Dict[str, Any], kind: str, where: str, options: SourceOptions):
    """A :class:`~gandiag.generators.GeneratorSource` from a loaded callable and its file's metadata.

    For plug-in generator kinds: file metadata and caller options are combined, and a
    contradiction (``--z-dim 64`` for a file that says 100) is an error, never an override.
    """
    from .generators import _finish

    return _finish(fn, dict(meta), kind, z_dim=options.z_dim, output_range=options.value_range,
                   num_classes=options.num_classes, prior=options.prior, layout=options.layout,
                   device=options.device, where=where)


def _builtin(name: str):
    def open_(spec: str, o: SourceOptions):
        from . import generators

        return getattr(generators, f"open_{name}")(spec, o)
    return open_


register_source("torchscript", _is_torchscript, open=_builtin("torchscript"),
                description="a TorchScript generator (torch.jit.save)", example="generator.ts")
register_source("export", _is_export, open=_builtin("export"),
                description="a torch.export program (.pt2)", example="generator.pt2")
register_source("callable", _is_callable, open=_builtin("callable"),
                description="package.module:attr - an nn.Module, a factory or f(z) -> images",
                example="my_pkg.models:build_generator")
register_source("pickle", _is_pickle, open=_builtin("pickle"),
                description="a pickled generator (.pkl, or torch.save of a module; needs --trust-pickle)",
                example="generator.pkl")


# ------------------------------------------------------------------------------ front door
def _hint(spec: str) -> str:
    from .data.kinds import SOURCES

    probe = probe_torch_file(spec)
    run = Path(spec) / "checkpoints"
    if (run.is_dir() or (probe or {}).get("format")) and "checkpoint" not in SOURCES:
        return (" (it looks like a reference-trainer run or checkpoint; those are read by the reference_models "
                "plug-in, registered through the gandiag.sources entry point: reinstall with pip install -e .)")
    if run.is_dir() and not (run / "last.pt").is_file():
        return f" (a run folder without checkpoints/last.pt: pass one of {run}/step_*.pt)"
    if probe is not None and probe["status"] == "weights":
        return (f" ({spec} holds tensors only, not a generator: gandiag cannot rebuild a network from weights; "
                "export the generator "
                "with torch.jit.save, torch.export or ONNX, or pass a package.module:callable)")
    if probe is not None and probe["status"] == "unreadable":
        return f" (as a torch file it is corrupt or unreadable: {probe['error']})"
    head, sep, attr = spec.partition(":")
    if sep and attr and all(p.isidentifier() for p in head.split(".")) and not os.path.exists(spec):
        return (f" (it looks like package.module:attr, but no module named {head.split('.')[0]!r} is importable: "
                "is it on PYTHONPATH?)")
    if not os.path.exists(spec) and ":" not in spec:
        return f" (no such file or folder: {spec})"
    return ""


add_unrecognised_hint(_hint)


def is_generator_spec(spec: str) -> bool:
    """True when a generator kind recognises ``spec``."""
    return bool(matching_kinds(str(spec), generator=True))


def open_generator(spec: str, options: Optional[SourceOptions] = None, **kwargs):
    """The generator named by ``spec`` (a :class:`~gandiag.generators.GeneratorSource`), unsampled."""
    options = options or SourceOptions(**kwargs)
    kind = resolve_kind(str(spec), generator=True)
    return kind.open(str(spec), options)


def load_source(
    spec: str,
    *,
    num_samples: Optional[int] = None,
    seed: int = 0,
    value_range=None,
    layout: Optional[str] = None,
    npz_key: Optional[str] = None,
    z_dim: Optional[int] = None,
    batch_size: int = 250,
    trust_pickle: bool = False,
    device: str = "cpu",
    progress: bool = False,
    num_classes: Optional[int] = None,
) -> ImageSet:
    """Resolve ``spec`` into canonical images, labelled with their kind and provenance.

    Args:
        spec: a data spec or path, or a generator (see the module doc and
            ``gandiag.data.kinds.list_sources()``).
        num_samples: data sources: a seeded random subset of this size (all rows when
            ``None``; more rows than exist is an error). Generators: how many images to
            sample (default 10,000).
        seed: seed of the subset choice or of the generator's latents.
        value_range, layout, npz_key: resolve ambiguous arrays or generator outputs
            (see :mod:`gandiag.images`).
        z_dim, batch_size, trust_pickle, device: generator options.
        num_classes: conditional generators: sample balanced labels 0..K-1 (None: what the file
            records, if anything); an error for data sources.

    Returns:
        an :class:`ImageSet` whose ``kind`` is the registered kind and whose ``provenance``
        holds ``spec``, ``kind``, ``role`` (``"generator"``/``"data"``), ``description`` and,
        for generators, what the file said about itself (``generator``).
    """
    spec = str(spec)
    options = SourceOptions(num_samples=num_samples, seed=seed, value_range=value_range, layout=layout,
                            npz_key=npz_key, z_dim=z_dim, batch_size=batch_size, trust_pickle=trust_pickle,
                            device=device, progress=progress, num_classes=num_classes)
    kind = resolve_kind(spec)
    if kind.generator:
        gen = kind.open(spec, options)
        n = DEFAULT_GENERATOR_SAMPLES if num_samples is None else int(num_samples)  # 0 is an error, not 10,000
        images = gen.sample(n, batch_size=batch_size, seed=seed, progress=progress)
        return images.with_origin(kind.name, {"spec": spec, "kind": kind.name, "role": "generator",
                                              "description": images.source, "num_samples": n, "seed": seed,
                                              "generator": gen.provenance()})
    if num_classes is not None:
        raise GandiagError(f"--num-classes applies to conditional generators; {spec} is data ({kind.name}): "
                           "its labels, if any, come from the file")
    data = load_images(spec, value_range=value_range, layout=layout, npz_key=npz_key)
    if num_samples is not None and num_samples != len(data):
        if num_samples <= 0:
            raise GandiagError(f"num_samples must be positive, got {num_samples}")
        if num_samples > len(data):
            raise GandiagError(f"{spec}: asked for {num_samples} samples but the source holds only {len(data)}")
        index = np.sort(np.random.default_rng(seed).choice(len(data), num_samples, replace=False))
        data = data.subset(index, f"{data.source}[{num_samples} of {len(data)}, seed {seed}]")
    return data.with_origin(data.kind, {**data.provenance, "role": "data",
                                        **({"num_samples": num_samples, "seed": seed} if num_samples else {})})


__all__ = ["load_source", "open_generator", "is_generator_spec", "probe_torch_file", "generator_from", "zip_members",
           "SourceOptions", "register_source", "DEFAULT_GENERATOR_SAMPLES"]
