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
Subsets run one per core (threads, BLAS held to one thread each). Within a subset the two
symmetric Gram matrices are one BLAS syrk each (numpy's ``p @ p.T``) whose upper triangle alone
is turned into kernel values (the off-diagonal sum is twice the strict upper triangle), and the
rank-one terms are computed once per feature row, not per subset.
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


def _power_sum(k: np.ndarray, degree: int, sq: Optional[np.ndarray]) -> float:
    """``sum(k ** degree)`` of a float64 block, reduced with BLAS dot products (float64)."""
    flat = k.reshape(-1)
    if degree == 1:
        return float(k.sum())
    if degree == 2:
        return float(np.dot(flat, flat))
    if degree == 3:
        np.multiply(k, k, out=sq)
        return float(np.dot(sq.reshape(-1), flat))
    np.power(k, degree, out=k)
    return float(k.sum())


def _kernel_sum(gram: np.ndarray, degree: int, gamma: float, row_add, col_add=None, *,
                upper: bool = False) -> float:
    """Sum of ``K = (gamma * gram + row_add[:, None] + col_add[None, :]) ** degree``.

    In float64; ``gram`` (m, n) may be float32. ``row_add`` is a scalar or an (m,) vector,
    ``col_add`` None or an (n,) vector. Rows are upcast ``_KERNEL_ROWS`` at a time and
    reduced with BLAS dot products (float64 accumulation).

    ``upper``: ``gram`` is square and symmetric (only its upper triangle is read), and so is K
    (``col_add`` is ``row_add``'s part that depends on the column); then ``sum`` is the sum of
    the off-diagonal entries, formed as twice the strict upper triangle (half the element-wise
    work), instead of the sum of all entries.
    """
    rows, cols = gram.shape
    row_add = np.broadcast_to(np.asarray(row_add, dtype=np.float64), (rows,))
    size = min(_KERNEL_ROWS, rows) * cols
    buf = np.empty(size)  # flat: every block below is a contiguous (h, w) view (reshape(-1) copies nothing)
    sq = np.empty(size) if degree == 3 else None
    lower = np.tril_indices(min(_KERNEL_ROWS, rows)) if upper else None
    total = 0.0
    for lo in range(0, rows, _KERNEL_ROWS):
        hi = min(rows, lo + _KERNEL_ROWS)
        h = hi - lo
        first = lo if upper else 0  # columns left of the diagonal block are not valid in the upper case
        w = cols - first
        k = buf[:h * w].reshape(h, w)
        np.multiply(gram[lo:hi, first:], gamma, out=k, dtype=np.float64)  # upcast before scaling
        k += row_add[lo:hi, None]
        if col_add is not None:
            k += col_add[None, first:]
        if upper:  # keep the strict upper triangle of the diagonal block: zero its lower part and diagonal
            k[lower if h == min(_KERNEL_ROWS, rows) else np.tril_indices(h)] = 0.0
        total += _power_sum(k, degree, None if sq is None else sq[:h * w].reshape(h, w))
    # upper: the off-diagonal sum; a zeroed entry adds 0 ** degree = 0 (degree >= 1)
    return 2.0 * total if upper else total


def _gram(p: np.ndarray) -> np.ndarray:
    """``p @ p.T``: numpy runs it as one BLAS syrk (half the flops of a general product). Not scipy's
    ``ssyrk`` (one triangle, no mirror copy): with it the two subset threads ran at 0.87x
    torch-fidelity's time ratio, with numpy's 1.08-1.19x (benchmarks/test_metrics.py -k kid, idle)."""
    return p @ p.T


def _rank_one(z: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """``(z - c) . c`` per row in float64 (``z - c`` rounded to float32, as in the Gram products)."""
    c64 = shift.astype(np.float64)
    out = np.empty(len(z))
    for lo in range(0, len(z), 1024):  # 1024 x D float64 at a time (16 MiB at D = 2048)
        out[lo:lo + 1024] = (z[lo:lo + 1024] - shift).astype(np.float64) @ c64
    return out


def _subset_mmd2(x: np.ndarray, y: np.ndarray, degree: int, gamma: float, coef0: float,
                 shift: Optional[np.ndarray], ux: Optional[np.ndarray] = None,
                 uy: Optional[np.ndarray] = None) -> float:
    """Unbiased MMD^2 of one subset pair (see the module doc for the precision).

    float64 rows: plain float64 Gram matrices. float32 rows with ``shift`` c (float32, near
    the mean): ``x.y = (x-c).(y-c) + (x-c).c + (y-c).c + c.c`` with the first term one
    float32 product of the shifted rows (``x - c`` is exact-rounded once, float32 minus
    float32) and the rank-one terms in float64, so the float32 rounding scales with the
    spread |x - c| |y - c| of the features, not with their (large, shared) mean. ``ux``,
    ``uy`` (given with ``shift``): the rows' ``(x-c).c`` (:func:`_rank_one`), computed once per
    feature set by :func:`kid` instead of once per subset.
    """
    m = x.shape[0]
    if shift is None:
        parts = [(x, x, coef0, None), (y, y, coef0, None), (x, y, coef0, None)]
    else:
        c64 = shift.astype(np.float64)
        x = x - shift
        y = y - shift
        cc = float(c64 @ c64)
        rx, ry = gamma * (ux + cc) + coef0, gamma * (uy + cc) + coef0
        parts = [(x, x, rx, gamma * ux), (y, y, ry, gamma * uy), (x, y, rx, gamma * uy)]
    sums = []  # xx and yy: off-diagonal sums (one syrk, half the kernel entries); xy: all entries
    for p, q, row_add, col_add in parts:
        gram = _gram(p) if p is q else p @ q.T
        sums.append(_kernel_sum(gram, degree, gamma, row_add, col_add, upper=p is q))
    s_xx, s_yy, s_xy = sums
    return (s_xx + s_yy) / (m * (m - 1)) - 2.0 * s_xy / (m * m)


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

    ua = ub = None
    if shift is not None:  # each row's rank-one term once, not once per subset that draws it
        ua, ub = _rank_one(a, shift), _rank_one(b, shift)

    def one(draw) -> float:
        ia, ib = draw
        return _subset_mmd2(a[ia], b[ib], degree, g, float(coef0), shift,
                            None if ua is None else ua[ia], None if ub is None else ub[ib])

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
