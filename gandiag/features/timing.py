"""Timed extraction: throughput, latency percentiles, peak memory, and what speed costs.

:func:`time_extraction` runs an extractor over a set of canonical images and
reports

* ``images_per_s``: images / total timed seconds (warm-up batches excluded);
* per-batch latency percentiles ``p50`` / ``p90`` / ``p99`` in milliseconds, each
  batch's full path (host-to-device copy, resize, forward, copy back);
* peak memory: on CUDA ``torch.cuda.max_memory_allocated`` (reset before the run);
  on CPU the process's peak resident set size sampled after every batch
  (``/proc/self/statm``; ``ru_maxrss`` elsewhere);
* device, dtype, batch size and the execution options;
* for ``amp`` / ``channels_last`` / ``compile``: the max and mean absolute deviation
  of the features from a plain float32 run on the same images (and the max
  relative to the features' scale), so a speed-up is chosen knowing its price.

On CUDA, batches are timed with CUDA events after ``warmup`` untimed batches and a
``torch.cuda.synchronize()``, so asynchronous launches are not mistaken for speed.
"""
from __future__ import annotations

import os
import resource
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional

import numpy as np

from ..errors import GandiagError
from .base import Extractor


@dataclass
class TimingReport:
    """Result of :func:`time_extraction` (all times in milliseconds, memory in bytes)."""

    extractor: str
    device: str
    dtype: str
    batch_size: int
    num_images: int
    timed_batches: int
    warmup_batches: int
    images_per_s: float
    latency_ms: Dict[str, float]
    peak_memory_bytes: int
    peak_memory_kind: str
    execution: Dict[str, object]
    deviation_vs_fp32: Optional[Dict[str, float]] = None
    provenance: Dict[str, object] = field(default_factory=dict)
    # The extracted arrays when keep_outputs=True (not part of as_dict()).
    outputs: Optional[Dict[str, np.ndarray]] = field(default=None, repr=False)

    def as_dict(self) -> Dict[str, object]:
        out = asdict(self)
        out.pop("outputs")
        return out

    def summary(self) -> str:
        """One human-readable paragraph (printed by ``gandiag extract --timed``)."""
        lat = self.latency_ms
        mem = self.peak_memory_bytes / 2 ** 20
        text = (f"{self.extractor} on {self.device} ({self.dtype}, batch {self.batch_size}, "
                f"channels_last={self.execution['channels_last']}, compile={self.execution['compile']}): "
                f"{self.images_per_s:.1f} images/s over {self.num_images} images; batch latency "
                f"p50 {lat['p50']:.1f} ms, p90 {lat['p90']:.1f} ms, p99 {lat['p99']:.1f} ms; "
                f"peak memory {mem:.0f} MiB ({self.peak_memory_kind})")
        if self.deviation_vs_fp32 is not None:
            d = self.deviation_vs_fp32
            text += (f"; features vs float32: max |diff| {d['max_abs']:.3g}, mean |diff| {d['mean_abs']:.3g}, "
                     f"max |diff| / max |feature| {d['max_rel']:.3g}")
        return text


def _rss_bytes() -> int:
    """Current resident set size (Linux /proc), else the peak from getrusage."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def percentiles(latencies_ms: List[float]) -> Dict[str, float]:
    """p50 / p90 / p99 / mean / min / max of per-batch latencies (linear interpolation)."""
    arr = np.asarray(latencies_ms, dtype=np.float64)
    return {"p50": float(np.percentile(arr, 50)), "p90": float(np.percentile(arr, 90)),
            "p99": float(np.percentile(arr, 99)), "mean": float(arr.mean()),
            "min": float(arr.min()), "max": float(arr.max())}


def feature_deviation(reference: np.ndarray, other: np.ndarray) -> Dict[str, float]:
    """``max_abs``, ``mean_abs`` of ``other - reference`` and ``max_rel`` = max_abs / max |reference|."""
    diff = np.abs(other.astype(np.float64) - reference.astype(np.float64))
    scale = float(np.abs(reference).max()) or 1.0
    return {"max_abs": float(diff.max()), "mean_abs": float(diff.mean()), "max_rel": float(diff.max() / scale)}


def time_extraction(
    extractor: Extractor,
    images,
    *,
    batch_size: Optional[int] = None,
    warmup: int = 1,
    compare_fp32: bool = True,
    outputs=("features",),
    keep_outputs: bool = False,
) -> TimingReport:
    """Time ``extractor`` on ``images`` (canonical) with its current execution options.

    Args:
        extractor: a built extractor; configure ``channels_last`` / ``amp`` / ``compile``
            with :meth:`Extractor.configure` (or ``get_extractor(..., amp="bf16")``) first.
        images: canonical float32 ``(N, C, H, W)``; the first ``warmup`` batches are run
            untimed (``torch.compile`` and cuDNN autotuning happen there) and then the
            whole set is timed.
        batch_size: images per batch (default the extractor's).
        warmup: untimed batches before timing (>= 1 recommended, more with ``compile``).
        compare_fp32: when any execution option is on, also run a plain float32 pass
            (untimed) and report the feature deviation (of the first of ``outputs``).
        outputs: what to extract, as in :meth:`Extractor.extract`.
        keep_outputs: keep the extracted arrays in ``report.outputs``.

    Returns:
        :class:`TimingReport`.
    """
    import torch

    images = extractor.check_images(images)
    outputs = extractor.check_outputs(outputs)
    batch_size = extractor.default_batch_size if batch_size is None else int(batch_size)
    if batch_size <= 0 or warmup < 0:
        raise GandiagError(f"batch_size must be positive and warmup >= 0, got {batch_size} and {warmup}")
    device = torch.device(extractor.device)
    cuda = device.type == "cuda"
    batches = [images[s:s + batch_size] for s in range(0, len(images), batch_size)]
    for i in range(warmup):
        extractor.extract_batch(batches[i % len(batches)], outputs)
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    peak_rss = _rss_bytes()
    latencies: List[float] = []
    parts: Dict[str, List[np.ndarray]] = {k: [] for k in outputs}
    total_start = time.perf_counter()
    for i, batch in enumerate(batches):
        if cuda:
            start_evt = torch.cuda.Event(enable_timing=True)
            end_evt = torch.cuda.Event(enable_timing=True)
            start_evt.record()
            out = extractor.extract_batch(batch, outputs, offset=i * batch_size)
            end_evt.record()
            torch.cuda.synchronize(device)
            latencies.append(start_evt.elapsed_time(end_evt))
        else:
            t0 = time.perf_counter()
            out = extractor.extract_batch(batch, outputs, offset=i * batch_size)
            latencies.append((time.perf_counter() - t0) * 1e3)
            peak_rss = max(peak_rss, _rss_bytes())
        for k in outputs:
            parts[k].append(out[k])
    if cuda:
        torch.cuda.synchronize(device)
    total = time.perf_counter() - total_start
    if cuda:
        peak, kind = int(torch.cuda.max_memory_allocated(device)), "cuda max_memory_allocated"
    else:
        peak, kind = int(peak_rss), "process peak RSS (sampled per batch)"
    execution = extractor.execution()
    deviation = None
    if compare_fp32 and (execution["amp"] or execution["channels_last"] or execution["compile"]):
        deviation = _deviation_vs_fp32(extractor, batches, outputs, np.concatenate(parts[outputs[0]]))
    prov = extractor.provenance()
    return TimingReport(
        extractor=extractor.name, device=str(device), dtype=str(prov["dtype"]), batch_size=batch_size,
        num_images=len(images), timed_batches=len(batches), warmup_batches=warmup,
        images_per_s=len(images) / total if total > 0 else float("inf"), latency_ms=percentiles(latencies),
        peak_memory_bytes=peak, peak_memory_kind=kind, execution=execution, deviation_vs_fp32=deviation,
        provenance=prov, outputs={k: np.concatenate(v) for k, v in parts.items()} if keep_outputs else None,
    )


def _deviation_vs_fp32(extractor: Extractor, batches, outputs, fast: np.ndarray) -> Dict[str, float]:
    saved = extractor.execution()
    try:
        extractor.configure(channels_last=False, amp=None, compile=False)
        ref = np.concatenate([extractor.extract_batch(b, outputs)[outputs[0]] for b in batches])
    finally:
        extractor.configure(channels_last=saved["channels_last"], amp=saved["amp"], compile=saved["compile"])
    return feature_deviation(ref, fast)
