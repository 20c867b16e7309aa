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

from ._checks import as_matrix, check_int, default_chunk_rows, sq_norms
from ._parallel import map_blocks
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
    """Distance from each row of x (N, D) to its k-th nearest other row, shape (N,)."""
    n = x.shape[0]
    x_sq = sq_norms(x)
    x_m2 = -2.0 * x
    radii = np.empty(n, dtype=np.float64)

    def block(lo: int) -> None:
        hi = min(n, lo + chunk_size)
        d = _block_sq_distances(x_m2[lo:hi], x_sq[lo:hi], x, x_sq)
        # prdc takes the (k+1)-th smallest distance with the point itself (distance 0) counted;
        # excluding the point (inf) and taking the k-th smallest gives the same value.
        d[np.arange(hi - lo), np.arange(lo, hi)] = np.inf
        radii[lo:hi] = smallest_k(d, k)[1][:, k - 1]

    for _ in map_blocks(block, range(0, n, chunk_size)):
        pass
    # Clamping at 0 commutes with taking the k-th smallest (monotone), so clamp only here.
    return np.sqrt(np.maximum(radii, 0.0))


def prdc(real, fake, k: int = 5, *, chunk_size: Optional[int] = None) -> Dict[str, float]:
    """Precision, recall, density and coverage of ``fake`` w.r.t. ``real``.

    Args:
        real: real features (N, D); fake: generated features (M, D).
        k: nearest-neighbour k of the radii (Naeem et al. use 5).
        chunk_size: rows per distance block; default keeps each float64 block near 32 MiB.
            Blocks run one per core (threads). Peak extra memory ~ cores * 2 * chunk_size *
            max(N, M) * 8 bytes (blocks and boolean masks) plus O(N + M) vectors per
            finished block -- independent of N * M.

    Returns:
        ``{"precision", "recall", "density", "coverage"}`` as floats; density can exceed 1.
    """
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

    r_real = kth_neighbour_radii(x, k, chunk_size)
    r_fake = kth_neighbour_radii(y, k, chunk_size)
    x_sq, y_sq = sq_norms(x), sq_norms(y)
    y_m2 = -2.0 * y
    t_real, t_fake = sqrt_less_threshold(r_real), sqrt_less_threshold(r_fake)

    fake_in_real_balls = 0      # precision numerator
    ball_memberships = 0        # density numerator
    real_in_fake_balls = np.zeros(n, dtype=bool)   # recall
    nearest_fake = np.full(n, np.inf)              # coverage (squared, unclamped)

    def block(lo: int):
        hi = min(m, lo + chunk_size)
        # (fake block, real); prdc computes pairwise(real, fake), so real norms are added first.
        d = _block_sq_distances(y_m2[lo:hi], y_sq[lo:hi], x, x_sq, rows_first=False)
        balls_per_fake = np.count_nonzero(d < t_real[None, :], axis=1)
        return (int(np.count_nonzero(balls_per_fake)), int(balls_per_fake.sum()),
                (d < t_fake[lo:hi, None]).any(axis=0), d.min(axis=0))

    for in_balls, memberships, recalled, nearest in map_blocks(block, range(0, m, chunk_size)):
        fake_in_real_balls += in_balls
        ball_memberships += memberships
        real_in_fake_balls |= recalled
        np.minimum(nearest_fake, nearest, out=nearest_fake)
    return {
        "precision": fake_in_real_balls / m,
        "recall": float(real_in_fake_balls.mean()),
        "density": ball_memberships / (k * m),
        "coverage": float((nearest_fake < t_real).mean()),
    }


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
