"""Checkpoints and generator state files: writing (atomic), reading (checked), rebuilding G.

Contract read by ``gandiag`` (keep it exactly):

* A **checkpoint** (``runs/x/checkpoints/step_XXXXXXX.pt`` and ``last.pt``) loads with
  ``torch.load(path, weights_only=True)`` (tensors, dicts, lists, numbers, strings only) and
  holds ``format = "gandiag-reference-checkpoint/1"``, ``config`` (json-able dict of
  :class:`~reference_models.config.TrainConfig`), ``step`` (generator updates done),
  ``generator`` / ``discriminator`` state dicts, ``g_optimizer`` / ``d_optimizer`` state
  dicts, ``rng`` (RNG states as uint8 tensors), ``data_batches`` (real batches consumed)
  and ``meta`` (below).
* A **generator state file** (``export/generator_state.pt``) holds
  ``format = "gandiag-reference-generator/1"``, ``config``, ``generator``, ``meta``.
* ``meta`` = ``{"z_dim", "prior" ("normal"|"uniform"), "output_range" [lo, hi],
  "num_classes" (int or None), "image_shape" [C, H, W], "model", "step"}``.
"""
from __future__ import annotations

import io
import os
import zipfile
import pickle
from pathlib import Path
from typing import Any, Dict, Tuple, Union

import torch
from torch import nn

from gandiag.errors import GandiagError
from gandiag.fileio import atomic_write_bytes

from .config import TrainConfig, from_dict
from .nets import build_generator, output_range

CHECKPOINT_FORMAT = "gandiag-reference-checkpoint/1"
GENERATOR_FORMAT = "gandiag-reference-generator/1"
FORMATS = (CHECKPOINT_FORMAT, GENERATOR_FORMAT)
PathLike = Union[str, os.PathLike]


def generator_meta(config: TrainConfig, step: int) -> Dict[str, Any]:
    """The calling-convention facts a consumer of the generator needs (see module doc)."""
    value_range = output_range(config)  # None for 2-D toy points
    return {
        "z_dim": config.z_dim,
        "prior": config.prior,
        "output_range": list(value_range) if value_range is not None else None,
        "num_classes": config.num_classes,
        "image_shape": list(config.image_shape),
        "model": config.model_name,
        "step": int(step),
    }


def save_torch_atomic(obj: Any, path: PathLike) -> Path:
    """``torch.save`` to memory, then an atomic write (no half-written checkpoint on a crash)."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return atomic_write_bytes(path, buffer.getvalue())


def read_checked(path: PathLike, what: str = "checkpoint") -> Dict[str, Any]:
    """``torch.load(weights_only=True)`` with clear errors for missing, corrupt or foreign files.

    Raises:
        GandiagError: the file does not exist, cannot be unpickled safely (corrupt, truncated,
            or holding custom classes), or is not a gandiag reference checkpoint/generator file.
    """
    path = Path(path)
    if path.is_dir():
        candidate = path / "checkpoints" / "last.pt"
        if not candidate.is_file():
            raise GandiagError(f"{what} {path}: a folder without checkpoints/last.pt; pass a run folder or a .pt file")
        path = candidate
    if not path.is_file():
        raise GandiagError(f"{what} not found: {path}; pass a run folder, checkpoints/*.pt or export/generator_state.pt")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError, OSError, ValueError) as exc:
        lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()] or [type(exc).__name__]
        unsafe = [ln for ln in lines if "Unsupported global" in ln]
        if unsafe:  # a real pickle with classes beyond tensors/containers (corrupt bytes fail otherwise)
            detail = unsafe[0][unsafe[0].index("Unsupported global"):]
            raise GandiagError(
                f"{what} {path} holds objects that weights_only loading refuses ({detail[:200]}); "
                "it was not written by reference_models, and loading it fully could run arbitrary code"
            ) from None
        raise GandiagError(
            f"{what} {path} cannot be read: it is corrupt, truncated or not a torch file ({lines[0][:160]})"
        ) from None
    if not isinstance(obj, dict) or obj.get("format") not in FORMATS:
        found = obj.get("format") if isinstance(obj, dict) else type(obj).__name__
        raise GandiagError(
            f"{what} {path} is not a gandiag reference checkpoint (format {found!r}, expected one of "
            f"{', '.join(FORMATS)}); write one with python -m reference_models.train or .export"
        )
    for key in ("config", "generator"):
        if key not in obj:
            raise GandiagError(f"{what} {path} is damaged: the '{key}' entry is missing")
    return obj


def config_of(obj: Dict[str, Any], path: PathLike = "") -> TrainConfig:
    try:
        return from_dict(obj["config"])
    except GandiagError as exc:
        raise GandiagError(f"{path}: stored config is not valid for this version of reference_models: {exc}") from None


def load_generator(path: PathLike) -> Tuple[nn.Module, Dict[str, Any]]:
    """Rebuild the generator of a checkpoint, run folder or ``generator_state.pt``.

    Args:
        path: ``runs/x`` (uses ``checkpoints/last.pt``), any checkpoint ``.pt`` or an
            exported ``generator_state.pt``.

    Returns:
        ``(generator in eval mode on CPU, meta)``; call ``G(z)`` (or ``G(z, y)`` when
        ``meta["num_classes"]`` is set) with ``z`` float32 ``(B, meta["z_dim"])`` from
        ``meta["prior"]``; the output is ``(B, *meta["image_shape"])`` in ``meta["output_range"]``.

    Raises:
        GandiagError: see :func:`read_checked`; also when the weights do not fit the config.
    """
    obj = read_checked(path, "generator checkpoint")
    config = config_of(obj, path)
    generator = build_generator(config)
    try:
        generator.load_state_dict(obj["generator"])
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise GandiagError(f"{path}: generator weights do not match its config ({str(exc).splitlines()[0]})") from None
    generator.eval()
    meta = dict(obj.get("meta") or generator_meta(config, int(obj.get("step", 0))))
    return generator, meta


# ------------------------------------------------------------------------------ gandiag source kind
def _recognise_checkpoint(spec: str) -> bool:
    """A run folder (``checkpoints/last.pt``) or a ``torch.save`` file in one of :data:`FORMATS`."""
    from gandiag.sources import probe_torch_file

    path = Path(spec)
    if path.is_dir():
        return (path / "checkpoints" / "last.pt").is_file()
    probe = probe_torch_file(path)
    return bool(probe) and probe["status"] == "weights" and probe.get("format") in FORMATS


def _open_checkpoint(spec: str, options):
    from gandiag.sources import generator_from

    module, meta = load_generator(spec)
    return generator_from(module.to(options.device), meta, "checkpoint", str(spec), options)


def register_gandiag_source() -> None:
    """Register reference-trainer checkpoints with gandiag's source registry (idempotent).

    Called through the ``gandiag.sources`` entry point (pyproject.toml), so gandiag reads
    ``gandiag evaluate runs/x`` without importing this package itself.
    """
    from gandiag.data.kinds import SOURCES, register_source

    if "checkpoint" not in SOURCES:
        register_source("checkpoint", _recognise_checkpoint, open=_open_checkpoint,
                        description="a reference-trainer run folder or checkpoint (.pt, format "
                        f"{CHECKPOINT_FORMAT} or {GENERATOR_FORMAT})", example="runs/dcgan")
