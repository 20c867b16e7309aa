"""gandiag: how good is your GAN really?

Public API (pure functions over arrays; see docs/):

* images: :func:`gandiag.images.to_canonical` - the one image format (float32 NCHW in [0, 1]).
* data: :func:`gandiag.data.load_images`, :func:`gandiag.data.load_mnist_subset`.
* metrics: :mod:`gandiag.metrics` (FID, FID-inf, IS, KID, PRDC, Parzen, neighbours, modes).
* errors: :class:`GandiagError`, the one exception type for user mistakes.
"""
__version__ = "0.1.0"

from .errors import GandiagError  # noqa: E402

__all__ = ["GandiagError", "__version__"]
