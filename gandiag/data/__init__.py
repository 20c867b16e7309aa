"""Real data: the embedded MNIST subset and readers for files users have.

:func:`load_images` resolves a *data spec*, the string users pass as ``--ref``:

============================  =================================================
spec                          meaning
============================  =================================================
``mnist-subset``              embedded subset, train split (8,000 digits)
``mnist-subset:test``         embedded subset, test split (2,000); ``:all`` = 10,000
``fashion-mnist[:test]``      Fashion-MNIST idx under /usr/share/datasets/fashion-mnist
``fashion-mnist:DIR[:test]``  Fashion-MNIST idx under DIR
``torchvision-mnist:ROOT``    full MNIST via torchvision (``:test`` suffix for test)
a folder                      PNG/JPEG images (recursive), or idx files
``*.npz`` / ``*.npy``         arrays (``images`` [+ ``labels``])
``*-idx3-ubyte[.gz]``         an idx image file (labels file found by name)
============================  =================================================
"""
from __future__ import annotations

from .embedded import MNIST_SUBSET_DIR, load_mnist_subset
from .imageset import ImageSet
from .idx import read_idx
from .readers import (
    FASHION_MNIST_DEFAULT_ROOT,
    load_fashion_mnist,
    load_folder,
    load_idx_pair,
    load_npz,
    load_path,
    load_torchvision_mnist,
)

__all__ = [
    "ImageSet", "load_images", "load_mnist_subset", "load_fashion_mnist", "load_folder", "load_idx_pair",
    "load_npz", "load_path", "load_torchvision_mnist", "read_idx", "MNIST_SUBSET_DIR",
    "FASHION_MNIST_DEFAULT_ROOT", "DATA_SPECS",
]

DATA_SPECS = ("mnist-subset[:train|test|all]", "fashion-mnist[:DIR][:train|test]",
              "torchvision-mnist:ROOT[:train|test]", "PATH (folder, .npz, .npy, idx)")


def load_images(spec: str, *, value_range=None, layout=None, npz_key=None, download: bool = False) -> ImageSet:
    """Resolve a data spec (see module doc) into an :class:`ImageSet`."""
    spec = str(spec)
    head, _, rest = spec.partition(":")
    if head == "mnist-subset":
        return load_mnist_subset(rest or "train")
    if head == "fashion-mnist":
        split = "train"
        root = FASHION_MNIST_DEFAULT_ROOT
        if rest:
            parts = rest.rsplit(":", 1)
            if parts[-1] in ("train", "test"):
                split = parts[-1]
                parts = parts[:-1]
            if parts and parts[0]:
                root = parts[0]
        return load_fashion_mnist(root, split=split)
    if head == "torchvision-mnist":
        root, split = rest, "train"
        if rest.endswith((":train", ":test")):
            root, split = rest.rsplit(":", 1)
        if not root:
            from ..errors import GandiagError

            raise GandiagError("torchvision-mnist needs a root folder: torchvision-mnist:/path/to/root")
        return load_torchvision_mnist(root, train=split == "train", download=download)
    return load_path(spec, value_range=value_range, layout=layout, npz_key=npz_key)
