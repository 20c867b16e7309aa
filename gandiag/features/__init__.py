"""Feature extractors: canonical images -> ``(N, D)`` features and ``(N, K)`` logits.

Public API:

* :func:`get_extractor`, :func:`register_extractor`, :func:`list_extractors`,
  :data:`EXTRACTORS` - the registry (``inception-v3-fid``, ``mnist-classifier``,
  ``pixels``, plus any ``nn.Module`` / TorchScript file / ``module:callable``).
* :class:`Extractor` - the common interface (``name``, ``feature_dim``,
  ``num_classes``, ``provenance()``, ``extract(images, batch_size=, outputs=)``).
* :func:`extract_stats` - streaming float64 FeatureStats of an image set.
* :func:`cached_features`, :func:`cached_stats` - content-addressed reference cache.
* :func:`time_extraction` - images/s, latency percentiles, peak memory, AMP deviation.
* :func:`stacked_mnist_modes`, :func:`classify_stacked_mnist` - Stacked-MNIST's 1000 modes.
* :mod:`gandiag.features.distributed` - torchrun-sharded extraction.

See docs/extractors.md.
"""
from .base import Extractor, extract_stats
from .cache import cached_features, cached_stats, default_cache_dir
from .mnist_classifier import classify_stacked_mnist, stacked_mnist_modes
from .registry import EXTRACTORS, get_extractor, list_extractors, register_extractor
from .timing import TimingReport, time_extraction

__all__ = [
    "EXTRACTORS", "Extractor", "TimingReport", "cached_features", "cached_stats", "classify_stacked_mnist",
    "default_cache_dir", "extract_stats", "get_extractor", "list_extractors", "register_extractor",
    "stacked_mnist_modes", "time_extraction",
]
