"""Content-addressed cache of reference features and statistics.

Reference sets (the real data of FID, KID, PRDC) are re-used across every
evaluation; extracting 50k InceptionV3 features each time wastes minutes. Cached
files are keyed by *what determines the numbers*::

    key = sha256(json({"format": 2, "kind": "features" | "stats",
                       "data": ImageSet.content_hash(),          # sha256 of image bytes + shape
                       "extractor": extractor.cache_identity()})) # name, weights sha256, protocol, dtype

and stored under ``$GANDIAG_CACHE`` (default ``~/.cache/gandiag``) as
``features/<extractor>-<key[:24]>.npz`` or ``stats/<extractor>-<key[:24]>.npz``.
Each file stores its full key and is written atomically (:mod:`gandiag.fileio`).
On read, the stored key, the array names, shapes and finiteness are verified; a
corrupt, truncated or mismatched file is **never used**: a warning names it and
it is rebuilt. A sha256 of the arrays (``content_sha256``) is stored and checked too, so a
file with the right key but edited numbers is never used. An unusable cache folder (a file,
read-only) warns and the computation runs uncached. No pickles: ``np.load(allow_pickle=False)``.
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

FORMAT = 2  # 2: files carry content_sha256 of their arrays
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


def arrays_sha256(arrays: Dict[str, np.ndarray], names) -> str:
    """sha256 over the named arrays (name, dtype, shape, bytes): what a cache file's numbers are."""
    digest = hashlib.sha256()
    for name in sorted(names):
        a = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def _write(path: Path, arrays: Dict[str, np.ndarray], key: str, extractor: Extractor, imageset) -> None:
    """Write a cache file (arrays + key + content hash); an unwritable cache warns, never fails."""
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    try:
        atomic_save_npz(path, {**arrays, "cache_key": np.asarray(key),
                               "content_sha256": np.asarray(arrays_sha256(arrays, arrays)),
                               "provenance": np.asarray(json.dumps(extractor.provenance(), sort_keys=True)),
                               "source": np.asarray(imageset.source)})
    except OSError as exc:
        warnings.warn(f"cache folder unusable ({path.parent}: {exc.strerror or exc}); running uncached",
                      CacheWarning, stacklevel=3)


def _usable(cache_dir) -> Optional[Path]:
    """The cache folder, or None (with a CacheWarning) when it cannot be created or written."""
    from ..fileio import usable_cache_dir

    folder = Path(cache_dir or default_cache_dir()).expanduser()
    if usable_cache_dir(folder):
        return folder
    warnings.warn(f"cache folder {folder} is not a writable folder; running uncached (pass --cache-dir to a "
                  "writable folder, or set $GANDIAG_CACHE)", CacheWarning, stacklevel=3)
    return None


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
        digest = str(arrays.pop("content_sha256", np.asarray("")))
        if digest != arrays_sha256(arrays, required):
            raise ValueError("its arrays do not match their stored content hash (edited or corrupted)")
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
    folder = _usable(cache_dir)
    n = len(imageset)
    path = None if folder is None else cache_path(folder, extractor, "features", key)
    arrays = None if refresh or path is None else _read(path, key, {k: (n, -1) for k in available})
    if arrays is None:
        arrays = extractor.extract(imageset.images, batch_size=batch_size, outputs=available, progress=progress)
        if path is not None:
            _write(path, arrays, key, extractor, imageset)
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
    folder = _usable(cache_dir)
    path = None if folder is None else cache_path(folder, extractor, "stats", key)
    dim = extractor.feature_dim if extractor.feature_dim is not None else -1
    arrays = None if refresh or path is None else _read(path, key, {"count": (), "mean": (dim,), "m2": (dim, dim)})
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
    if path is not None:
        _write(path, stats.to_arrays(), key, extractor, imageset)
    return stats
