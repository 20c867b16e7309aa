"""``fashion-classifier``: the MNIST CNN architecture trained on Fashion-MNIST, shipped with gandiag.

A second labelled domain for mode coverage: with ``--ref fashion-mnist`` the
generated images are classified into Fashion-MNIST's 10 classes
(:data:`CLASS_NAMES`), so "which modes did it drop?" gets an answer in words,
and the 128-d penultimate layer gives a Fashion-FID/KID/PRDC/NDB feature space
(the logits a Fashion Inception Score).

Network: :class:`~gandiag.features.mnist_classifier.MnistCNN` unchanged (its fixed
input scaling ``(x - 0.1307) / 0.3081`` is an affine map the first convolution
absorbs). Weights: ``weights/fashion_classifier.pt``, produced by
``python -m gandiag.features.train_fashion_classifier --out ... --threads 2``
(seed 0, 3 epochs on the 60,000 training images, torch 2.14 CPU); their sha256 is
:data:`SHIPPED_SHA256`, checked on every load. Test accuracy on the 10,000 test
images: 90.70% (:data:`TEST_ACCURACY`), re-measured (>= 90%) by
``tests/gandiag/features/test_fashion_classifier.py``.
"""
from __future__ import annotations

from .mnist_classifier import IMAGE_SIZE, WEIGHTS_DIR, MnistClassifierExtractor

SHIPPED_WEIGHTS = WEIGHTS_DIR / "fashion_classifier.pt"
SHIPPED_SHA256 = "612cb19f83ce968b77cb3359a2abd5a50da9e4bc531f31052802cd3d95073440"
TEST_ACCURACY = 0.9070
#: Fashion-MNIST's labels 0..9 (Xiao, Rasul, Vollgraf 2017).
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot")


class FashionClassifierExtractor(MnistClassifierExtractor):
    """The shipped Fashion-MNIST CNN as an extractor (features 128-d, logits 10-d)."""

    name = "fashion-classifier"
    shipped_weights = SHIPPED_WEIGHTS
    shipped_sha256 = SHIPPED_SHA256
    display_name = "Fashion-MNIST classifier"
    class_names = CLASS_NAMES

    def _check_shape(self, shape) -> None:
        from ..errors import GandiagError

        if shape[1] != 1 or tuple(shape[2:]) != (IMAGE_SIZE, IMAGE_SIZE):
            raise GandiagError(f"{self.name}: expects 1x28x28 grayscale Fashion-MNIST images, got shape "
                               f"{tuple(shape)}; resize/convert the images to 28x28 grayscale first")
