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

Precision and speed: the kernel values, their sums and the MMD are always float64.
The dot products ``x.y`` are float64 matrix products, except when *both* feature
arrays are float32 (what the extractors produce): then the rows are shifted by
c = float32(mean of both sets) (``x - c`` is a correctly rounded float32 difference),
``(x-c).(y-c)`` is one float32 matrix product (BLAS sgemm/ssyrk, twice the float64
throughput) and the rank-one rest ``(x-c).c + (y-c).c + c.c`` is added in float64.
Each product is rounded once, to ~sqrt(D) * 2^-24 of ``|x-c| |y-c|`` -- the features'
spread, not their large shared mean -- and those independent errors are averaged over
m^2 kernel entries. Measured against an all-float64 evaluation of the same float32
features (10k vs 10k, D=2048, 100 subsets of 1000, Inception-like non-negative
features): 1.2e-7 relative at KID = 9e-6 (near-identical sets); below 2e-8 for
KID >= 4e-4 (tested at <= 1e-6 in tests/gandiag/metrics/test_kid.py). torch-fidelity
also multiplies in float32 but forms kernels and sums in float32: 1.9e-3 relative on
the same data. ``precision="float64"`` does everything in float64 (about 2x slower).
Subsets run one per core (threads, BLAS held to one thread each).
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from ..errors import GandiagError
from ._checks import as_matrix, check_int
from ._parallel import map_blocks

PRECISIONS = ("auto", "float64")
# Rows of a kernel block converted to float64 at a time: ~0.5 MiB, so the element-wise
# passes run from cache instead of streaming (m, m) float64 temporaries through memory.
_KERNEL_ROWS = 64


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


def _kernel_sum(gram: np.ndarray, degree: int, gamma: float, row_add, col_add=None) -> Tuple[float, float]:
    """``(sum of all entries, trace)`` of ``K = (gamma * gram + row_add[:, None] + col_add[None, :]) ** degree``.

    In float64; ``gram`` (m, n) may be float32. ``row_add`` is a scalar or an (m,) vector,
    ``col_add`` None or an (n,) vector. Rows are upcast ``_KERNEL_ROWS`` at a time and
    reduced with BLAS dot products (float64 accumulation).
    """
    rows, cols = gram.shape
    row_add = np.broadcast_to(np.asarray(row_add, dtype=np.float64), (rows,))
    buf = np.empty((min(_KERNEL_ROWS, rows), cols))
    sq = np.empty_like(buf) if degree >= 3 else None
    total = 0.0
    for lo in range(0, rows, _KERNEL_ROWS):
        hi = min(rows, lo + _KERNEL_ROWS)
        k = buf[:hi - lo]
        np.multiply(gram[lo:hi], gamma, out=k, dtype=np.float64)  # upcast before scaling
        k += row_add[lo:hi, None]
        if col_add is not None:
            k += col_add[None, :]
        flat = k.reshape(-1)
        if degree == 1:
            total += float(k.sum())
        elif degree == 2:
            total += float(np.dot(flat, flat))
        elif degree == 3:
            s = sq[:hi - lo]
            np.multiply(k, k, out=s)
            total += float(np.dot(s.reshape(-1), flat))
        else:
            np.power(k, degree, out=k)
            total += float(k.sum())
    trace = 0.0
    if rows == cols:
        diag = gamma * np.diagonal(gram).astype(np.float64) + row_add
        if col_add is not None:
            diag += col_add
        trace = float((diag ** degree).sum())
    return total, trace


def _subset_mmd2(x: np.ndarray, y: np.ndarray, degree: int, gamma: float, coef0: float,
                 shift: Optional[np.ndarray]) -> float:
    """Unbiased MMD^2 of one subset pair (see the module doc for the precision).

    float64 rows: plain float64 Gram matrices. float32 rows with ``shift`` c (float32, near
    the mean): ``x.y = (x-c).(y-c) + (x-c).c + (y-c).c + c.c`` with the first term one
    float32 product of the shifted rows (``x - c`` is exact-rounded once, float32 minus
    float32) and the rank-one terms in float64, so the float32 rounding scales with the
    spread |x - c| |y - c| of the features, not with their (large, shared) mean.
    """
    m = x.shape[0]
    if shift is None:
        parts = [(x, x, coef0, None), (y, y, coef0, None), (x, y, coef0, None)]
    else:
        c64 = shift.astype(np.float64)
        x = x - shift
        y = y - shift
        ux, uy, cc = x.astype(np.float64) @ c64, y.astype(np.float64) @ c64, float(c64 @ c64)
        rx, ry = gamma * (ux + cc) + coef0, gamma * (uy + cc) + coef0
        parts = [(x, x, rx, gamma * ux), (y, y, ry, gamma * uy), (x, y, rx, gamma * uy)]
    sums = []
    for p, q, row_add, col_add in parts:
        # p @ p.T runs as BLAS syrk (half the flops of a general product).
        sums.append(_kernel_sum(p @ q.T, degree, gamma, row_add, col_add))
    (s_xx, t_xx), (s_yy, t_yy), (s_xy, _) = sums
    return (s_xx - t_xx + s_yy - t_yy) / (m * (m - 1)) - 2.0 * s_xy / (m * m)


def kid(feats_a, feats_b, subsets: int = 100, subset_size: int = 1000, degree: int = 3,
        gamma: Optional[float] = None, coef0: float = 1.0, seed: int = 0,
        precision: str = "auto") -> Tuple[float, float]:
    """Kernel Inception Distance: mean and std (ddof=0) of MMD^2_u over random subsets.

    Args:
        feats_a, feats_b: features (N_a, D), (N_b, D) (e.g. InceptionV3 pool3, D=2048).
        subsets: number of random subsets (torch-fidelity: 100).
        subset_size: rows per subset m, drawn without replacement (torch-fidelity: 1000).
        degree, gamma, coef0: polynomial kernel (gamma None -> 1/D).
        seed: subset draws, see module doc.
        precision: "auto" (float32 dot products when both inputs are float32, float64
            kernels and sums; see the module doc) or "float64" (everything in float64).

    Returns:
        (mean, std) of the per-subset MMD^2_u.
    """
    if precision not in PRECISIONS:
        raise GandiagError(f"kid(precision): unknown value {precision!r}; valid values are: {', '.join(PRECISIONS)}")
    # float32 features stay float32 (no float64 copy of N x D); anything else becomes float64.
    a = as_matrix(feats_a, "kid(feats_a)", min_rows=2, dtype=None)
    b = as_matrix(feats_b, "kid(feats_b)", min_rows=2, dim=a.shape[1], dtype=None)
    work = np.float32 if precision == "auto" and a.dtype == b.dtype == np.float32 else np.float64
    a, b = a.astype(work, copy=False), b.astype(work, copy=False)
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
    draws = []
    for _ in range(subsets):  # drawn up front, in torch-fidelity's order
        ia = rng.choice(n_a, subset_size, replace=False)
        draws.append((ia, rng.choice(n_b, subset_size, replace=False)))
    g = 1.0 / a.shape[1] if gamma is None else float(gamma)

    shift = None
    if work == np.float32:  # the mean of both sets, as float32 (any float32 vector is exact)
        shift = ((a.sum(axis=0, dtype=np.float64) + b.sum(axis=0, dtype=np.float64)) / (n_a + n_b)).astype(np.float32)

    def one(draw) -> float:
        return _subset_mmd2(a[draw[0]], b[draw[1]], degree, g, float(coef0), shift)

    mmds = np.fromiter(map_blocks(one, draws), dtype=np.float64, count=subsets)
    return float(mmds.mean()), float(mmds.std())


# ------------------------------------------------------------------------------------ metric record
def _kid_step(ctx):
    name = ctx.default_extractor()
    a, b = ctx.features(name, "fake"), ctx.features(name, "ref")
    o = ctx.options
    if o.kid_subset_size is not None and o.kid_subset_size <= 0:  # 0 would silently mean "the default"
        raise GandiagError(f"kid_subset_size (--kid-subset-size) must be positive, got {o.kid_subset_size}")
    # Default subsets hold at most half of each side: a subset of all N generated rows would be the whole
    # fake set every time, and the std would then measure the reference side's variation only.
    size = o.kid_subset_size if o.kid_subset_size is not None else max(2, min(1000, len(a) // 2, len(b) // 2))
    mean, std = kid(a, b, subsets=o.kid_subsets, subset_size=size, seed=o.seed)
    whole = size >= len(a)
    meaning = (f"s.d. of KID over {o.kid_subsets} subsets of {size} rows per side: the spread of a KID from {size} "
               "samples (a standard error of the mean over all samples is smaller)")
    if whole:
        meaning += ("; every subset holds all generated samples, so this s.d. reflects the reference side only: "
                    "use --kid-subset-size <= N/2 for a two-sided spread")
    return {"mean": mean, "std": std, "subsets": o.kid_subsets, "subset_size": size, "std_meaning": meaning,
            "subsets_hold_all_generated": whole, "extractor": name}


def _register():
    from ..options import Option
    from .record import Metric, mean_std_rows, register_metric

    register_metric(Metric(
        "kid", "Kernel Inception Distance", False, None,
        "Unbiased polynomial-kernel MMD^2 between Inception features, averaged over subsets; unbiased, so small "
        "negative values occur for near-identical distributions.",
        "Bińkowski, Sutherland, Arbel, Gretton. Demystifying MMD GANs. ICLR 2018",
        run=_kid_step, min_samples=2,
        options=(Option("kid_subsets", int, 100, "KID subsets (seeded by --seed)"),
                 Option("kid_subset_size", Optional[int], None, "rows per KID subset (default min(1000, N/2): subsets "
                        "that differ on both sides)")),
        rows=mean_std_rows("kid", "subsets", "subsets"),
        summary=lambda r: f"KID: {r['mean']:.5f} ± {r['std']:.5f}  [{r['extractor']}, lower is better]",
        default_for=("mnist", "natural"), function="gandiag.metrics.kid", order=30))


_register()
