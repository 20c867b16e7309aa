"""gandiag: how good is your GAN really?

Public API (loaded lazily, so ``import gandiag`` stays light):

* :func:`evaluate`, :class:`EvaluateOptions` - every metric of a sample set against real data.
* :func:`load_source` - images from folders, arrays, TorchScript / ``.pt2`` / ONNX / callables / checkpoints.
* :func:`load_images`, :func:`load_mnist_subset` - real data, including the embedded MNIST subset.
* :func:`to_canonical` - the one image format (float32 NCHW in [0, 1]).
* :func:`get_extractor` - feature extractors (InceptionV3-FID, the shipped MNIST classifier, pixels).
* :mod:`gandiag.metrics` - FID, FID-inf, IS, KID, PRDC, Parzen, neighbours, mode coverage.
* :func:`diagnose` - mode collapse across checkpoints.
* :func:`register_metric` / :class:`Metric`, :func:`register_source` - the plug-in contract
  (one record per metric, one registered kind per source; docs/plugins.md).
* :class:`GandiagError` - the one exception type for user mistakes.
"""
__version__ = "0.1.0"

from .errors import GandiagError  # noqa: E402

_LAZY = {
    "evaluate": ("gandiag.evaluation", "evaluate"),
    "EvaluateOptions": ("gandiag.evaluation", "EvaluateOptions"),
    "load_source": ("gandiag.sources", "load_source"),
    "load_images": ("gandiag.data", "load_images"),
    "load_mnist_subset": ("gandiag.data", "load_mnist_subset"),
    "ImageSet": ("gandiag.data", "ImageSet"),
    "to_canonical": ("gandiag.images", "to_canonical"),
    "get_extractor": ("gandiag.features", "get_extractor"),
    "diagnose": ("gandiag.diagnostics.run", "diagnose"),
    "metrics": ("gandiag.metrics", None),
    "Metric": ("gandiag.metrics.record", "Metric"),
    "register_metric": ("gandiag.metrics.record", "register_metric"),
    "register_source": ("gandiag.data.kinds", "register_source"),
}

__all__ = ["GandiagError", "__version__", *_LAZY]


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'gandiag' has no attribute {name!r}")
    import importlib

    module_name, attr = _LAZY[name]
    module = importlib.import_module(module_name)
    return module if attr is None else getattr(module, attr)
