"""Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs").

KID is the unbiased estimator of the squared MMD with the polynomial kernel
``k(x, y) = (gamma * x.y + coef0) ** degree`` (gamma = 1/D by default), averaged
over random subsets::

    MMD^2_u = (sum_{i!=j} k(x_i,x_j) + sum_{i!=j} k(y_i,y_j)) / (m (m-1))
              - 2 / m^2 * sum_{i,j} k(x_i, y_j)

Subsets follow torch-fidelity's ``kid_features_to_metric`` draw for draw: one
``np.random.RandomState(seed)``; per subset, ``rng.choice(N_a, m, replace=False)``
then ``rng.choice(N_b, m, replace=False)``. Same seed -> same subsets -> same
numbers (torch-fidelity's default seed is 2020; gandiag's is 0).
KID can be slightly negative for near-identical distributions; that is valid.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from ..errors import GandiagError
from ._checks import as_matrix, check_int


def _kernel(x: np.ndarray, y: np.ndarray, degree: int, gamma: float, coef0: float) -> np.ndarray:
    k = x @ y.T
    k *= gamma
    k += coef0
    return k ** degree


def mmd2_unbiased(x: np.ndarray, y: np.ndarray, *, degree: int = 3, gamma: Optional[float] = None,
                  coef0: float = 1.0) -> float:
    """Unbiased polynomial-kernel MMD^2 between two equal-size (m, D) float64 samples."""
    m = x.shape[0]
    g = 1.0 / x.shape[1] if gamma is None else gamma
    k_xx = _kernel(x, x, degree, g, coef0)
    k_yy = _kernel(y, y, degree, g, coef0)
    k_xy = _kernel(x, y, degree, g, coef0)
    off_xx = k_xx.sum() - np.trace(k_xx)
    off_yy = k_yy.sum() - np.trace(k_yy)
    return float((off_xx + off_yy) / (m * (m - 1)) - 2.0 * k_xy.sum() / (m * m))


def kid(feats_a, feats_b, subsets: int = 100, subset_size: int = 1000, degree: int = 3,
        gamma: Optional[float] = None, coef0: float = 1.0, seed: int = 0) -> Tuple[float, float]:
    """Kernel Inception Distance: mean and std (ddof=0) of MMD^2_u over random subsets.

    Args:
        feats_a, feats_b: features (N_a, D), (N_b, D) (e.g. InceptionV3 pool3, D=2048).
        subsets: number of random subsets (torch-fidelity: 100).
        subset_size: rows per subset m, drawn without replacement (torch-fidelity: 1000).
        degree, gamma, coef0: polynomial kernel (gamma None -> 1/D).
        seed: subset draws, see module doc.

    Returns:
        (mean, std) of the per-subset MMD^2_u.
    """
    a = as_matrix(feats_a, "kid(feats_a)", min_rows=2)
    b = as_matrix(feats_b, "kid(feats_b)", min_rows=2, dim=a.shape[1])
    subsets = check_int(subsets, "kid(subsets)", minimum=1)
    subset_size = check_int(subset_size, "kid(subset_size)", minimum=2)
    degree = check_int(degree, "kid(degree)", minimum=1)
    seed = check_int(seed, "kid(seed)", minimum=0)
    if gamma is not None and not (np.isfinite(gamma) and gamma > 0):
        raise GandiagError(f"kid(gamma): must be a positive number or None (1/D), got {gamma!r}")
    if not np.isfinite(coef0):
        raise GandiagError(f"kid(coef0): must be finite, got {coef0!r}")
    n_a, n_b = a.shape[0], b.shape[0]
    if subset_size > min(n_a, n_b):
        raise GandiagError(f"kid(subset_size): {subset_size} is larger than the number of samples "
                           f"(feats_a: {n_a}, feats_b: {n_b}); lower it to at most {min(n_a, n_b)} "
                           "(CLI: --kid-subset-size) or provide more samples")
    rng = np.random.RandomState(seed)
    mmds = np.empty(subsets, dtype=np.float64)
    for i in range(subsets):
        x = a[rng.choice(n_a, subset_size, replace=False)]
        y = b[rng.choice(n_b, subset_size, replace=False)]
        mmds[i] = mmd2_unbiased(x, y, degree=degree, gamma=gamma, coef0=float(coef0))
    return float(mmds.mean()), float(mmds.std())
