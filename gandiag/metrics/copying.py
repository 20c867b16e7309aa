"""Memorization / data-copying score from nearest-neighbour distances.

A generator that copies its training set produces samples that sit closer to a
training image than fresh real data does. With ``d_gen`` the distance of each
generated sample to its nearest training image and ``d_test`` the same distance for
held-out real images (never seen in training), let ``tau`` be the ``q``-quantile
of ``d_test`` (default q = 5 %). A generator whose samples are as novel as real
data has about ``q`` of its samples below ``tau``; ``copy_fraction`` is the observed
share. We flag copying when it exceeds ``flag_factor * q`` (default 4x, i.e. 20 %).

This is the simple, explainable member of the family of tests in Meehan, Chaudhuri
and Dasgupta, "A Non-Parametric Test to Detect Data-Copying in Generative Models"
(AISTATS 2020), which uses the same two distance samples.
"""
from __future__ import annotations

from typing import Dict

import numpy as np

from ..errors import GandiagError


DEFAULT_QUANTILE = 0.05
DEFAULT_FLAG_FACTOR = 4.0


def copy_score(d_gen, d_test, *, quantile: float = DEFAULT_QUANTILE, flag_factor: float = DEFAULT_FLAG_FACTOR) -> Dict[str, object]:
    """Compare generated-to-train and test-to-train nearest-neighbour distances.

    Args:
        d_gen: (N,) distance of each generated sample to its nearest training image.
        d_test: (M,) distance of each held-out real image to its nearest training image.
        quantile: q, the share of held-out images called "unusually close" (0 < q < 0.5).
        flag_factor: flag copying when ``copy_fraction > flag_factor * q``.

    Returns:
        ``copy_fraction``, ``expected_fraction`` (= q), ``flag_factor``, ``threshold`` (tau), ``copying`` (bool),
        ``mean_distance`` / ``median_distance`` (generated), ``test_mean_distance`` /
        ``test_median_distance`` and ``median_ratio`` (generated / test; < 1 means closer
        to the training set than real held-out data is).
    """
    d_gen = np.asarray(d_gen, dtype=np.float64).ravel()
    d_test = np.asarray(d_test, dtype=np.float64).ravel()
    if d_gen.size == 0 or d_test.size < 20:
        raise GandiagError(
            f"copy_score: need generated distances and at least 20 held-out distances, got {d_gen.size} and "
            f"{d_test.size}; use a larger --heldout set"
        )
    if not (np.isfinite(d_gen).all() and np.isfinite(d_test).all()) or (d_gen < 0).any() or (d_test < 0).any():
        raise GandiagError("copy_score: distances must be finite and non-negative")
    if not 0.0 < quantile < 0.5:
        raise GandiagError(f"copy_score(quantile): must be in (0, 0.5), got {quantile}")
    tau = float(np.quantile(d_test, quantile))
    fraction = float(np.mean(d_gen < tau)) if tau > 0 else float(np.mean(d_gen <= 0))
    test_median = float(np.median(d_test))
    return {
        "copy_fraction": fraction,
        "expected_fraction": float(quantile),
        "flag_factor": float(flag_factor),
        "threshold": tau,
        "copying": bool(fraction > flag_factor * quantile),
        "mean_distance": float(d_gen.mean()),
        "median_distance": float(np.median(d_gen)),
        "test_mean_distance": float(d_test.mean()),
        "test_median_distance": test_median,
        "median_ratio": float(np.median(d_gen) / test_median) if test_median > 0 else None,
    }


__all__ = ["copy_score", "DEFAULT_QUANTILE", "DEFAULT_FLAG_FACTOR"]
