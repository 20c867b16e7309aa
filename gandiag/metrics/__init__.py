"""Metric core: pure functions over (N, D) arrays, float64 statistics.

One module per family; everything is re-exported here:

* :class:`FeatureStats` - streaming mean / covariance (N-1), merge, save/load (pytorch-fid .npz).
* :func:`frechet_distance`, :func:`fid_from_features` - FID without ``sqrtm``.
* :func:`fid_infinity` - Chong & Forsyth's extrapolated FID.
* :func:`inception_score`, :func:`inception_score_from_logits`.
* :func:`kid` - Kernel Inception Distance (torch-fidelity's subsets).
* :func:`prdc` - precision / recall / density / coverage, chunked.
* :func:`parzen_log_likelihood`, :func:`parzen_select_sigma` - Goodfellow et al. 2014's protocol.
* :func:`nearest_neighbours` - exact chunked k-NN (l2 / cosine).
* :func:`mode_coverage` - modes covered, KL to the data's class histogram.
* :func:`copy_score` - data-copying test from nearest-neighbour distances.
* :data:`METRICS` / :class:`Metric` / :func:`register_metric` - the metric records (one per metric:
  name, metadata, evaluation step, options, report rows, summary line) read by evaluate, the CLI,
  the report and the docs; see docs/plugins.md. Every public module here is discovered, so a new
  metric is one new file.

See docs/metrics.md.
"""
from .fid_infinity import default_subset_sizes, fid_infinity
from .frechet import fid_from_features, frechet_distance
from .inception_score import inception_score, inception_score_from_logits
from .copying import copy_score
from .kid import kid, mmd2_unbiased
from .modes import mode_coverage
from .neighbours import nearest_neighbours
from .parzen import parzen_log_likelihood, parzen_select_sigma
from .prdc import prdc
from .stats import FeatureStats
from .record import (METRICS, Context, Metric, Part, Row, canonical_name, canonical_results, default_metrics,
                     discover, get_metric, get_metric_info, list_metrics, register_metric)

__all__ = [
    "FeatureStats", "frechet_distance", "fid_from_features", "fid_infinity", "default_subset_sizes",
    "inception_score", "inception_score_from_logits", "kid", "mmd2_unbiased", "prdc",
    "parzen_log_likelihood", "parzen_select_sigma", "nearest_neighbours", "mode_coverage",
    "copy_score", "METRICS", "Metric", "Part", "Row", "Context", "register_metric", "get_metric", "get_metric_info",
    "list_metrics", "default_metrics", "canonical_name", "canonical_results", "discover",
]

discover()  # every public module of this package (and gandiag.metrics entry points) registers its records
