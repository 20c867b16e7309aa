"""``mnist-classifier``: a small CNN trained on MNIST, shipped with gandiag.

The InceptionV3 was trained on ImageNet photographs; for 28x28 digits a digit
classifier gives the more meaningful feature space (the "MNIST-FID" of many GAN
papers) and the labels needed for mode counting. Its uses:

* ``logits`` / :meth:`MnistClassifierExtractor.probabilities`: 10 classes, for an
  MNIST Inception Score and per-digit mode coverage;
* ``features``: the 128-d penultimate layer (after ReLU), for MNIST-FID, KID,
  PRDC and nearest neighbours in feature space;
* :func:`stacked_mnist_modes`: Stacked MNIST (Metz et al., "Unrolled GANs", 2017;
  Srivastava et al., VEEGAN, 2017) classifies each of the 3 channels, giving
  ``10^3 = 1000`` modes.

Architecture (:class:`MnistCNN`, 218,490 parameters, 0.9 MB file)::

    (x - 0.1307) / 0.3081                       MNIST mean / std normalisation
    conv3x3(1->16)+ReLU, conv3x3(16->16)+ReLU, maxpool2    -> 16 x 14 x 14
    conv3x3(16->32)+ReLU, conv3x3(32->32)+ReLU, maxpool2   -> 32 x 7 x 7
    linear(1568->128)+ReLU  = features          -> dropout(0.3) (training only)
    linear(128->10)         = logits

The weights ship as ``weights/mnist_classifier.pt``; their sha256 is pinned in
:data:`SHIPPED_SHA256` and verified on every load. They were produced by
``python -m gandiag.features.train_mnist_classifier --out ... --threads 2`` (seed 0,
12 epochs on the embedded 8,000-digit training split with +-2 pixel shifts, torch
2.14 on CPU). Held-out accuracy on the embedded 2,000-digit test split: 98.80%,
asserted (>= 98%) by ``tests/gandiag/features/test_mnist_classifier.py``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import GandiagError
from .base import Extractor
from .weights import check_state_dict, load_state_dict

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
SHIPPED_WEIGHTS = WEIGHTS_DIR / "mnist_classifier.pt"
SHIPPED_SHA256 = "7cc900f37ea7d61cb84a211cc9475210296dad8bebadca2a123b54d6219ecf0a"
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
FEATURE_DIM = 128
NUM_CLASSES = 10
IMAGE_SIZE = 28


class MnistCNN(nn.Module):
    """``(N, 1, 28, 28)`` in ``[0, 1]`` -> ``(features (N, 128), logits (N, 10))``."""

    def __init__(self, width: int = 16, feature_dim: int = FEATURE_DIM, dropout: float = 0.3):
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.conv3 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.conv4 = nn.Conv2d(2 * width, 2 * width, 3, padding=1)
        self.fc1 = nn.Linear(2 * width * 7 * 7, feature_dim)
        self.fc2 = nn.Linear(feature_dim, NUM_CLASSES)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        x = (x - MNIST_MEAN) / MNIST_STD
        x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
        x = F.max_pool2d(F.relu(self.conv4(F.relu(self.conv3(x)))), 2)
        features = F.relu(self.fc1(torch.flatten(x, 1)))
        return features, self.fc2(self.dropout(features))


class MnistClassifierExtractor(Extractor):
    """The shipped MNIST CNN as an extractor (features 128-d, logits 10-d).

    Args:
        device: torch device.
        weights: another state dict of :class:`MnistCNN` (e.g. trained on full MNIST
            with ``train_mnist_classifier --data torchvision-mnist:ROOT``); default:
            the shipped file, whose sha256 must equal :data:`SHIPPED_SHA256`.
        allow_download: accepted for interface symmetry; nothing is ever downloaded.
    """

    name = "mnist-classifier"
    feature_dim = FEATURE_DIM
    num_classes = NUM_CLASSES
    protocol = "28x28 grayscale, (x-0.1307)/0.3081"
    default_batch_size = 512
    # Subclasses with the same network and other shipped weights (fashion-classifier) set these;
    # None: this module's SHIPPED_WEIGHTS / SHIPPED_SHA256, read when the extractor is built.
    shipped_weights: Optional[Path] = None
    shipped_sha256: Optional[str] = None
    display_name = "MNIST classifier"
    class_names = tuple(str(d) for d in range(NUM_CLASSES))

    def __init__(self, device: str = "cpu", weights=None, allow_download: bool = False):
        super().__init__(device)
        from ..fileio import sha256_file

        shipped_path, shipped_sha = self._shipped()
        path = Path(weights).expanduser() if weights is not None else shipped_path
        if not path.is_file():
            if weights is None:
                raise GandiagError(f"shipped {self.display_name} weights missing at {path}; reinstall gandiag")
            raise GandiagError(f"weights file {path} does not exist (from weights=/--weights)")
        digest = sha256_file(path)
        if weights is None and digest != shipped_sha:
            raise GandiagError(
                f"shipped {self.display_name} weights {path} have sha256 {digest}, expected {shipped_sha}: "
                "the installation is damaged; reinstall gandiag"
            )
        model = MnistCNN()
        state = check_state_dict(load_state_dict(path, self.display_name), model.state_dict(), path,
                                 f"{self.display_name} (gandiag MnistCNN)")
        model.load_state_dict(state)
        self.weights_path, self.weights_sha256 = path, digest
        self.network = model.eval().requires_grad_(False).to(self.device)
        self._runnable = self.network

    def _shipped(self):
        return (self.shipped_weights or SHIPPED_WEIGHTS, self.shipped_sha256 or SHIPPED_SHA256)

    def weights_info(self):
        return {"path": str(self.weights_path), "sha256": self.weights_sha256}

    def provenance(self):
        prov = super().provenance()
        prov["weights_shipped"] = self.weights_sha256 == self._shipped()[1]
        return prov

    def _check_shape(self, shape) -> None:
        if shape[1] != 1:
            raise GandiagError(
                f"{self.name}: expects 1-channel (grayscale) digits, got {shape[1]} channels in shape {tuple(shape)}; "
                "for Stacked MNIST (3 digits in 3 channels) use gandiag.features.stacked_mnist_modes"
            )
        if shape[2:] != (IMAGE_SIZE, IMAGE_SIZE):
            raise GandiagError(
                f"{self.name}: expects {IMAGE_SIZE}x{IMAGE_SIZE} digits, got {shape[2]}x{shape[3]}; resize or crop "
                "the images to 28x28 first (MNIST's format)"
            )

    def probabilities(self, images, *, batch_size: Optional[int] = None) -> np.ndarray:
        """Softmax class probabilities ``(N, 10)`` (float64, rows sum to 1)."""
        logits = self.extract(images, batch_size=batch_size, outputs=("logits",))["logits"].astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, images, *, batch_size: Optional[int] = None) -> np.ndarray:
        """Predicted digit ``(N,)`` int64."""
        logits = self.extract(images, batch_size=batch_size, outputs=("logits",))["logits"]
        return logits.argmax(axis=1).astype(np.int64)


def classify_stacked_mnist(images, extractor: Optional[MnistClassifierExtractor] = None, *,
                           batch_size: Optional[int] = None) -> np.ndarray:
    """Digits of Stacked-MNIST images, one per channel.

    Args:
        images: canonical ``(N, 3, 28, 28)``: channel ``c`` holds one MNIST digit.
        extractor: an :class:`MnistClassifierExtractor` (default: the shipped one, on CPU).

    Returns:
        ``(N, 3)`` int64 digits, column ``c`` for channel ``c``.
    """
    from .base import as_canonical_batch

    images = as_canonical_batch(images, "stacked MNIST images")
    if images.shape[1] != 3 or images.shape[2:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise GandiagError(
            f"stacked MNIST images must have shape (N, 3, 28, 28) (one digit per channel), got {images.shape}"
        )
    extractor = extractor or MnistClassifierExtractor()
    n = len(images)
    # (N, 3, 28, 28) -> (3N, 1, 28, 28): row 3i + c is channel c of image i.
    digits = extractor.predict(images.reshape(n * 3, 1, IMAGE_SIZE, IMAGE_SIZE), batch_size=batch_size)
    return digits.reshape(n, 3)


def stacked_mnist_modes(images, extractor: Optional[MnistClassifierExtractor] = None, *,
                        batch_size: Optional[int] = None) -> np.ndarray:
    """Stacked-MNIST mode of each image: ``100 d_0 + 10 d_1 + d_2`` in ``0..999``.

    ``d_c`` is the classifier's digit for channel ``c`` (R, G, B). Counting the
    distinct modes over e.g. 26k samples and the KL divergence of the mode histogram
    to uniform are the mode-collapse measures of Metz et al. (2017).

    Returns:
        ``(N,)`` int64 mode indices.
    """
    digits = classify_stacked_mnist(images, extractor, batch_size=batch_size)
    return digits @ np.array([100, 10, 1], dtype=np.int64)
