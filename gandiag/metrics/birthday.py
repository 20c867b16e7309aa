"""Birthday-paradox support-size estimate (Arora & Zhang 2017).

"Do GANs actually learn the distribution? An empirical study" (Arora, Risteski,
Zhang; ICLR 2018 as "Do GANs learn the distribution? Some theory and empirics"):
if a distribution puts its mass on about N equally likely images, a batch of
s ~ sqrt(N) samples contains a duplicate pair with probability about 1/2 (the
birthday paradox). So: draw batches of s samples, look for near-duplicate
pairs, and find the batch size s_half at which duplicates appear in half the
batches; the support size is then about ``s_half ** 2`` (the paper's rule; for
a uniform distribution ``1 - exp(-s^2 / 2N) = 1/2`` gives ``N = s^2 / (2 ln 2)``,
also reported as ``support_uniform``).

The paper judged duplicates by eye among the 20 closest pairs of each batch.
The automatic decision here calibrates "closest pair" against real data of the
same batch size: for each s, ``2 * num_batches`` real batches give the
closest-pair distance distribution; a generated batch *has a duplicate* when its
closest pair is closer than the ``quantile`` of that distribution (0 = closer
than the closest pair of every real batch, the default). Distinct real images
therefore show a duplicate rate of about ``1 / (2 num_batches + 1)``, far from
1/2.

Finite sets: batches are drawn without replacement from the M samples (and R
real rows), standing in for fresh draws from the generator. When s is a large
fraction of the set, batches share their closest pairs and the rate measures the
set rather than the distribution, so the default batch sizes stop at
``min(M, R) / 4``. The closest pairs themselves come back for the grid of candidate pairs and
the printable confirmation sheet (:mod:`gandiag.human.duplicate_sheet`).

Distances are Euclidean in whatever space the rows are in (flattened pixels or
an extractor's features); both sets must be in the same space.
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import GandiagError
from ._checks import as_matrix, check_int, sq_norms

PAPER = ("Arora, Risteski, Zhang. Do GANs learn the distribution? Some Theory and Empirics. ICLR 2018 "
         "(arXiv:1706.08224, Arora & Zhang 2017)")
DEFAULT_BATCHES = 20
DEFAULT_TOP = 20
_BLOCK_BYTES = 64 << 20


def closest_pairs(x, top: int = DEFAULT_TOP, *, name: str = "closest_pairs(x)") -> Tuple[np.ndarray, np.ndarray]:
    """The ``top`` closest pairs ``i < j`` among the rows of ``x`` (blocked, upper triangle).

    Candidates are ranked with ``|a|^2 - 2 a.b + |b|^2`` in the input's precision (float32 rows
    stay float32: BLAS speed; rounding may reorder near-ties) over (rows, N) blocks of about
    64 MiB, so memory beyond the input stays ~64 MiB plus the float64 row norms. The distances
    returned are recomputed from the row differences in float64: identical rows give exactly 0.

    Returns:
        ``(pairs (P, 2) int64, distances (P,) float64)``, closest first, P = min(top, N(N-1)/2).
    """
    a = as_matrix(x, name, min_rows=2, dtype=None)
    n = a.shape[0]
    top = check_int(top, "closest_pairs(top)", minimum=1)
    top = min(top, n * (n - 1) // 2)
    norms = sq_norms(a.astype(np.float64)).astype(a.dtype)
    block = int(max(32, min(4096, _BLOCK_BYTES // (a.dtype.itemsize * n))))
    best_d = np.empty(0, dtype=a.dtype)
    best_i = np.empty(0, dtype=np.int64)
    best_j = np.empty(0, dtype=np.int64)
    for s in range(0, n - 1, block):
        rows = a[s:s + block]
        b = rows.shape[0]
        d = rows @ a[s:].T               # (b, n - s): columns j = s .. n-1
        d *= -2.0
        d += norms[s:s + b, None]
        d += norms[None, s:]
        d[:, :b][np.tril_indices(b)] = np.inf   # keep j > i
        flat = d.ravel()
        if best_d.size >= top:  # only entries below the current top-th distance can enter (a cheap scan)
            cand = np.flatnonzero(flat < best_d.max())
        else:
            kk = min(top, flat.size)
            cand = np.argpartition(flat, kk - 1)[:kk]
            cand = cand[np.isfinite(flat[cand])]
        ci, cj = np.divmod(cand, d.shape[1])
        best_d = np.concatenate([best_d, flat[cand]])
        best_i = np.concatenate([best_i, ci + s])
        best_j = np.concatenate([best_j, cj + s])
        if best_d.size > top:
            keep = np.argpartition(best_d, top - 1)[:top]
            best_d, best_i, best_j = best_d[keep], best_i[keep], best_j[keep]
    diff = a[best_i].astype(np.float64) - a[best_j].astype(np.float64)
    dist = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    order = np.lexsort((best_j, best_i, dist))
    return np.stack([best_i[order], best_j[order]], axis=1), dist[order]


def default_batch_sizes(limit: int, smallest: int = 8, per_octave: int = 2) -> List[int]:
    """Batch sizes ``smallest * 2^(k / per_octave)`` up to ``limit`` (deduplicated, ascending)."""
    out, k = [], 0
    while True:
        s = int(round(smallest * 2.0 ** (k / per_octave)))
        if s > limit:
            break
        if not out or s != out[-1]:
            out.append(s)
        k += 1
    if not out or out[-1] != limit:
        if limit >= 2 and (not out or limit > out[-1]):
            out.append(limit)
    return out


def _batch_minima(x: np.ndarray, s: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """Closest-pair distance of ``count`` random batches of ``s`` distinct rows."""
    mins = np.empty(count)
    for b in range(count):
        xb = x[rng.choice(x.shape[0], size=s, replace=False)]
        if s > 4096:
            mins[b] = closest_pairs(xb, 1)[1][0]
            continue
        norms = sq_norms(xb.astype(np.float64)).astype(xb.dtype)
        d = xb @ xb.T
        d *= -2.0
        d += norms[:, None]
        d += norms[None, :]
        np.fill_diagonal(d, np.inf)
        i, j = divmod(int(np.argmin(d)), s)
        mins[b] = float(np.linalg.norm(xb[i].astype(np.float64) - xb[j]))
    return mins


def birthday_test(samples, real, *, batch_sizes: Optional[Sequence[int]] = None,
                  num_batches: int = DEFAULT_BATCHES, quantile: float = 0.0, top: int = DEFAULT_TOP,
                  max_batch: int = 2048, seed: int = 0) -> Dict[str, object]:
    """Estimate the support size of ``samples`` with the birthday paradox.

    Args:
        samples: (M, D) generated rows (pixels or features).
        real: (R, D) real rows in the same space, used only to calibrate "duplicate" per batch size
            (held-out real data; distinct images).
        batch_sizes: batch sizes s to test (each 2 <= s <= min(M, R)); default: 8, 11, 16, 23, ...
            up to ``min(M // 4, R // 4, max_batch)``.
        num_batches: sample batches per size (twice as many real batches calibrate the threshold).
        quantile: duplicate threshold = this quantile of the real closest-pair distances (0 = minimum).
        top: closest pairs returned for the picture / sheet (from one sample batch of size s_half,
            or of the largest size when no size reaches 1/2).
        max_batch: cap on the default sizes (cost grows as s^2 D per batch).
        seed: seeds every batch draw (recorded).

    Returns:
        dict with ``batch_sizes``, ``duplicate_probability`` (per size), ``thresholds`` (per size),
        ``s_half`` (float or None), ``support_estimate`` (s_half^2), ``support_uniform``
        (s_half^2 / (2 ln 2)), ``status`` ("estimate"; "at_most" when the smallest size already
        has duplicates in half the batches; "at_least" when no size does, then the estimates are
        bounds from the smallest/largest size), ``pairs`` (list of [i, j] sample indices),
        ``pair_distances``, ``pair_is_duplicate``, ``pairs_batch_size``, ``num_batches``,
        ``quantile``, ``seed``, ``num_samples``, ``num_real``.
    """
    x = as_matrix(samples, "birthday_test(samples)", min_rows=2, dtype=None)
    r = as_matrix(real, "birthday_test(real)", min_rows=2, dim=x.shape[1], dtype=None)
    num_batches = check_int(num_batches, "birthday_test(num_batches)", minimum=2)
    seed = check_int(seed, "birthday_test(seed)", minimum=0)
    top = check_int(top, "birthday_test(top)", minimum=1)
    if isinstance(quantile, bool) or not isinstance(quantile, (int, float)) or not 0.0 <= float(quantile) < 0.5:
        raise GandiagError(f"birthday_test(quantile): must be in [0, 0.5), got {quantile!r}")
    limit = min(x.shape[0], r.shape[0])
    if batch_sizes is None:
        max_batch = check_int(max_batch, "birthday_test(max_batch)", minimum=2)
        if limit // 4 < 8:
            raise GandiagError(f"birthday_test: needs at least 32 samples and 32 real rows for the default batch "
                               f"sizes, got {x.shape[0]} and {r.shape[0]}; pass more, or explicit batch_sizes")
        sizes = default_batch_sizes(min(limit // 4, max_batch))
    else:
        sizes = sorted({check_int(s, "birthday_test(batch_sizes)", minimum=2) for s in batch_sizes})
        if not sizes:
            raise GandiagError("birthday_test(batch_sizes): empty; pass at least one batch size or None")
        if sizes[-1] > x.shape[0]:
            raise GandiagError(f"birthday_test(batch_sizes): batch size {sizes[-1]} is larger than the "
                               f"{x.shape[0]} samples; use batch sizes <= {x.shape[0]} or more samples")
        if sizes[-1] > r.shape[0]:
            raise GandiagError(f"birthday_test(batch_sizes): batch size {sizes[-1]} is larger than the "
                               f"{r.shape[0]} real rows that calibrate it; use more real images")
    rng = np.random.default_rng(seed)
    probs, thresholds = [], []
    for s in sizes:
        thr = float(np.quantile(_batch_minima(r, s, 2 * num_batches, rng), float(quantile)))
        fake = _batch_minima(x, s, num_batches, rng)
        probs.append(float(np.mean(fake < thr)))
        thresholds.append(thr)
    s_half, status = _crossing(sizes, probs)
    pair_size = int(min(max(2, round(s_half)), limit)) if status == "estimate" else \
        (sizes[0] if status == "at_most" else sizes[-1])
    pair_thr = float(np.interp(pair_size, sizes, thresholds))
    idx = np.random.default_rng([seed, 1]).choice(x.shape[0], size=pair_size, replace=False)
    pairs, dist = closest_pairs(x[idx], top)
    return {
        "batch_sizes": [int(s) for s in sizes],
        "duplicate_probability": probs,
        "thresholds": thresholds,
        "s_half": s_half,
        "support_estimate": s_half ** 2,
        "support_uniform": s_half ** 2 / (2.0 * math.log(2.0)),
        "status": status,
        "pairs": [[int(idx[i]), int(idx[j])] for i, j in pairs],
        "pair_distances": [float(d) for d in dist],
        "pair_is_duplicate": [bool(d < pair_thr) for d in dist],
        "pairs_batch_size": pair_size,
        "num_batches": num_batches,
        "quantile": float(quantile),
        "seed": seed,
        "num_samples": int(x.shape[0]),
        "num_real": int(r.shape[0]),
    }


def _crossing(sizes: Sequence[int], probs: Sequence[float]):
    """Batch size where the duplicate probability first reaches 1/2 (log-linear interpolation)."""
    for k, (s, p) in enumerate(zip(sizes, probs)):
        if p >= 0.5:
            if k == 0:
                return float(s), "at_most"
            s0, p0 = sizes[k - 1], probs[k - 1]
            t = (0.5 - p0) / (p - p0)
            return float(math.exp(math.log(s0) + t * (math.log(s) - math.log(s0)))), "estimate"
    return float(sizes[-1]), "at_least"


# ------------------------------------------------------------------------------------ metric record
def _step(ctx) -> Dict[str, object]:
    o = ctx.options
    space = o.birthday_space or ctx.default_extractor()
    held = ctx.heldout  # real images disjoint from the samples (checked by the context)
    if space == "pixels":
        ctx.require_same_shape("the birthday test in pixel space")
        fake = ctx.fake.images.reshape(len(ctx.fake), -1)
        real = held.images.reshape(len(held), -1)
    else:
        fake, real = ctx.features(space, "fake"), ctx.features(space, "heldout")
    out = birthday_test(fake, real, num_batches=o.birthday_batches, max_batch=o.birthday_max_batch, seed=o.seed)
    out["space"] = space
    if out["pairs"]:
        idx = np.asarray(out["pairs"])
        ctx.arrays["birthday_pairs"] = np.stack([ctx.fake.images[idx[:, 0]], ctx.fake.images[idx[:, 1]]], axis=1)
    return out


def _support_text(r) -> str:
    sign = {"estimate": "≈", "at_least": ">", "at_most": "≤"}[r["status"]]
    return f"{sign} {r['support_estimate']:,.0f}"


def _rows(r):
    from .record import Row

    dups = sum(r["pair_is_duplicate"])
    return [Row("birthday", f"support {_support_text(r)}",
                f"duplicates in half the batches at s = {r['s_half']:.0f}" if r["status"] == "estimate" else
                f"status {r['status']} (batch sizes {r['batch_sizes'][0]}..{r['batch_sizes'][-1]}); "
                f"{dups} of the {len(r['pairs'])} closest pairs below the real threshold",
                str(r.get("space", "")), flag=r["status"] != "at_least")]


def _summary(r) -> str:
    return (f"birthday test: support {_support_text(r)} images ({r['status']}; "
            f"{sum(r['pair_is_duplicate'])}/{len(r['pairs'])} closest pairs are duplicates)  [higher is better]")


def _register() -> None:
    from ..options import Option
    from .record import Metric, register_metric

    register_metric(Metric(
        "birthday", "Birthday-paradox support estimate", True, 0.0,
        "Batch size s at which half the generated batches contain a near-duplicate pair (closer than any "
        "real batch's closest pair); support ≈ s². Label-free; needs held-out real images.",
        PAPER, run=_step, feature_space="extractor", min_samples=32, needs_heldout=True,
        options=(Option("birthday_batches", int, DEFAULT_BATCHES, "birthday test: batches per batch size"),
                 Option("birthday_max_batch", int, 2048, "birthday test: largest batch size tried"),
                 Option("birthday_space", Optional[str], None, "birthday test: feature space (an extractor name or "
                        "pixels; default: the evaluation's extractor)")),
        rows=_rows, summary=_summary, section="Birthday-paradox test",
        function="gandiag.metrics.birthday.birthday_test", order=29))


_register()
