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
distances computed ``sqrt(max(|x|^2 - 2 x.y + |y|^2, 0))`` with a zero diagonal, float64) as
the ``prdc`` package, but the N x M and N x N distance matrices are never held in
full: rows are processed in blocks of ``chunk_size``, so memory is
O(chunk_size * max(N, M)) instead of 3 * N * M * 8 bytes (60 GB at 50k x 50k).

Speed without giving up the float64 answer (``precision="auto"``, the default): at 2048-d the
three Gram products are nearly all the work, so they run in float32 (1.8x the float64 GEMM
throughput here: 1024 x 10k x 2048, one OpenBLAS thread) as a *screen* certified by a
rigorous bound on its rounding error (``_Screen``; the model is ``neighbours.py``'s certified
float32 k-NN):

* radii: each row's float32 k-th smallest distance v plus twice the bound selects the columns
  that can hold its true k nearest; only those are re-scored in float64 (~k per row). The
  N x N products are symmetric, so each is computed once for both rows (``_symmetric_radii``);
* ball memberships: a float32 distance farther than the bound from the radius threshold decides
  the comparison; the rest are re-computed in float64 with the same formula and norms order as
  the float64 path.

Measured (``benchmarks/test_metrics.py -k prdc_2048``, 10k x 10k x 2048 Inception-like rows, k = 5,
2 loaded cores): 105,058 radius pairs and 2,229 of the 1e8 cross pairs re-checked in float64;
2.8x faster than ``prdc.compute_prdc`` and 1.7x faster than torch ``cdist`` + ``kthvalue`` in
float32, peak extra RSS 0.26 GiB vs 1.66 GiB (benchmarks/README.md, issue 15 table).

The result is the float64 path's (``precision="float64"``), which the tests check on data built
to defeat float32 (integer coordinates with exact ties, duplicated rows, tight clusters far from
the mean, large offsets). Float64 re-checks use small GEMM calls; OpenBLAS rounds most of those
entries like the dense block, so at exact float64 ties (a distance equal to a radius only up to
rounding, e.g. duplicated rows) an outcome can differ in the last bit as it does between any two
GEMM blockings, the ``prdc`` package's included.
"""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from ..errors import GandiagError
from ._checks import as_matrix, check_int, default_chunk_rows, sq_norms
from ._parallel import available_cores, map_blocks
from .neighbours import smallest_k


def _block_sq_distances(x_m2: np.ndarray, x_sq: np.ndarray, y: np.ndarray, y_sq: np.ndarray,
                        *, rows_first: bool = True) -> np.ndarray:
    """Unclamped squared Euclidean distances ``-2 x.y + |x|^2 + |y|^2`` between row blocks.

    ``x_m2`` is ``-2 * x``: scaling by a power of two is exact, so ``x_m2 @ y.T`` equals
    scikit-learn's ``-2 * (x @ y.T)`` bit for bit while saving a pass. The norms are added in
    scikit-learn's order (first argument's, then second's; ``rows_first=False`` when the block
    is the transpose of sklearn's call), so the strict comparisons below agree with the
    ``prdc`` package whenever the BLAS dot products do. Callers account for the clamp at 0.
    """
    d = x_m2 @ y.T
    if rows_first:
        d += x_sq[:, None]
        d += y_sq[None, :]
    else:
        d += y_sq[None, :]
        d += x_sq[:, None]
    return d


def sqrt_less_threshold(radii: np.ndarray) -> np.ndarray:
    """Per radius r, a threshold t with ``sqrt(max(v, 0)) < r  <=>  v < t`` for every float64 v.

    Lets the distance blocks be compared in squared form (no square root over N x M
    entries) with exactly the outcome of comparing ``sqrt``-ed distances, as prdc does:
    t is the smallest float64 whose square root reaches r (sqrt is correctly rounded and
    monotone), or -inf for r = 0 where no distance is strictly smaller.
    """
    t = radii * radii
    for _ in range(4):  # r*r is within an ulp or two of the answer: step down, then up
        lower = np.nextafter(t, -np.inf)
        t = np.where(np.sqrt(np.maximum(lower, 0.0)) >= radii, lower, t)
    for _ in range(4):
        t = np.where(np.sqrt(np.maximum(t, 0.0)) < radii, np.nextafter(t, np.inf), t)
    assert (np.sqrt(np.maximum(t, 0.0)) >= radii).all() and \
        (np.sqrt(np.maximum(np.nextafter(t, -np.inf), 0.0)) < radii)[radii > 0].all()
    return np.where(radii > 0, t, -np.inf)


def kth_neighbour_radii(x: np.ndarray, k: int, chunk_size: int) -> np.ndarray:
    """Distance from each row of x (N, D) to its k-th nearest other row, shape (N,) (all float64)."""
    n = x.shape[0]
    x_sq = sq_norms(x)
    radii = np.empty(n, dtype=np.float64)

    def block(lo: int) -> None:
        hi = min(n, lo + chunk_size)
        radii[lo:hi] = _dense_kth_sq(x, x_sq, lo, hi, k)

    for _ in map_blocks(block, range(0, n, chunk_size)):
        pass
    # Clamping at 0 commutes with taking the k-th smallest (monotone), so clamp only here.
    return np.sqrt(np.maximum(radii, 0.0))


def _dense_kth_sq(x: np.ndarray, x_sq: np.ndarray, lo: int, hi: int, k: int) -> np.ndarray:
    """k-th smallest unclamped squared distance from rows lo:hi of x to the other rows (float64 block)."""
    d = _block_sq_distances(-2.0 * x[lo:hi], x_sq[lo:hi], x, x_sq)
    # prdc takes the (k+1)-th smallest distance with the point itself (distance 0) counted;
    # excluding the point (inf) and taking the k-th smallest gives the same value.
    d[np.arange(hi - lo), np.arange(lo, hi)] = np.inf
    return smallest_k(d, k)[1][:, k - 1]


def _prdc_float64(x: np.ndarray, y: np.ndarray, k: int, chunk_size: int) -> Dict[str, float]:
    """Every distance in float64 (``precision="float64"``): the reference the screen reproduces."""
    n, m = x.shape[0], y.shape[0]
    r_real = kth_neighbour_radii(x, k, chunk_size)
    r_fake = kth_neighbour_radii(y, k, chunk_size)
    x_sq, y_sq = sq_norms(x), sq_norms(y)
    y_m2 = -2.0 * y
    t_real, t_fake = sqrt_less_threshold(r_real), sqrt_less_threshold(r_fake)

    def block(lo: int):
        hi = min(m, lo + chunk_size)
        # (fake block, real); prdc computes pairwise(real, fake), so real norms are added first.
        d = _block_sq_distances(y_m2[lo:hi], y_sq[lo:hi], x, x_sq, rows_first=False)
        return _reduce(d < t_real[None, :], d < t_fake[lo:hi, None])

    return _tally(map_blocks(block, range(0, m, chunk_size)), n, m, k)


def _reduce(in_real: np.ndarray, in_fake: np.ndarray):
    """One block's share of the four metrics from its boolean matrices (fake block, real):
    ``in_real[j, i] = d_ij < t_real_i`` (fake j in real i's ball), ``in_fake[j, i] = d_ij < t_fake_j``."""
    balls_per_fake = np.count_nonzero(in_real, axis=1)
    return (int(np.count_nonzero(balls_per_fake)), int(balls_per_fake.sum()),
            in_fake.any(axis=0), in_real.any(axis=0))


def _tally(blocks, n: int, m: int, k: int) -> Dict[str, float]:
    """Sum the blocks' ``_reduce`` tuples into precision, recall, density, coverage."""
    fake_in_real_balls = 0      # precision numerator
    ball_memberships = 0        # density numerator
    real_in_fake_balls = np.zeros(n, dtype=bool)   # recall
    real_ball_reached = np.zeros(n, dtype=bool)    # coverage: some fake inside real i's ball
    for in_balls, memberships, recalled, reached in blocks:
        fake_in_real_balls += in_balls
        ball_memberships += memberships
        real_in_fake_balls |= recalled
        real_ball_reached |= reached
    return {
        "precision": fake_in_real_balls / m,
        "recall": float(real_in_fake_balls.mean()),
        "density": ball_memberships / (k * m),
        "coverage": float(real_ball_reached.mean()),
    }


# ------------------------------------------------------------------ certified float32 screen
_U32 = 2.0 ** -24
_U64 = 2.0 ** -53
# A block whose re-checked pairs exceed this fraction of its entries is recomputed densely in
# float64 instead (a gathered pair costs ~an order of magnitude more than a dense GEMM entry),
# so adversarial data cost at most about the all-float64 time.
_DENSE_FRACTION = 1.0 / 16.0


def _gamma(n: int, u: float) -> float:
    return n * u / (1.0 - n * u)


def _f32_down(v: np.ndarray) -> np.ndarray:
    """Largest float32 <= v (element-wise; -inf stays -inf)."""
    f = v.astype(np.float32)
    return np.where(f.astype(np.float64) > v, np.nextafter(f, np.float32(-np.inf)), f)


def _f32_up(v: np.ndarray) -> np.ndarray:
    """Smallest float32 >= v (element-wise)."""
    f = v.astype(np.float32)
    return np.where(f.astype(np.float64) < v, np.nextafter(f, np.float32(np.inf)), f)


class _Screen:
    """float32 copies of real and fake rows, centred on the real mean and scaled by 2^-e so the
    largest centred norm is in [1/2, 1), with a bound on the float32 rounding of every distance.

    For rows a (real or fake) and b, the float32 value ``d32 = fl(-2 fl(a32.b32) + |a32|^2 +
    |b32|^2)`` and the float64 value ``d64`` the exact path compares (raw rows, scaled by s^2)
    satisfy ``|d32 - s^2 d64| <= g32 (|a32| + |b32|)^2 + g64 + tiny`` with

    * ``g32 = gamma_(D+16)(2^-24)``: the float32 dot product (gamma_D |a||b| for any summation
      order, FMA or not; Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., Sec. 3.1),
      the float32 norms (two roundings), the two float32 additions and the rounding of the
      centred rows to float32 (each at most a few units of 2^-24 times (|a| + |b|)^2);
    * ``g64 = gamma_(D+16)(2^-53) * 4 R^2 s^2``, R the largest raw row norm: the float64
      formula's own rounding (it works on uncentred rows: large offsets make it inexact too);
    * ``tiny = (D + 16) 2^-140``: float32 underflow (at most 2^-150 per product or rounded
      component) when some coordinates are below 2^-126 after scaling.

    Centring (distances are translation invariant) shrinks the norms in the bound: for
    Inception features (non-negative) the mean row norm halves.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, chunk_size: int):
        d = x.shape[1]
        self.centre = x.mean(axis=0)
        peak = max(self._centred_sq(x, chunk_size).max(), self._centred_sq(y, chunk_size).max())
        raw_peak = max(sq_norms(x).max(), sq_norms(y).max())
        self.usable = bool(np.isfinite(peak) and peak > 0.0 and np.isfinite(raw_peak) and (d + 16) * _U32 < 1e-2)
        if not self.usable:
            return
        exponent = int(np.frexp(np.sqrt(peak))[1])
        self.scale_sq = float(np.ldexp(1.0, -2 * exponent))  # s^2, s = 2^-exponent
        self.x32, x_sq = self._copy(x, np.ldexp(1.0, -exponent), chunk_size)
        self.y32, y_sq = self._copy(y, np.ldexp(1.0, -exponent), chunk_size)
        self.x_sq32, self.y_sq32 = x_sq.astype(np.float32), y_sq.astype(np.float32)
        # Norms of the float32 rows (inflated past the rounding of their float64 computation).
        self.x_norm = np.sqrt(x_sq) * (1.0 + 1e-9)
        self.y_norm = np.sqrt(y_sq) * (1.0 + 1e-9)
        self.g32 = _gamma(d + 16, _U32)
        self.g64 = _gamma(d + 16, _U64) * 4.0 * raw_peak * self.scale_sq
        self.tiny = (d + 16) * 2.0 ** -140
        # A screen whose float64 part alone is not small next to the distances is no screen.
        self.usable = self.g64 < 1e-3

    def _centred_sq(self, a: np.ndarray, chunk_size: int) -> np.ndarray:
        return np.concatenate([sq_norms(a[lo:lo + chunk_size] - self.centre)
                               for lo in range(0, a.shape[0], chunk_size)])

    def _copy(self, a: np.ndarray, scale: float, chunk_size: int):
        out = np.empty(a.shape, dtype=np.float32)
        sq = np.empty(a.shape[0])
        for lo in range(0, a.shape[0], chunk_size):
            out[lo:lo + chunk_size] = (a[lo:lo + chunk_size] - self.centre) * scale  # round to nearest
            sq[lo:lo + chunk_size] = sq_norms(out[lo:lo + chunk_size].astype(np.float64))
        return out, sq

    def bound(self, norms: np.ndarray, other_max: float) -> np.ndarray:
        """Per-row bound on |d32 - s^2 d64| against any row of the other side."""
        return self.g32 * (norms + other_max) ** 2 + self.g64 + self.tiny

    def band(self, t: np.ndarray, bound: np.ndarray):
        """float32 (lo, hi) with ``d32 < lo => d64 < t`` and ``d32 >= hi => d64 >= t``."""
        ts = t * self.scale_sq
        finite = np.isfinite(ts)
        slack = bound * (1.0 + 1e-9) + 1e-12 * np.abs(np.where(finite, ts, 0.0))
        lo = _f32_down(np.where(finite, ts - slack, -np.inf))
        hi = _f32_up(np.where(finite, ts + slack, -np.inf))
        return lo, hi

    def block(self, a32: np.ndarray, a_sq32: np.ndarray, b32: np.ndarray, b_sq32: np.ndarray) -> np.ndarray:
        """float32 scaled squared distances between row blocks (columns' norms added first)."""
        d = a32 @ b32.T
        d *= np.float32(-2.0)
        d += b_sq32[None, :]
        d += a_sq32[:, None]
        return d


# Rows of ``a`` per GEMM call when re-scoring pairs: a call costs ~30 us of overhead and gathers;
# more rows amortise it at the price of computing rows x pairs entries for the group's pairs.
_PAIR_ROWS = 8


def _pair_sq(a: np.ndarray, a_sq: np.ndarray, b: np.ndarray, b_sq: np.ndarray, ai: np.ndarray, bj: np.ndarray,
             rows_first: bool) -> np.ndarray:
    """float64 ``-2 a_i.b_j + |a_i|^2 + |b_j|^2`` for index pairs sorted by ``ai``, computed as
    the dense float64 path does: dot products from GEMM calls on groups of rows of ``-2 a`` against
    their pairs' rows of ``b`` (with one BLAS thread, OpenBLAS then rounds most entries exactly as
    in the dense block; a 1-row or 1-column product would go to GEMV, which sums in another order),
    the norms added in ``_block_sq_distances``' order."""
    out = np.empty(ai.size)
    if ai.size == 0:
        return out
    group = ai // _PAIR_ROWS
    cuts = np.flatnonzero(np.diff(group)) + 1
    for s, e in zip(np.concatenate(([0], cuts)), np.concatenate((cuts, [ai.size]))):
        first = _PAIR_ROWS * int(group[s])
        rows = np.arange(first, min(first + _PAIR_ROWS, a.shape[0]))
        if rows.size == 1:
            rows = np.repeat(rows, 2)
        cols = bj[s:e] if e - s > 1 else np.repeat(bj[s:e], 2)
        dots = (-2.0 * a[rows]) @ b[cols].T  # (>= 2, >= 2): GEMM
        out[s:e] = dots[ai[s:e] - first, np.arange(e - s)]
    return (out + a_sq[ai]) + b_sq[bj] if rows_first else (out + b_sq[bj]) + a_sq[ai]


def _screened_radii(x: np.ndarray, x32: np.ndarray, x_sq32: np.ndarray, x_norm: np.ndarray, screen: _Screen,
                    k: int, chunk_size: int, stats: dict) -> np.ndarray:
    """``kth_neighbour_radii`` through the float32 screen: per row, v = the k-th smallest float32
    value, then every column with ``d32 <= v + 2B`` re-scored in float64 and the k-th smallest
    kept. Certified: the k float32-smallest have d64 <= v + B, so the true k-th smallest is
    <= v + B, and any column at or below it has d32 <= v + 2B -- all are among the re-scored."""
    n = x.shape[0]
    x_sq = sq_norms(x)
    bound = screen.bound(x_norm, float(x_norm.max()))
    radii = np.empty(n)

    def block(lo: int):
        hi = min(n, lo + chunk_size)
        d = screen.block(x32[lo:hi], x_sq32[lo:hi], x32, x_sq32)
        d[np.arange(hi - lo), np.arange(lo, hi)] = np.inf
        v = np.partition(d, k - 1, axis=1)[:, k - 1].astype(np.float64)
        limit = _f32_up(v + 1e-12 * np.abs(v) + 2.0 * bound[lo:hi] * (1.0 + 1e-9))
        rows, cols = np.nonzero(d <= limit[:, None])
        if rows.size > _DENSE_FRACTION * d.size:
            radii[lo:hi] = _dense_kth_sq(x, x_sq, lo, hi, k)
            return rows.size, True
        exact = _pair_sq(x, x_sq, x, x_sq, rows + lo, cols, rows_first=True)
        counts = np.bincount(rows, minlength=hi - lo)
        assert (counts >= k).all()
        starts = np.cumsum(counts) - counts
        radii[lo:hi] = exact[np.lexsort((exact, rows))][starts + k - 1]  # rows ascending, then value
        return rows.size, False

    for pairs, dense in map_blocks(block, range(0, n, chunk_size)):
        stats["radius_pairs"] += pairs
        stats["dense_blocks"] += dense
    return np.sqrt(np.maximum(radii, 0.0))


# The first rows of each set, at least this many (or N / 8), are the sample whose float32
# distances to every row give each row's first upper bound on its k-th smallest distance.
_SAMPLE_ROWS = 1024
# Budget of kept float32 entries per row and per unit of k in ``_symmetric_radii``: 12 bytes
# each, ~40 MB at 10k rows and k = 5 (measured 15 per row and k at 10k x 64 Gaussian rows).
_KEPT_PER_ROW = 64


def _symmetric_radii(x: np.ndarray, x32: np.ndarray, x_sq32: np.ndarray, x_norm: np.ndarray, screen: _Screen,
                     k: int, chunk_size: int, stats: dict, sample: Optional[int] = None) -> Optional[np.ndarray]:
    """Squared radii (unclamped k-th smallest float64 distances) with each float32 product
    computed once for both of its rows (the N x N Gram matrix is symmetric): half the flops of
    ``_screened_radii``. None when the screen keeps too many pairs (then use that one).

    Rows [0, S) are a sample. Step 1: every row against the sample gives tau_i, the k-th smallest
    float32 value over the sample (an upper bound on v_i, the k-th smallest over all rows), and a
    limit L_i = tau_i + 2 B_i. Step 2: rows [S, N) in blocks against the columns from the block on
    (the upper triangle). Every entry of both steps is kept for row i when d32 <= L_i and for
    row j when d32 <= L_j, so each row's kept entries hold all with d32 <= v_i + 2 B_i: v_i is
    the k-th smallest kept value, and those within v_i + 2 B_i are re-scored as in
    ``_screened_radii`` (same certificate).
    """
    n = x.shape[0]
    s = min(n, max(k + 1, n // 8, _SAMPLE_ROWS) if sample is None else max(k + 1, sample))
    x_sq = sq_norms(x)
    bound = screen.bound(x_norm, float(x_norm.max()))
    limit = np.empty(n, dtype=np.float32)
    full, total = [False], [0]
    # Kept entries (12 bytes each) beyond this budget mean a poor sample bound (e.g. many
    # near-ties): give up on this path rather than hold O(N^2) entries.
    budget = _KEPT_PER_ROW * k * n

    def limits(v: np.ndarray, lo: int, hi: int) -> np.ndarray:
        v = v.astype(np.float64)
        return _f32_up(v + 1e-12 * np.abs(v) + 2.0 * bound[lo:hi] * (1.0 + 1e-9))

    def kept(mask: np.ndarray, d: np.ndarray, row_offset: int, col_offset: int, transpose: bool):
        r, c = np.nonzero(mask)
        vals = d[r, c]
        r, c = (r + row_offset).astype(np.int32), (c + col_offset).astype(np.int32)
        return (c, r, vals) if transpose else (r, c, vals)

    def too_many(out) -> bool:
        total[0] += sum(o[0].size for o in out)  # threads may race here: the budget is approximate
        if total[0] > budget:
            full[0] = True
        return full[0]

    def sample_block(lo: int):
        hi = min(s if lo < s else n, lo + chunk_size)  # sample rows' blocks end at S
        if full[0]:
            return None
        d = screen.block(x32[lo:hi], x_sq32[lo:hi], x32[:s], x_sq32[:s])
        if lo < s:  # a sample row against itself
            r = np.arange(lo, min(hi, s))
            d[r - lo, r] = np.inf
        limit[lo:hi] = limits(np.partition(d, k - 1, axis=1)[:, k - 1], lo, hi)
        out = [kept(d <= limit[lo:hi, None], d, lo, 0, False)]
        if lo >= s:  # the sample rows' entries against this block (the sample block holds both orders)
            out.append(kept(d <= limit[None, :s], d, lo, 0, True))
        return None if too_many(out) else out

    def triangle_block(lo: int):
        hi = min(n, lo + chunk_size)
        if full[0]:
            return None
        d = screen.block(x32[lo:hi], x_sq32[lo:hi], x32[lo:], x_sq32[lo:])
        r = np.arange(hi - lo)
        d[r, r] = np.inf
        out = [kept(d <= limit[lo:hi, None], d, lo, lo, False),  # diagonal tile: both orders
               kept(d[:, hi - lo:] <= limit[None, hi:], d[:, hi - lo:], lo, hi, True)]
        return None if too_many(out) else out

    parts = []
    for step, starts in ((sample_block, range(0, s, chunk_size)), (sample_block, range(s, n, chunk_size)),
                         (triangle_block, range(s, n, chunk_size))):
        for out in map_blocks(step, starts):
            if out is None or full[0]:
                full[0] = True
                continue
            parts.extend(out)
        if full[0]:
            return None
    rows = np.concatenate([p[0] for p in parts])
    cols = np.concatenate([p[1] for p in parts])
    vals = np.concatenate([p[2] for p in parts])
    del parts
    stats["radius_kept"] += rows.size
    order = np.lexsort((vals, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    counts = np.bincount(rows, minlength=n)
    assert (counts >= k).all()
    v = vals[np.cumsum(counts) - counts + k - 1]
    keep = vals <= limits(v, 0, n)[rows]
    rows, cols = rows[keep], cols[keep]
    stats["radius_pairs"] += rows.size
    counts = np.bincount(rows, minlength=n)
    ends = np.cumsum(counts)
    # Re-score in row ranges, one per core (pairs stay sorted by row).
    cuts = np.searchsorted(ends, np.linspace(0, rows.size, available_cores() + 1)[1:-1])
    bounds = np.concatenate(([0], ends[cuts], [rows.size])).astype(np.int64)
    exact = np.empty(rows.size)

    def rescore(i: int) -> None:
        a, b = bounds[i], bounds[i + 1]
        exact[a:b] = _pair_sq(x, x_sq, x, x_sq, rows[a:b], cols[a:b], rows_first=True)

    for _ in map_blocks(rescore, range(len(bounds) - 1)):
        pass
    return exact[np.lexsort((exact, rows))][ends - counts + k - 1]


def _radii(x, x32, x_sq32, x_norm, screen, k, chunk_size, stats):
    sq = _symmetric_radii(x, x32, x_sq32, x_norm, screen, k, chunk_size, stats)
    if sq is None:
        stats["row_screen_fallbacks"] += 1
        return _screened_radii(x, x32, x_sq32, x_norm, screen, k, chunk_size, stats)
    return np.sqrt(np.maximum(sq, 0.0))


def _prdc_screened(x: np.ndarray, y: np.ndarray, k: int, chunk_size: int, screen: _Screen,
                   stats: dict) -> Dict[str, float]:
    n, m = x.shape[0], y.shape[0]
    r_real = _radii(x, screen.x32, screen.x_sq32, screen.x_norm, screen, k, chunk_size, stats)
    r_fake = _radii(y, screen.y32, screen.y_sq32, screen.y_norm, screen, k, chunk_size, stats)
    x_sq, y_sq = sq_norms(x), sq_norms(y)
    t_real, t_fake = sqrt_less_threshold(r_real), sqrt_less_threshold(r_fake)
    # Columns are real rows (threshold per column), rows fake (threshold per row).
    lo_real, hi_real = screen.band(t_real, screen.bound(screen.x_norm, float(screen.y_norm.max())))
    lo_fake, hi_fake = screen.band(t_fake, screen.bound(screen.y_norm, float(screen.x_norm.max())))

    def block(lo: int):
        hi = min(m, lo + chunk_size)
        d = screen.block(screen.y32[lo:hi], screen.y_sq32[lo:hi], screen.x32, screen.x_sq32)
        in_real = d < lo_real[None, :]          # certainly inside real i's ball
        unsure = d < hi_real[None, :]
        unsure ^= in_real                       # lo <= d32 < hi: float64 decides
        in_fake = d < lo_fake[lo:hi, None]
        unsure_fake = d < hi_fake[lo:hi, None]
        unsure_fake ^= in_fake
        unsure |= unsure_fake
        rows, cols = np.nonzero(unsure)
        if rows.size > _DENSE_FRACTION * d.size:
            dd = _block_sq_distances(-2.0 * y[lo:hi], y_sq[lo:hi], x, x_sq, rows_first=False)
            return _reduce(dd < t_real[None, :], dd < t_fake[lo:hi, None]), rows.size, True
        if rows.size:
            # (fake block, real) as in the float64 path: real norms are added first.
            exact = _pair_sq(y, y_sq, x, x_sq, rows + lo, cols, rows_first=False)
            in_real[rows, cols] = exact < t_real[cols]
            in_fake[rows, cols] = exact < t_fake[rows + lo]
        return _reduce(in_real, in_fake), rows.size, False

    def blocks():
        for part, pairs, dense in map_blocks(block, range(0, m, chunk_size)):
            stats["cross_pairs"] += pairs
            stats["dense_blocks"] += dense
            yield part

    return _tally(blocks(), n, m, k)


PRECISIONS = ("auto", "float64")


def prdc(real, fake, k: int = 5, *, chunk_size: Optional[int] = None, precision: str = "auto") -> Dict[str, float]:
    """Precision, recall, density and coverage of ``fake`` w.r.t. ``real``.

    Args:
        real: real features (N, D); fake: generated features (M, D).
        k: nearest-neighbour k of the radii (Naeem et al. use 5).
        chunk_size: rows per distance block; default keeps each float64 block near 32 MiB.
            Blocks run one per core (threads). Peak extra memory ~ cores * 2 * chunk_size *
            max(N, M) * 8 bytes (blocks and boolean masks) plus O(N + M) vectors per
            finished block, float32 copies of both inputs and at most 64 k N radius
            candidates (12 bytes each) -- independent of N * M.
        precision: "auto" (float32 screen certified by an error bound, float64 for every
            comparison it cannot decide: the same result as "float64"), or "float64"
            (every distance in float64; slower).

    Returns:
        ``{"precision", "recall", "density", "coverage"}`` as floats; density can exceed 1.
    """
    return _prdc(real, fake, k, chunk_size, precision)[0]


def _prdc(real, fake, k, chunk_size, precision):
    """``(prdc result, screen statistics)``; the statistics count the float64 re-checks."""
    if precision not in PRECISIONS:
        raise GandiagError(f"prdc(precision): unknown value {precision!r}; valid values are: {', '.join(PRECISIONS)}")
    x = as_matrix(real, "prdc(real)", min_rows=2)
    y = as_matrix(fake, "prdc(fake)", min_rows=2, dim=x.shape[1])
    n, m = x.shape[0], y.shape[0]
    k = check_int(k, "prdc(k)", minimum=1, maximum=min(n, m) - 1,
                  hint=f" (k must be smaller than both sample counts: real {n}, fake {m})")
    if chunk_size is None:
        # ~32 MiB blocks (one per core in flight): the element-wise passes run largely from
        # cache (measured 2x faster than 256 MiB blocks at 10k x 10k), large enough for BLAS.
        chunk_size = max(64, default_chunk_rows(max(n, m), budget_bytes=32 << 20))
    chunk_size = check_int(chunk_size, "prdc(chunk_size)", minimum=1)
    stats = {"screen": False, "radius_pairs": 0, "cross_pairs": 0, "dense_blocks": 0, "row_screen_fallbacks": 0,
             "radius_kept": 0}
    if precision == "auto":
        screen = _Screen(x, y, chunk_size)
        if screen.usable:
            stats["screen"] = True
            return _prdc_screened(x, y, k, chunk_size, screen, stats), stats
    return _prdc_float64(x, y, k, chunk_size), stats


# ------------------------------------------------------------------------------------ metric record
def _prdc_step(ctx):
    name = ctx.default_extractor()
    real, fake = ctx.features(name, "ref"), ctx.features(name, "fake")
    # Naeem et al. use equal real and fake counts: recall and coverage depend on the ratio, so the
    # larger side is subsampled (seeded) to the smaller one.
    n = min(len(real), len(fake))
    rng = np.random.default_rng(ctx.options.seed)
    if len(real) > n:
        real = real[np.sort(rng.choice(len(real), n, replace=False))]
    if len(fake) > n:
        fake = fake[np.sort(rng.choice(len(fake), n, replace=False))]
    k = ctx.options.prdc_k
    out = prdc(real, fake, k=k)
    return {**out, "k": k, "num_real": n, "num_fake": n, "extractor": name}


_PARTS = ("precision", "recall", "density", "coverage")


def _prdc_rows(r):
    from .record import Row, fmt

    return [Row(n, fmt(r.get(n)), f"k = {fmt(r.get('k'))}", str(r.get("extractor", ""))) for n in _PARTS if n in r]


def _register():
    from ..options import Option
    from .record import Metric, Part, register_metric

    register_metric(Metric(
        "prdc", "Precision, recall, density, coverage", True, 0.0,
        "k-NN manifold estimates of fidelity (precision, density) and diversity (recall, coverage) in feature "
        "space, on equal real and generated counts.",
        "Naeem, Oh, Uh, Choi, Yoo. Reliable Fidelity and Diversity Metrics for Generative Models. ICML 2020",
        run=_prdc_step, min_samples=6,
        options=(Option("prdc_k", int, 5, "neighbourhood size k of precision/recall/density/coverage"),),
        parts=(Part("precision", "Precision (k-NN manifold)", True, 0.0,
                    "Fraction of generated samples inside some real sample's k-NN ball: fidelity.", 1.0),
               Part("recall", "Recall (k-NN manifold)", True, 0.0,
                    "Fraction of real samples inside some generated sample's k-NN ball: diversity.", 1.0),
               Part("density", "Density", True, 0.0,
                    "Average number of real k-NN balls containing each generated sample, divided by k; about 1 for "
                    "matching distributions, robust to real outliers."),
               Part("coverage", "Coverage", True, 0.0,
                    "Fraction of real samples whose k-NN ball contains at least one generated sample.", 1.0)),
        rows=_prdc_rows,
        summary=lambda p: (f"precision {p['precision']:.3f}  recall {p['recall']:.3f}  density {p['density']:.3f}  "
                           f"coverage {p['coverage']:.3f}  [{p['extractor']}, k = {p['k']}]"),
        default_for=("mnist", "natural"), function="gandiag.metrics.prdc", order=40))


_register()
