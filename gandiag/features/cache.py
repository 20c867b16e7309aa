"""Content-addressed cache of reference features and statistics.

Reference sets (the real data of FID, KID, PRDC) are re-used across every
evaluation; extracting 50k InceptionV3 features each time wastes minutes. Cached
files are keyed by *what determines the numbers*::

    key = sha256(json({"format": 1, "kind": "features" | "stats",
                       "data": ImageSet.content_hash(),          # sha256 of image bytes + shape
                       "extractor": extractor.cache_identity()})) # name, weights sha256, protocol, dtype

and stored under ``$GANDIAG_CACHE`` (default ``~/.cache/gandiag``) as
``features/<extractor>-<key[:24]>.npz`` or ``stats/<extractor>-<key[:24]>.npz``.
Each file stores its full key and is written atomically (:mod:`gandiag.fileio`).
On read, the stored key, the array names, shapes and finiteness are verified; a
corrupt, truncated or mismatched file is **never used**: a warning names it and
it is rebuilt. No pickles: ``np.load(allow_pickle=False)``.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np

from ..errors import GandiagError
from ..fileio import atomic_save_npz
from .base import Extractor, extract_stats

FORMAT = 1
ENV_VAR = "GANDIAG_CACHE"


class CacheWarning(UserWarning):
    """A cache file was unusable (corrupt or mismatched) and is being rebuilt."""


def default_cache_dir() -> Path:
    """``$GANDIAG_CACHE`` if set, else ``~/.cache/gandiag``."""
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "gandiag"


def _as_imageset(images):
    from ..data import ImageSet

    if isinstance(images, ImageSet):
        return images
    if isinstance(images, np.ndarray):
        return ImageSet(images, None, "array")
    raise GandiagError(
        f"cache: expected an ImageSet or canonical array, got {type(images).__name__}; "
        "load images with gandiag.sources.load_source or gandiag.data.load_images"
    )


def cache_key(imageset, extractor: Extractor, kind: str) -> str:
    """The sha256 key described in the module doc."""
    payload = {"format": FORMAT, "kind": kind, "data": imageset.content_hash(),
               "extractor": extractor.cache_identity()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def cache_path(cache_dir, extractor: Extractor, kind: str, key: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", extractor.name)[:60]
    return Path(cache_dir) / kind / f"{safe}-{key[:24]}.npz"


def _read(path: Path, key: str, required: Dict[str, tuple]) -> Optional[Dict[str, np.ndarray]]:
    """Return the verified arrays of ``path``, or ``None`` (with a CacheWarning) if unusable.

    ``required`` maps array name -> expected shape, ``-1`` meaning any size.
    """
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        stored = str(arrays.pop("cache_key", np.asarray("")))
        if stored != key:
            raise ValueError(f"stored key {stored[:16]}... does not match {key[:16]}...")
        for name, shape in required.items():
            if name not in arrays:
                raise ValueError(f"array {name!r} missing")
            got = arrays[name].shape
            if len(got) != len(shape) or any(s != -1 and s != g for s, g in zip(shape, got)):
                raise ValueError(f"array {name!r} has shape {got}, expected {shape}")
            if arrays[name].dtype.kind == "f" and not np.isfinite(arrays[name]).all():
                raise ValueError(f"array {name!r} contains NaN or Inf")
    except Exception as exc:  # zip/npz errors, truncation, bad keys: all mean "rebuild"
        warnings.warn(f"ignoring unusable cache file {path} ({type(exc).__name__}: {exc}); rebuilding it",
                      CacheWarning, stacklevel=3)
        return None
    return arrays


def cached_features(
    images,
    extractor: Extractor,
    outputs: Optional[Sequence[str]] = None,
    cache_dir=None,
    *,
    batch_size: Optional[int] = None,
    progress: bool = False,
    refresh: bool = False,
) -> Dict[str, np.ndarray]:
    """Features (and logits) of ``images``, from the cache when valid, else extracted and cached.

    Args:
        images: :class:`~gandiag.data.ImageSet` (or canonical array; hashed either way).
        extractor: a built :class:`~gandiag.features.base.Extractor`.
        outputs: subset of ``("features", "logits")``; default: both when the
            extractor has logits. All available outputs are cached together.
        cache_dir: default :func:`default_cache_dir`.
        refresh: ignore an existing file and rebuild it.

    Returns:
        dict of float32 arrays, as :meth:`Extractor.extract`.
    """
    imageset = _as_imageset(images)
    available = ("features", "logits") if extractor.num_classes is not None else ("features",)
    outputs = extractor.check_outputs(available if outputs is None else outputs)
    key = cache_key(imageset, extractor, "features")
    path = cache_path(cache_dir or default_cache_dir(), extractor, "features", key)
    n = len(imageset)
    arrays = None if refresh else _read(path, key, {k: (n, -1) for k in available})
    if arrays is None:
        arrays = extractor.extract(imageset.images, batch_size=batch_size, outputs=available, progress=progress)
        atomic_save_npz(path, {**arrays, "cache_key": np.asarray(key),
                               "provenance": np.asarray(json.dumps(extractor.provenance(), sort_keys=True)),
                               "source": np.asarray(imageset.source)})
    return {k: np.asarray(arrays[k], dtype=np.float32) for k in outputs}


def cached_stats(
    images,
    extractor: Extractor,
    cache_dir=None,
    *,
    batch_size: Optional[int] = None,
    progress: bool = False,
    refresh: bool = False,
):
    """Float64 :class:`~gandiag.metrics.FeatureStats` of ``images``' features, cached like :func:`cached_features`."""
    from ..metrics import FeatureStats

    imageset = _as_imageset(images)
    key = cache_key(imageset, extractor, "stats")
    path = cache_path(cache_dir or default_cache_dir(), extractor, "stats", key)
    dim = extractor.feature_dim if extractor.feature_dim is not None else -1
    arrays = None if refresh else _read(path, key, {"count": (), "mean": (dim,), "m2": (dim, dim)})
    if arrays is not None:
        try:
            stats = FeatureStats.from_arrays(arrays)
            if stats.count == len(imageset):
                return stats
            warnings.warn(f"ignoring cache file {path}: it counts {stats.count} rows, the data has "
                          f"{len(imageset)}; rebuilding it", CacheWarning, stacklevel=2)
        except GandiagError as exc:
            warnings.warn(f"ignoring unusable cache file {path} ({exc}); rebuilding it", CacheWarning, stacklevel=2)
    stats = extract_stats(extractor, imageset.images, batch_size=batch_size, progress=progress)
    atomic_save_npz(path, {**stats.to_arrays(), "cache_key": np.asarray(key),
                           "provenance": np.asarray(json.dumps(extractor.provenance(), sort_keys=True)),
                           "source": np.asarray(imageset.source)})
    return stats
