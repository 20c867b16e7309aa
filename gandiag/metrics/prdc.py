"""Precision, recall, density and coverage (Naeem et al. 2020, "Reliable Fidelity
and Diversity Metrics for Generative Models"; precision/recall after Kynkäänniemi
et al. 2019).

With ``r_k(x)`` the distance from x to its k-th nearest neighbour in its own set
(the point itself excluded) and ``B(x, r)`` the open ball::

    precision = 1/M sum_j 1[ exists i: Y_j in B(X_i, r_k(X_i)) ]
    recall    = 1/N sum_i 1[ exists j: X_i in B(Y_j, r_k(Y_j)) ]
    density   = 1/(kM) sum_j sum_i 1[ Y_j in B(X_i, r_k(X_i)) ]
    coverage  = 1/N sum_i 1[ exists j: Y_j in B(X_i, r_k(X_i)) ]

for N real rows X and M fake rows Y. Same comparisons (strict ``<`` on Euclidean
distances computed ``sqrt(max(|x|^2 - 2 x.y + |y|^2, 0))`` with a zero diagonal) as
the ``prdc`` package, but the N x M and N x N distance matrices are never held in
full: rows are processed in blocks of ``chunk_size``, so memory is
O(chunk_size * max(N, M)) instead of 3 * N * M * 8 bytes (60 GB at 50k x 50k).
"""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from ..errors import GandiagError
from ._checks import as_matrix, check_int, default_chunk_rows, sq_norms
from .neighbours import smallest_k


def _block_distances(x: np.ndarray, x_sq: np.ndarray, y: np.ndarray, y_sq: np.ndarray,
                     *, rows_first: bool = True) -> np.ndarray:
    """Squared Euclidean distances between rows of x and y (clipped at 0).

    Same operation order as scikit-learn's ``euclidean_distances``
    (``-2 x.y``, then add the first argument's norms, then the second's), so the
    strict comparisons below agree with the ``prdc`` package to the last bit
    whenever the BLAS dot products do. ``rows_first=False`` adds the column
    norms first (the block is the transpose of sklearn's call).
    """
    d = x @ y.T
    d *= -2.0
    if rows_first:
        d += x_sq[:, None]
        d += y_sq[None, :]
    else:
        d += y_sq[None, :]
        d += x_sq[:, None]
    np.maximum(d, 0.0, out=d)
    return d


def kth_neighbour_radii(x: np.ndarray, k: int, chunk_size: int) -> np.ndarray:
    """Distance from each row of x (N, D) to its k-th nearest other row, shape (N,)."""
    n = x.shape[0]
    x_sq = sq_norms(x)
    radii = np.empty(n, dtype=np.float64)
    for lo in range(0, n, chunk_size):
        hi = min(n, lo + chunk_size)
        d = _block_distances(x[lo:hi], x_sq[lo:hi], x, x_sq)
        # prdc takes the (k+1)-th smallest distance with the point itself (distance 0) counted;
        # excluding the point (inf) and taking the k-th smallest gives the same value.
        d[np.arange(hi - lo), np.arange(lo, hi)] = np.inf
        radii[lo:hi] = smallest_k(d, k)[1][:, k - 1]
    return np.sqrt(radii)


def prdc(real, fake, k: int = 5, *, chunk_size: Optional[int] = None) -> Dict[str, float]:
    """Precision, recall, density and coverage of ``fake`` w.r.t. ``real``.

    Args:
        real: real features (N, D); fake: generated features (M, D).
        k: nearest-neighbour k of the radii (Naeem et al. use 5).
        chunk_size: rows per distance block; default keeps each float64 block near 64 MiB.
            Peak extra memory ~ 3 * chunk_size * max(N, M) * 8 bytes (block, its sqrt and
            boolean masks) plus O(N + M) vectors -- independent of N * M.

    Returns:
        ``{"precision", "recall", "density", "coverage"}`` as floats; density can exceed 1.
    """
    x = as_matrix(real, "prdc(real)", min_rows=2)
    y = as_matrix(fake, "prdc(fake)", min_rows=2, dim=x.shape[1])
    n, m = x.shape[0], y.shape[0]
    k = check_int(k, "prdc(k)", minimum=1, maximum=min(n, m) - 1,
                  hint=f" (k must be smaller than both sample counts: real {n}, fake {m})")
    if chunk_size is None:
        # ~64 MiB blocks: small enough that the element-wise passes run from cache
        # (measured 2x faster than 256 MiB blocks at 10k x 10k), large enough for BLAS.
        chunk_size = max(64, default_chunk_rows(max(n, m), budget_bytes=64 << 20))
    chunk_size = check_int(chunk_size, "prdc(chunk_size)", minimum=1)

    r_real = kth_neighbour_radii(x, k, chunk_size)
    r_fake = kth_neighbour_radii(y, k, chunk_size)
    x_sq, y_sq = sq_norms(x), sq_norms(y)

    fake_in_real_balls = 0      # precision numerator
    ball_memberships = 0        # density numerator
    real_in_fake_balls = np.zeros(n, dtype=bool)   # recall
    nearest_fake = np.full(n, np.inf)              # coverage
    for lo in range(0, m, chunk_size):
        hi = min(m, lo + chunk_size)
        # (fake block, real); prdc computes pairwise(real, fake), so real norms are added first.
        d = np.sqrt(_block_distances(y[lo:hi], y_sq[lo:hi], x, x_sq, rows_first=False))
        inside = d < r_real[None, :]
        fake_in_real_balls += int(inside.any(axis=1).sum())
        ball_memberships += int(inside.sum())
        real_in_fake_balls |= (d < r_fake[lo:hi, None]).any(axis=0)
        np.minimum(nearest_fake, d.min(axis=0), out=nearest_fake)
    return {
        "precision": fake_in_real_balls / m,
        "recall": float(real_in_fake_balls.mean()),
        "density": ball_memberships / (k * m),
        "coverage": float((nearest_fake < r_real).mean()),
    }
