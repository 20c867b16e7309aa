"""The embedded MNIST subset: 10,000 real digits shipped inside the package.

8,000 "train" and 2,000 "test" rows, stratified by label (see ``mnist_subset/README.md``
for provenance and licence). Every file's sha256 is verified on load, so a damaged
installation fails loudly instead of producing wrong numbers.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ..errors import GandiagError
from ..fileio import sha256_file
from .idx import read_idx
from .imageset import ImageSet

MNIST_SUBSET_DIR = Path(__file__).resolve().parent / "mnist_subset"
MNIST_SUBSET_SHA256 = {
    "train-images-idx3-ubyte.gz": "9f6141dbdc2870ff64a5dadbc17a4c11456be89d1f8ec80307ac84e1dce9b687",
    "train-labels-idx1-ubyte.gz": "5a704d6a6f8177233e5436d8fa796b37417e88c4811a3f711ee8efcbc6005ad6",
    "t10k-images-idx3-ubyte.gz": "67c516fc065e0fdc2a613131bbebfd9820d06d999947de4fad7a0c6e1a9d98ea",
    "t10k-labels-idx1-ubyte.gz": "0d29141af1bfe2bea1c0582628a64db1d7525318bfe3875206a2aecafbbb9494",
}
SPLITS = ("train", "test", "all")


def _verified(name: str) -> Path:
    path = MNIST_SUBSET_DIR / name
    if not path.is_file():
        raise GandiagError(f"embedded MNIST file missing: {path}; reinstall gandiag")
    digest = sha256_file(path)
    if digest != MNIST_SUBSET_SHA256[name]:
        raise GandiagError(
            f"embedded MNIST file {path} is corrupt (sha256 {digest[:12]}..., expected "
            f"{MNIST_SUBSET_SHA256[name][:12]}...); reinstall gandiag"
        )
    return path


@functools.lru_cache(maxsize=None)
def _load_split(prefix: str):
    images = read_idx(_verified(f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(_verified(f"{prefix}-labels-idx1-ubyte.gz")).astype(np.int64)
    x = (images.astype(np.float32) / 255.0)[:, None, :, :]
    x.setflags(write=False)
    labels.setflags(write=False)
    return x, labels


def load_mnist_subset(split: str = "train") -> ImageSet:
    """Load the embedded MNIST subset.

    Args:
        split: ``"train"`` (8,000 rows), ``"test"`` (2,000 rows) or ``"all"`` (10,000).

    Returns:
        :class:`ImageSet` of canonical ``(N, 1, 28, 28)`` images and int64 labels.
        Arrays are read-only and shared between calls.
    """
    if split not in SPLITS:
        raise GandiagError(f"unknown MNIST subset split {split!r}; valid values are: {', '.join(SPLITS)}")
    if split == "all":
        xa, ya = _load_split("train")
        xb, yb = _load_split("t10k")
        return ImageSet(np.concatenate([xa, xb]), np.concatenate([ya, yb]), "mnist-subset:all")
    x, y = _load_split("train" if split == "train" else "t10k")
    return ImageSet(x, y, f"mnist-subset:{split}")
