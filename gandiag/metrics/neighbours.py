"""Exact k-nearest-neighbour search (brute force, blocked), for memorization checks.

The classic check for a GAN that copies its training set (Goodfellow et al.
2014, Fig. 2, rightmost column) shows each generated sample next to its nearest
training example. This module finds those neighbours exactly:

* ``"l2"``: ``d(q, r) = sqrt(max(|q|^2 - 2 q.r + |r|^2, 0))`` in float64;
* ``"cosine"``: ``d(q, r) = 1 - q.r / (|q| |r|)`` clipped to [0, 2]; zero rows have
  similarity 0 (distance 1), as in scikit-learn.

Queries and reference rows are processed in blocks, so the extra memory is
~chunk_size * 2048 * 8 bytes (16 MiB by default) plus (Q, k) results, even for
60 000 x 784 MNIST references (float32 references are never copied whole).
Indices equal scikit-learn's ``NearestNeighbors(algorithm="brute")`` on
tie-free data; exact ties are ordered by reference index.

Speed without giving up exactness ("l2"): candidates are ranked with a float32
matrix product (twice the float64 throughput), keeping the k+8 best per query.
A rigorous bound ``B`` on the float32 rounding error of every score
(``|fl(s) - s| <= B``, from ``gamma_n = n u / (1 - n u)``, u = 2^-24) certifies the
candidates: if ``s32_(k+8) - s32_(k) > 2B`` no other reference row can be among
the true k nearest. The candidates are re-scored in float64 and the k best
kept; queries whose gap is too small (clusters of near-ties) are redone
entirely in float64.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from ..errors import GandiagError
from ._checks import as_matrix, check_int, sq_norms
from ._parallel import map_blocks

METRICS = ("l2", "cosine")

# Up to this k, k passes of argmin beat np.argpartition (argpartition's per-row
# introselect measured ~30x slower per element on wide float64 rows for tiny k).
_ARGMIN_MAX_K = 16
# Reference rows per block: a (chunk_size x 2048) score block stays cache-friendly.
_REF_BLOCK = 2048
_U32 = 2.0 ** -24
# Candidates kept beyond k by the float32 screen; the certificate needs a 2B gap between
# the k-th and the (k + this)-th float32 score, which near-ties almost never close.
_EXTRA_CANDIDATES = 8


def smallest_k(block: np.ndarray, k: int) -> Tuple[np.ndarray, np.ndarray]:
    """Column indices and values of the k smallest entries of each row, ascending.

    Exact ties are ordered by column index. ``block`` (rows, cols) is overwritten.

    Returns:
        (indices (rows, k) int64, values (rows, k) in block's dtype).
    """
    rows = np.arange(block.shape[0])
    if k <= _ARGMIN_MAX_K:
        idx = np.empty((block.shape[0], k), dtype=np.int64)
        vals = np.empty((block.shape[0], k), dtype=block.dtype)
        for j in range(k):
            col = np.argmin(block, axis=1)  # first occurrence: ties go to the lower index
            idx[:, j] = col
            vals[:, j] = block[rows, col]
            block[rows, col] = np.inf
        return idx, vals
    if k < block.shape[1]:
        cand = np.argpartition(block, k - 1, axis=1)[:, :k]
    else:
        cand = np.broadcast_to(np.arange(block.shape[1]), block.shape).copy()
    cand_vals = np.take_along_axis(block, cand, axis=1)
    order = np.lexsort((cand, cand_vals), axis=1)  # by value, then by index for exact ties
    return np.take_along_axis(cand, order, axis=1), np.take_along_axis(cand_vals, order, axis=1)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.sqrt(sq_norms(x))
    norms[norms == 0.0] = 1.0  # zero rows stay zero: similarity 0 with everything
    return x / norms[:, None]


def _blocked_topk(qry: np.ndarray, ref: np.ndarray, k: int, chunk_size: int, dtype, negate: bool
                  ) -> Tuple[np.ndarray, np.ndarray, float]:
    """Running top-k of ``|r|^2 - 2 q.r`` (or ``-q.r`` with negate) over reference blocks.

    Reference blocks are the outer loop, so each is cast to ``dtype`` once; a
    running (Q, k) candidate list is merged block by block, earlier (lower
    index) candidates first so exact ties keep the lower index.

    Returns:
        (indices (Q, k), scores (Q, k) in dtype, largest reference row norm).
    """
    n_q, n_ref = qry.shape[0], ref.shape[0]
    q = np.asarray(qry, dtype=dtype)

    def block(r_lo: int):
        r_hi = min(n_ref, r_lo + _REF_BLOCK)
        ref_block = np.asarray(ref[r_lo:r_hi], dtype=dtype)
        # Norms in the working dtype: their float32 rounding is inside the screening bound.
        block_sq = sq_norms(ref_block)
        k_block = min(k, r_hi - r_lo)
        new_idx = np.empty((n_q, k_block), dtype=np.int64)
        new_val = np.empty((n_q, k_block), dtype=dtype)
        for lo in range(0, n_q, chunk_size):
            hi = min(n_q, lo + chunk_size)
            scores = q[lo:hi] @ ref_block.T
            if negate:
                np.negative(scores, out=scores)
            else:
                # Rank by |r|^2 - 2 q.r: |q|^2 is constant per query and added for the winners only.
                scores *= -2.0
                scores += block_sq[None, :]
            idx, val = smallest_k(scores, k_block)
            new_idx[lo:hi] = idx + r_lo
            new_val[lo:hi] = val
        return new_idx, new_val, float(block_sq.max())

    best_idx = np.zeros((n_q, 0), dtype=np.int64)
    best_val = np.zeros((n_q, 0), dtype=dtype)
    max_ref_sq = 0.0
    # Reference blocks run one per core; merging in block order keeps exact ties on the lower index.
    for new_idx, new_val, block_max in map_blocks(block, range(0, n_ref, _REF_BLOCK)):
        max_ref_sq = max(max_ref_sq, block_max)
        merged_idx = np.concatenate([best_idx, new_idx], axis=1)
        merged_val = np.concatenate([best_val, new_val], axis=1)
        pos, best_val = smallest_k(merged_val, min(k, merged_idx.shape[1]))
        best_idx = np.take_along_axis(merged_idx, pos, axis=1)
    return best_idx, best_val, float(np.sqrt(max_ref_sq))


def _exact_l2(qry: np.ndarray, ref: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """float64 distances from each query to its candidate reference rows idx (Q, c)."""
    cand = np.asarray(ref[idx], dtype=np.float64)  # (Q, c, D)
    d2 = sq_norms(qry)[:, None] - 2.0 * np.einsum("qd,qcd->qc", qry, cand) + np.einsum("qcd,qcd->qc", cand, cand)
    return np.sqrt(np.maximum(d2, 0.0))


def _screened_l2(qry: np.ndarray, ref: np.ndarray, k: int, chunk_size: int) -> Tuple[np.ndarray, np.ndarray]:
    """float32 screening certified by an error bound, float64 re-scoring (see module doc)."""
    n_ref = ref.shape[0]
    kk = min(n_ref, k + _EXTRA_CANDIDATES)
    idx32, s32, r_max = _blocked_topk(qry, ref, kk, chunk_size, np.float32, negate=False)
    r_max *= 1.0 + 1e-3  # r_max came from float32 norms: inflate past their relative error
    q_norm = np.sqrt(sq_norms(qry))
    n = qry.shape[1] + 8  # D products + input/norm/subtraction roundings, with margin
    gamma = n * _U32 / (1.0 - n * _U32)
    # |fl32(|r|^2 - 2 q.r) - (|r|^2 - 2 q.r)| <= gamma (2 |q| |r| + 2 |r|^2) + underflow slack.
    bound = gamma * (2.0 * q_norm * r_max + 2.0 * r_max * r_max) + 1e-30 * n * (1.0 + q_norm + r_max)
    s32 = s32.astype(np.float64)
    # Every row outside the kk candidates scores >= s32[kk-1] - B; every float32 top-k row
    # scores <= s32[k-1] + B. A gap > 2B therefore puts the true top-k inside the candidates.
    certified = (s32[:, kk - 1] - s32[:, k - 1] > 2.0 * bound) | (kk == n_ref)  # NaN/inf -> False
    dist = _exact_l2(qry, ref, idx32)
    order = np.lexsort((idx32, dist), axis=1)[:, :k]  # exact distance, ties by index
    idx = np.take_along_axis(idx32, order, axis=1)
    dist = np.take_along_axis(dist, order, axis=1)
    redo = np.flatnonzero(~certified)
    if redo.size:
        r_idx, _, _ = _blocked_topk(qry[redo], ref, k, chunk_size, np.float64, negate=False)
        r_dist = _exact_l2(qry[redo], ref, r_idx)
        r_order = np.lexsort((r_idx, r_dist), axis=1)
        idx[redo] = np.take_along_axis(r_idx, r_order, axis=1)
        dist[redo] = np.take_along_axis(r_dist, r_order, axis=1)
    return idx, dist


def nearest_neighbours(queries, reference, k: int = 1, metric: str = "l2", *,
                       chunk_size: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
    """The k nearest rows of ``reference`` for every row of ``queries``.

    Args:
        queries: (Q, D) array (e.g. flattened generated images).
        reference: (R, D) array (e.g. the training set), R >= k.
        k: neighbours per query.
        metric: "l2" (Euclidean) or "cosine".
        chunk_size: queries per block (default 1024; score blocks are chunk_size x 2048).

    Returns:
        (indices (Q, k) int64, distances (Q, k) float64), sorted by increasing distance.
    """
    if metric not in METRICS:
        raise GandiagError(f"nearest_neighbours(metric): unknown metric {metric!r}; valid values are: "
                           f"{', '.join(METRICS)}")
    # The reference keeps its float dtype (float32 images are cast block by block).
    ref = as_matrix(reference, "nearest_neighbours(reference)", min_rows=1, dtype=None)
    qry = as_matrix(queries, "nearest_neighbours(queries)", min_rows=1, dim=ref.shape[1])
    n_ref = ref.shape[0]
    k = check_int(k, "nearest_neighbours(k)", minimum=1, maximum=n_ref,
                  hint=f" (the reference has {n_ref} rows)")
    chunk_size = check_int(1024 if chunk_size is None else chunk_size, "nearest_neighbours(chunk_size)",
                           minimum=1)
    if metric == "cosine":
        ref_u, qry_u = _unit_rows(ref.astype(np.float64)), _unit_rows(qry)
        idx, neg_sim, _ = _blocked_topk(qry_u, ref_u, k, chunk_size, np.float64, negate=True)
        return idx, np.clip(1.0 + neg_sim, 0.0, 2.0)
    if k < n_ref:
        return _screened_l2(qry, ref, k, chunk_size)
    idx, _, _ = _blocked_topk(qry, ref, k, chunk_size, np.float64, negate=False)
    dist = _exact_l2(qry, ref, idx)
    order = np.lexsort((idx, dist), axis=1)
    return np.take_along_axis(idx, order, axis=1), np.take_along_axis(dist, order, axis=1)


# ------------------------------------------------------------------------------------ metric record
def _neighbours_step(ctx):
    from ..errors import GandiagError as _Error
    from ..images import flatten
    from .copying import copy_score

    ctx.require_same_shape("neighbours")
    held = ctx.heldout
    train = flatten(ctx.ref.images)
    k = ctx.options.neighbours_k
    idx, dist = nearest_neighbours(flatten(ctx.fake.images), train, k=k)
    d_test = ctx.memo("heldout-to-train", lambda: nearest_neighbours(flatten(held.images), train, k=1)[1][:, 0])
    score = copy_score(dist[:, 0], d_test)
    q = min(ctx.options.neighbour_queries, len(ctx.fake))
    queries = np.random.default_rng(ctx.options.seed).choice(len(ctx.fake), q, replace=False)
    out = {**score, "k": k, "num_samples": len(ctx.fake), "num_train": len(train), "num_heldout": len(held),
           "space": "pixels (l2)", "query_indices": queries.tolist(),
           "pixel_neighbours": idx[queries].tolist(), "pixel_distances": dist[queries].tolist()}
    ctx.arrays["nn_queries"] = ctx.fake.images[queries]
    ctx.arrays["nn_pixel"] = ctx.ref.images[idx[queries]]
    try:
        name = ctx.default_extractor()
        fidx, fdist = nearest_neighbours(ctx.features(name, "fake")[queries], ctx.features(name, "ref"), k=k)
        out.update(feature_extractor=name, feature_neighbours=fidx.tolist(), feature_distances=fdist.tolist())
        ctx.arrays["nn_feature"] = ctx.ref.images[fidx]
    except _Error as exc:  # e.g. Inception weights absent: pixel-space neighbours still stand
        out["feature_neighbours_unavailable"] = str(exc)
    return out


def _neighbours_rows(r):
    from .record import Row, fmt

    value = f"median {fmt(r.get('median_distance'))}\nheld-out real: {fmt(r.get('test_median_distance'))}"
    detail = (f"{fmt(r.get('copy_fraction'), percent=True)} unusually close\n"
              f"{fmt(r.get('expected_fraction'), percent=True)} expected")
    return [Row("neighbours", value, detail, str(r.get("space", "")), flag=bool(r.get("copying")))]


def _neighbours_summary(n):
    flag = "COPYING FLAGGED" if n["copying"] else "no copying"
    return (f"data copying: {n['copy_fraction']:.1%} of samples closer to training data than 95% of held-out images "
            f"(expected ~{n['expected_fraction']:.0%}) -> {flag}")


def _register():
    from ..options import Option
    from .record import Metric, register_metric

    register_metric(Metric(
        "neighbours", "Nearest-training-example distance", None, 0.0,
        "Distance from each generated sample to its nearest training example; values far below the real "
        "test-to-train distances indicate memorization.",
        "Goodfellow et al. Generative Adversarial Nets. NeurIPS 2014 (Fig. 2 nearest-neighbour column); copying "
        "test after Meehan, Chaudhuri, Dasgupta. AISTATS 2020",
        run=_neighbours_step, feature_space="pixels (l2); grids also in the extractor's space", min_samples=1,
        needs_heldout=True,
        options=(Option("neighbours_k", int, 5, "nearest training images per generated sample"),
                 Option("neighbour_queries", int, 8, "generated samples shown with their neighbours in the report")),
        rows=_neighbours_rows, summary=_neighbours_summary, section="Nearest training images and data copying",
        default_for=("mnist",), function="gandiag.metrics.nearest_neighbours", order=70))


_register()
