"""The common :class:`Extractor` interface: canonical images in, feature arrays out.

Every extractor (InceptionV3-FID, the MNIST classifier, raw pixels, a user's own
network) takes **canonical images** (:mod:`gandiag.images`: ``float32`` NCHW in
``[0, 1]``, ``C`` in ``{1, 3}``) and returns a dict of ``float32`` arrays:

* ``"features"``: ``(N, D)`` embedding used by FID, KID, PRDC and nearest neighbours;
* ``"logits"``: ``(N, K)`` class scores (Inception Score, mode counting), only when
  ``num_classes`` is not ``None``.

Channel conversion (grayscale -> RGB) and resizing happen *inside* the extractor,
as part of its named protocol, so the caller never preprocesses by hand and two
numbers computed with different protocols are never mixed silently: the protocol
is part of :meth:`Extractor.provenance` and of every cache key.

Execution options (``channels_last``, ``amp`` and ``compile``) change speed and,
slightly, the numbers; :mod:`gandiag.features.timing` measures both.
"""
from __future__ import annotations

import contextlib
from typing import Dict, Iterable, Optional, Sequence, Tuple

import numpy as np

from ..errors import GandiagError

OUTPUTS = ("features", "logits")
AMP_DTYPES = ("bf16", "fp16")


def _torch():
    import torch

    return torch


def as_canonical_batch(images, name: str) -> np.ndarray:
    """Return ``images`` as a canonical array, or raise a GandiagError that says why not.

    Accepts a canonical ``numpy`` array or an :class:`~gandiag.data.ImageSet`. Anything
    else (tensors, uint8, NHWC) is refused with the conversion to use, because guessing
    a value range here would silently change the numbers.
    """
    if hasattr(images, "images") and hasattr(images, "content_hash"):
        images = images.images
    if not isinstance(images, np.ndarray):
        raise GandiagError(
            f"{name}: expected canonical images (numpy float32 (N, C, H, W) in [0, 1]), got "
            f"{type(images).__name__}; convert with gandiag.images.to_canonical(x, value_range=...)"
        )
    if images.dtype != np.float32 or images.ndim != 4:
        raise GandiagError(
            f"{name}: expected canonical float32 (N, C, H, W) images, got {images.dtype} array of shape "
            f"{images.shape}; convert with gandiag.images.to_canonical(x, value_range=...)"
        )
    if images.shape[0] == 0:
        raise GandiagError(f"{name}: got no images (shape {images.shape})")
    return images


def check_batch_values(batch: np.ndarray, name: str, offset: int = 0) -> None:
    """NaN/Inf or values outside ``[0, 1]`` are errors: they would poison every statistic."""
    finite = np.isfinite(batch)
    if not finite.all():
        rows = np.flatnonzero(~finite.reshape(len(batch), -1).all(axis=1)) + offset
        shown = ", ".join(str(r) for r in rows[:5]) + (" ..." if len(rows) > 5 else "")
        raise GandiagError(
            f"{name}: {len(rows)} image(s) contain NaN or Inf values (rows {shown}); a diverged "
            "generator produces these: check its output before extracting features"
        )
    lo, hi = float(batch.min()), float(batch.max())
    if lo < 0.0 or hi > 1.0:
        raise GandiagError(
            f"{name}: values span [{lo:.4g}, {hi:.4g}] but canonical images are in [0, 1]; convert with "
            "gandiag.images.to_canonical(x, value_range='-1,1') (or '0,255')"
        )


class Extractor:
    """Base class of every feature extractor.

    Subclasses set the attributes below in ``__init__`` and implement
    :meth:`_check_shape`, :meth:`_prepare` and the :attr:`network` module whose
    ``forward(x)`` returns ``(features, logits_or_None)``.

    Attributes:
        name: registry name (``"inception-v3-fid"``, ...).
        feature_dim: ``D`` of ``"features"``; ``None`` until known for extractors
            whose size depends on the input (``pixels``, user modules).
        num_classes: ``K`` of ``"logits"``, or ``None`` when there are no logits.
        device: torch device string the network runs on.
        protocol: name of the input transform (resize / normalisation); part of the
            provenance and of cache keys.
    """

    name: str = "extractor"
    feature_dim: Optional[int] = None
    num_classes: Optional[int] = None
    protocol: str = "none"
    default_batch_size: int = 64

    #: Largest number of images one CPU forward pass runs (None: no limit). A data batch
    #: (``--batch-size``, a generator's batch) above it is run in slices of this size, so
    #: activation memory is bounded by the network, not by the batch: InceptionV3 at
    #: 299 x 299 holds ~10 MB of activations per image (measured: batch 250 peaked 3.4 GiB).
    max_forward_batch: Optional[int] = None

    def __init__(self, device: str = "cpu"):
        self.device = str(device)
        self.channels_last = False
        self.amp: Optional[str] = None
        self.compiled = False
        self.network = None  # set by subclasses: nn.Module -> (features, logits | None)
        self._runnable = None
        self._compiled_network = None

    # ------------------------------------------------------------------ configuration
    def configure(self, *, channels_last: Optional[bool] = None, amp: Optional[str] = None, compile: bool = False):
        """Set execution options; returns ``self``.

        Args:
            channels_last: run the network on NHWC memory layout (faster convolutions on
                recent GPUs and with oneDNN on CPU); ``None`` keeps the current setting
                (the extractor's default, e.g. on for ``inception-v3-fid``).
            amp: ``None`` (float32), ``"bf16"`` or ``"fp16"`` autocast. Changes the
                features slightly; :func:`gandiag.features.timing.time_extraction`
                reports the deviation from float32.
            compile: wrap the network in ``torch.compile`` (first batch is slow).
        """
        if amp is not None and amp not in AMP_DTYPES:
            raise GandiagError(f"amp must be one of {AMP_DTYPES} or None, got {amp!r}")
        torch = _torch()
        if channels_last is not None:
            self.channels_last = bool(channels_last)
        self.amp = amp
        self.compiled = bool(compile)
        if self.network is not None:
            fmt = torch.channels_last if self.channels_last else torch.contiguous_format
            self.network.to(memory_format=fmt)
            if self.compiled and self._compiled_network is None:
                # Compiled once and kept: timing toggles options and must not re-trace each time.
                self._compiled_network = torch.compile(self.network)
            self._runnable = self._compiled_network if self.compiled else self.network
        return self

    def execution(self) -> Dict[str, object]:
        """The execution options in effect (recorded by timing reports)."""
        return {"channels_last": self.channels_last, "amp": self.amp, "compile": self.compiled}

    # ------------------------------------------------------------------ provenance
    def weights_info(self) -> Dict[str, Optional[str]]:
        """``{"path": ..., "sha256": ...}`` of the weights in use (``None`` when weightless)."""
        return {"path": None, "sha256": None}

    def provenance(self) -> Dict[str, object]:
        """What produced the numbers: name, weights path + sha256, protocol, dtype, dims.

        Every results file and cache key records this dict, so numbers from different
        networks, weights or resize protocols are never compared by accident.
        """
        info = self.weights_info()
        return {
            "name": self.name,
            "weights_path": info["path"],
            "weights_sha256": info["sha256"],
            "protocol": self.protocol,
            "dtype": {None: "float32", "bf16": "bfloat16 autocast", "fp16": "float16 autocast"}[self.amp],
            "feature_dim": self.feature_dim,
            "num_classes": self.num_classes,
        }

    def cache_identity(self) -> Dict[str, object]:
        """The fields that decide whether cached features are still valid."""
        prov = self.provenance()
        return {k: prov[k] for k in ("name", "weights_sha256", "protocol", "dtype")}

    # ------------------------------------------------------------------ per-subclass hooks
    def _check_shape(self, shape: Tuple[int, ...]) -> None:
        """Raise GandiagError when ``(N, C, H, W)`` cannot be fed to this extractor."""

    def _prepare(self, x):
        """Canonical tensor on ``self.device`` -> network input (resize, normalise)."""
        return x

    # ------------------------------------------------------------------ extraction
    def check_outputs(self, outputs: Iterable[str]) -> Tuple[str, ...]:
        if isinstance(outputs, str):
            outputs = (outputs,)
        outputs = tuple(outputs)
        if not outputs:
            raise GandiagError(f"{self.name}: outputs is empty; ask for 'features' and/or 'logits'")
        for out in outputs:
            if out not in OUTPUTS:
                raise GandiagError(f"{self.name}: unknown output {out!r}; valid values are: {', '.join(OUTPUTS)}")
        if "logits" in outputs and self.num_classes is None:
            raise GandiagError(
                f"{self.name}: this extractor has no logits (num_classes is None); ask for outputs=('features',)"
            )
        return outputs

    def check_images(self, images, name: Optional[str] = None) -> np.ndarray:
        """Validate type and shape (values are checked batch by batch during extraction)."""
        name = name or f"{self.name} input"
        images = as_canonical_batch(images, name)
        if images.shape[1] not in (1, 3):
            raise GandiagError(
                f"{name}: expected 1 (grayscale) or 3 (RGB) channels, got {images.shape[1]} in shape "
                f"{images.shape}" + (" (RGBA: drop the alpha channel first)" if images.shape[1] == 4 else "")
            )
        self._check_shape(images.shape)
        return images

    def _autocast(self):
        torch = _torch()
        if self.amp is None:
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.amp == "bf16" else torch.float16
        return torch.autocast(device_type=torch.device(self.device).type, dtype=dtype)

    def forward_tensor(self, x) -> Dict[str, "object"]:
        """Run one batch already on ``self.device`` (canonical float32 tensor) -> dict of tensors."""
        torch = _torch()
        net_in = self._prepare(x)
        if self.channels_last and net_in.ndim == 4:
            net_in = net_in.contiguous(memory_format=torch.channels_last)
        runnable = self._runnable if self._runnable is not None else self.network
        with self._autocast():
            features, logits = runnable(net_in)
        out = {"features": features.float().reshape(features.shape[0], -1)}
        if logits is not None:
            out["logits"] = logits.float().reshape(logits.shape[0], -1)
        return out

    def extract_batch(self, batch: np.ndarray, outputs: Sequence[str] = ("features",), *, offset: int = 0,
                      name: Optional[str] = None) -> Dict[str, np.ndarray]:
        """Extract one batch of canonical images (values checked here) -> dict of float32 arrays."""
        torch = _torch()
        check_batch_values(batch, name or f"{self.name} input", offset)
        limit = self.max_forward_batch if torch.device(self.device).type == "cpu" else None
        step = len(batch) if not limit or len(batch) <= limit else int(limit)
        parts: Dict[str, list] = {k: [] for k in outputs}
        with torch.inference_mode():
            for lo in range(0, len(batch), max(step, 1)):
                chunk = batch[lo:lo + step]
                # torch refuses read-only arrays (the embedded data set is read-only): copy those.
                host = chunk if chunk.flags.writeable and chunk.flags.c_contiguous else np.array(chunk)
                x = torch.from_numpy(host).to(self.device, non_blocking=True)
                result = self.forward_tensor(x)
                missing = [k for k in outputs if k not in result]
                if missing:
                    raise GandiagError(f"{self.name}: the network returned no {missing[0]!r}; return "
                                       "(features, logits) or a dict with those keys")
                for k in outputs:
                    parts[k].append(result[k].cpu().numpy())
        arrays = {k: v[0] if len(v) == 1 else np.concatenate(v) for k, v in parts.items()}
        if self.feature_dim is None and "features" in arrays:
            self.feature_dim = int(arrays["features"].shape[1])
        return arrays

    def extract(
        self,
        images,
        *,
        batch_size: Optional[int] = None,
        outputs: Sequence[str] = ("features",),
        progress: bool = False,
    ) -> Dict[str, np.ndarray]:
        """Extract features (and logits) of canonical images.

        Args:
            images: canonical ``float32`` array ``(N, C, H, W)`` in ``[0, 1]`` or an
                :class:`~gandiag.data.ImageSet`.
            batch_size: images per forward pass (default :attr:`default_batch_size`);
                results do not depend on it beyond float rounding.
            outputs: any of ``"features"``, ``"logits"``.
            progress: show a tqdm bar.

        Returns:
            ``{"features": (N, D) float32, "logits": (N, K) float32}`` restricted to ``outputs``.

        Raises:
            GandiagError: wrong type, channel count or size; NaN/Inf or out-of-range
                values; logits asked of an extractor without them.
        """
        outputs = self.check_outputs(outputs)
        images = self.check_images(images)
        batch_size = self.default_batch_size if batch_size is None else int(batch_size)
        if batch_size <= 0:
            raise GandiagError(f"batch_size must be a positive integer, got {batch_size}")
        n = len(images)
        starts = range(0, n, batch_size)
        if progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, total=(n + batch_size - 1) // batch_size, desc=f"{self.name}", unit="batch")
        parts: Dict[str, list] = {k: [] for k in outputs}
        for start in starts:
            arrays = self.extract_batch(images[start:start + batch_size], outputs, offset=start)
            for k in outputs:
                parts[k].append(arrays[k])
        return {k: np.concatenate(v, axis=0).astype(np.float32, copy=False) for k, v in parts.items()}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, protocol={self.protocol!r}, device={self.device!r})"


def extract_stats(extractor: Extractor, images, *, batch_size: Optional[int] = None, progress: bool = False,
                  output: str = "features"):
    """Stream ``images`` through ``extractor`` into a float64 :class:`~gandiag.metrics.FeatureStats`.

    Only one batch of features is in memory at a time, so reference statistics of
    50k+ images need no (N, D) array. Equal (to float64 rounding) to
    ``FeatureStats.from_features(extractor.extract(images)[output])``.
    """
    from ..metrics import FeatureStats

    outputs = extractor.check_outputs((output,))
    images = extractor.check_images(images)
    batch_size = extractor.default_batch_size if batch_size is None else int(batch_size)
    if batch_size <= 0:
        raise GandiagError(f"batch_size must be a positive integer, got {batch_size}")
    starts = range(0, len(images), batch_size)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, total=(len(images) + batch_size - 1) // batch_size, desc=extractor.name, unit="batch")
    stats = None
    for start in starts:
        feats = extractor.extract_batch(images[start:start + batch_size], outputs, offset=start)[output]
        if stats is None:
            stats = FeatureStats(feats.shape[1])
        stats.update(feats)
    return stats
