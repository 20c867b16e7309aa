"""NDB: the Number of statistically Different Bins (Richardson & Weiss 2018).

A label-free mode-collapse test ("On GANs and GMMs", NeurIPS 2018, Sec. 4;
the authors' code is ``utils/ndb.py`` in eitanrich/gans-n-gmms):

1. cluster the reference rows (any feature space, pixels included) into K bins
   with seeded k-means; each bin's reference proportion is ``P_k = n_k / N``;
2. assign each of the M generated rows to the nearest bin centre (L2), giving
   proportions ``Q_k``;
3. per bin, the pooled two-proportion z-test::

       p  = (N P_k + M Q_k) / (N + M)
       se = sqrt(p (1 - p) (1/N + 1/M))
       z  = (P_k - Q_k) / se,       p-value = 2 Phi(-|z|)

   the bin is *statistically different* when the p-value is below ``alpha``
   (0.05 by default, as in the paper);
4. report NDB (the count) and NDB/K, the Jensen-Shannon divergence
   ``JS(P, Q)`` (natural log) of the two histograms, and which bins are
   under-populated (``Q_k < P_k``: what the generator no longer draws) or
   over-populated.

Defaults follow the authors' code: K = 100, alpha = 0.05, no whitening,
at most 100 Lloyd iterations; bins are ordered by decreasing reference size.
Their code clusters a random sixth of the dimensions when D > 1000 and runs
scikit-learn's default 10 restarts; here every dimension is used and k-means
runs once (k-means++ seeding from ``seed``), which is what makes NDB on 50k
Inception features affordable on a laptop.

k-means backend: scikit-learn's ``KMeans(algorithm="lloyd")`` (Cython, OpenMP
threads, float32 kept as float32). A numpy/BLAS Lloyd loop written for this
module was measured 2-6x slower at 50,000 rows (D = 128 and 784, K = 100, same
initial centres, same labels), so it was dropped.

Like every hypothesis test, NDB depends on the sample sizes: with more samples
smaller differences become significant, so compare models at equal M (and N).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np

from ..errors import GandiagError
from ._checks import as_matrix, check_int

PAPER = "Richardson, Weiss. On GANs and GMMs. NeurIPS 2018"
DEFAULT_BINS = 100
DEFAULT_ALPHA = 0.05
DEFAULT_EXAMPLES = 8


@dataclass(frozen=True)
class NDBBins:
    """The K bins of a reference set.

    Attributes:
        centres: (K, D) float64 bin centres (mean of each bin's reference rows), largest bin first.
        counts: (K,) reference rows per bin.
        examples: (K, E) indices of the reference rows nearest each centre (-1 pads small bins),
            for showing "what this bin looks like".
        seed: the k-means seed.
        n_iter, converged: Lloyd iterations run and whether assignments stopped changing.
    """

    centres: np.ndarray
    counts: np.ndarray
    examples: np.ndarray
    seed: int
    n_iter: int
    converged: bool

    @property
    def num_bins(self) -> int:
        return int(self.centres.shape[0])

    @property
    def reference_size(self) -> int:
        return int(self.counts.sum())

    @property
    def proportions(self) -> np.ndarray:
        return self.counts / self.counts.sum()


def ndb_bins(reference, num_bins: int = DEFAULT_BINS, *, seed: int = 0, max_iter: int = 100,
             num_examples: int = DEFAULT_EXAMPLES) -> NDBBins:
    """Cluster reference rows into NDB bins.

    Args:
        reference: (N, D) reference features (float32 stays float32 for the distance products).
        num_bins: K, at most N.
        seed: k-means++ seed (recorded in the result).
        max_iter: Lloyd iterations at most.
        num_examples: reference rows kept per bin, nearest its centre first.
    """
    x = as_matrix(reference, "ndb(reference)", min_rows=2, dtype=None)
    n = x.shape[0]
    k = check_int(num_bins, "ndb(num_bins)", minimum=2, maximum=n,
                  hint=f" (the reference has {n} rows; use fewer bins or more reference images)")
    seed = check_int(seed, "ndb(seed)", minimum=0)
    max_iter = check_int(max_iter, "ndb(max_iter)", minimum=1)
    num_examples = check_int(num_examples, "ndb(num_examples)", minimum=1)
    centres, labels, sq_dist, n_iter = _kmeans(x, k, seed=seed, max_iter=max_iter)
    counts = np.bincount(labels, minlength=k)
    order = np.argsort(-counts, kind="stable")
    rank = np.empty(k, dtype=np.int64)
    rank[order] = np.arange(k)
    labels = rank[labels]
    examples = np.full((k, num_examples), -1, dtype=np.int64)
    by_bin = np.lexsort((sq_dist, labels))        # rows grouped by bin, nearest its centre first
    starts = np.searchsorted(labels[by_bin], np.arange(k))
    ends = np.searchsorted(labels[by_bin], np.arange(k), side="right")
    for b in range(k):
        rows = by_bin[starts[b]:min(ends[b], starts[b] + num_examples)]
        examples[b, :rows.size] = rows
    return NDBBins(centres[order], counts[order], examples, seed, n_iter, n_iter < max_iter)


def _kmeans(x: np.ndarray, k: int, *, seed: int, max_iter: int):
    """One seeded k-means run: ``(centres (K, D) float64, labels (N,), squared distances (N,), iterations)``."""
    import warnings

    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        # fewer distinct rows than K: reported below as an error, not as a warning
        warnings.simplefilter("ignore", ConvergenceWarning)
        km = KMeans(n_clusters=k, init="k-means++", n_init=1, max_iter=max_iter, algorithm="lloyd",
                    random_state=seed).fit(x)
    labels = km.labels_.astype(np.int64)
    if np.unique(labels).size < k:
        raise GandiagError(f"ndb(num_bins): the reference has fewer than {k} distinct rows "
                           f"(k-means found {np.unique(labels).size} clusters); use fewer bins")
    # Bin centres = the mean of each bin's rows, as the authors recompute them (scikit-learn's
    # cluster_centers_ are one tol-stopped step behind its final labels).
    centres = np.stack([x[labels == i].mean(axis=0, dtype=np.float64) for i in range(k)])
    sq_dist = np.empty(x.shape[0], dtype=np.float64)
    for s in range(0, x.shape[0], 8192):  # blocks: no second (N, D) copy
        diff = x[s:s + 8192] - centres[labels[s:s + 8192]].astype(x.dtype)
        sq_dist[s:s + 8192] = np.einsum("ij,ij->i", diff, diff)
    return centres, labels, sq_dist, int(km.n_iter_)


def assign(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest centre (L2) of each row, via scikit-learn's chunked argmin."""
    from sklearn.metrics import pairwise_distances_argmin

    return pairwise_distances_argmin(x, centres.astype(x.dtype)).astype(np.int64)


def two_proportion_z(p1: np.ndarray, n1: int, p2: np.ndarray, n2: int):
    """Pooled two-proportion z statistics and two-sided p-values (a bin empty on both sides: z=0, p=1)."""
    from scipy.special import ndtr  # here, not at module level: scipy.special costs ~0.5-1 s at start-up

    p = (p1 * n1 + p2 * n2) / (n1 + n2)
    se = np.sqrt(p * (1.0 - p) * (1.0 / n1 + 1.0 / n2))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (p1 - p2) / se, 0.0)
    return z, 2.0 * ndtr(-np.abs(z))


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence of two histograms, natural log (in [0, ln 2])."""
    m = 0.5 * (p + q)
    out = 0.0
    for a in (p, q):
        nz = a > 0
        out += 0.5 * float(np.sum(a[nz] * np.log(a[nz] / m[nz])))
    return out


def ndb(samples, reference=None, *, bins: Optional[NDBBins] = None, num_bins: int = DEFAULT_BINS,
        alpha: float = DEFAULT_ALPHA, seed: int = 0) -> Dict[str, object]:
    """NDB/K and JS divergence of generated rows against reference bins.

    Args:
        samples: (M, D) generated features, same extractor as the reference.
        reference: (N, D) reference features (clustered here), or pass ``bins``.
        bins: precomputed :func:`ndb_bins` (reuse them across checkpoints: same bins, comparable NDB).
        num_bins, seed: k-means settings when ``reference`` is given.
        alpha: significance level of each per-bin test, in (0, 1).

    Returns:
        dict with ``ndb`` (count), ``ndb_k`` (NDB/K), ``js``, ``num_bins``, ``alpha``, ``seed``,
        ``num_samples``, ``num_reference``, ``reference_proportions``, ``sample_proportions``,
        ``z``, ``p_values``, ``under`` / ``over`` (significantly under/over-populated bins, most
        significant first), ``sample_bins`` ((M,) bin of each sample, int64 array) and
        ``kmeans_converged``.
    """
    if (reference is None) == (bins is None):
        raise GandiagError("ndb: pass either reference (features to cluster) or bins (from ndb_bins), exactly one")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 < float(alpha) < 1.0:
        raise GandiagError(f"ndb(alpha): the significance level must be in (0, 1), got {alpha!r} (the paper uses 0.05)")
    if bins is None:
        bins = ndb_bins(reference, num_bins, seed=seed)
    x = as_matrix(samples, "ndb(samples)", min_rows=1, dim=bins.centres.shape[1], dtype=None)
    labels = assign(x, bins.centres)
    m = x.shape[0]
    k = bins.num_bins
    q = np.bincount(labels, minlength=k) / m
    p = bins.proportions
    z, pv = two_proportion_z(p, bins.reference_size, q, m)
    different = pv < float(alpha)
    by_sig = np.argsort(pv, kind="stable")
    under = [int(b) for b in by_sig if different[b] and q[b] < p[b]]
    over = [int(b) for b in by_sig if different[b] and q[b] > p[b]]
    ndb_count = int(different.sum())
    return {
        "ndb": ndb_count,
        "ndb_k": ndb_count / k,
        "js": js_divergence(p, q),
        "num_bins": k,
        "alpha": float(alpha),
        "seed": bins.seed,
        "num_samples": int(m),
        "num_reference": bins.reference_size,
        "reference_proportions": [float(v) for v in p],
        "sample_proportions": [float(v) for v in q],
        "z": [float(v) for v in z],
        "p_values": [float(v) for v in pv],
        "under": under,
        "over": over,
        "sample_bins": labels,
        "kmeans_converged": bins.converged,
    }


def under_populated_examples(result: Dict[str, object], bins: NDBBins, limit: int = 8) -> List[List[int]]:
    """Reference row indices nearest the centres of the ``limit`` most significant under-populated bins."""
    return [[int(i) for i in bins.examples[b] if i >= 0] for b in list(result["under"])[:limit]]


# ------------------------------------------------------------------------------------ metric record
def _space(ctx) -> str:
    """NDB's feature space: --ndb-space, else the evaluation's default extractor."""
    return ctx.options.ndb_space or ctx.default_extractor()


def _rows_of(ctx, which: str, space: str) -> np.ndarray:
    if space == "pixels":
        images = ctx.fake.images if which == "fake" else ctx.ref.images
        return images.reshape(len(images), -1)
    return ctx.features(space, which)


def _step(ctx) -> Dict[str, object]:
    o = ctx.options
    space = _space(ctx)
    if space == "pixels":
        ctx.require_same_shape("ndb in pixel space")
    bins = ctx.memo(("ndb-bins", space, o.ndb_bins, o.seed),
                    lambda: ndb_bins(_rows_of(ctx, "ref", space), o.ndb_bins, seed=o.seed))
    out = ndb(_rows_of(ctx, "fake", space), bins=bins, alpha=o.ndb_alpha)
    out.pop("sample_bins")
    examples = under_populated_examples(out, bins, limit=8)
    out["under_examples"] = examples            # reference row indices, nearest each centre first
    if examples:  # for the report: (bins, 8, C, H, W) real images nearest each under-populated centre
        tiles = np.zeros((len(examples), DEFAULT_EXAMPLES) + tuple(ctx.ref.shape), dtype=np.float32)
        for b, ex in enumerate(examples):
            tiles[b, :len(ex)] = ctx.ref.images[np.asarray(ex[:DEFAULT_EXAMPLES])]
        ctx.arrays["ndb_under_images"] = tiles
    labels = ctx.ref.labels
    if labels is not None and examples:       # which real classes the abandoned bins hold
        out["under_majority_labels"] = [int(np.bincount(labels[np.asarray(ex)]).argmax()) for ex in examples]
    out["space"] = space
    return out


def _rows(r):
    from .record import Row, fmt

    detail = f"JS {fmt(r['js'])}; {len(r['under'])} bins too empty, {len(r['over'])} too full " \
             f"(alpha {r['alpha']:g}, {r['num_samples']} vs {r['num_reference']} images)"
    return [Row("ndb", f"{r['ndb']} / {r['num_bins']} (NDB/K {r['ndb_k']:.2f})", detail, str(r.get("space", "")),
                flag=r["ndb_k"] > 0.25)]


def _summary(r) -> str:
    return (f"NDB: {r['ndb']}/{r['num_bins']} bins differ (NDB/K {r['ndb_k']:.3f}, JS {r['js']:.4f}); "
            f"{len(r['under'])} under-populated  [lower is better]")


def _register() -> None:
    from ..options import Option
    from .record import Metric, register_metric

    register_metric(Metric(
        "ndb", "Number of statistically different bins (NDB/K)", False, 0.0,
        "k-means bins of the reference; per bin a two-proportion z-test of generated vs reference share. "
        "Label-free: the under-populated bins show what the generator no longer draws.",
        PAPER, run=_step, upper_bound=1.0, feature_space="extractor", min_samples=20,
        options=(Option("ndb_bins", int, DEFAULT_BINS, "NDB: number of k-means bins K (the paper's 100)"),
                 Option("ndb_alpha", float, DEFAULT_ALPHA, "NDB: significance level of each bin's z-test"),
                 Option("ndb_space", Optional[str], None, "NDB: feature space (an extractor name or pixels; "
                        "default: the evaluation's extractor)")),
        rows=_rows, summary=_summary, section="Statistically different bins (NDB)",
        default_for=("fashion",), function="gandiag.metrics.ndb.ndb", order=28))


_register()
