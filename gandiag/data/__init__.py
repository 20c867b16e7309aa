"""Real data: the embedded MNIST subset and readers for files users have.

:func:`load_images` resolves a *data spec*, the string users pass as ``--ref``, through
the data kinds of the source registry (:mod:`gandiag.data.kinds`), registered here:

============================  =================================================
kind / spec                   meaning
============================  =================================================
``mnist-subset[:split]``      embedded subset, train split (8,000 digits);
                              ``:test`` (2,000), ``:all`` (10,000)
``fashion-mnist[:DIR][:test]`` Fashion-MNIST idx under /usr/share/datasets/fashion-mnist or DIR
``torchvision-mnist:ROOT``    full MNIST via torchvision (``:test`` suffix for test)
``image-folder``              a folder of PNG/JPEG images (recursive; a folder that holds
                              model files, e.g. a training run, is not an image folder)
``array`` (``.npz``/``.npy``) arrays (``images`` [+ ``labels``])
``idx``                       an idx image file (``*-idx3-ubyte[.gz]``, labels found by
                              name) or a folder of idx files
============================  =================================================
"""
from __future__ import annotations

from pathlib import Path

from ..errors import GandiagError
from .embedded import MNIST_SUBSET_DIR, load_mnist_subset
from .imageset import ImageSet
from .idx import read_idx
from .kinds import SOURCES, SourceOptions, register_source, resolve_kind
from .readers import (
    FASHION_MNIST_DEFAULT_ROOT,
    IMAGE_SUFFIXES,
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
    "FASHION_MNIST_DEFAULT_ROOT", "DATA_SPECS", "SOURCES", "SourceOptions", "register_source",
]

DATA_SPECS = ("mnist-subset[:train|test|all]", "fashion-mnist[:DIR][:train|test]",
              "torchvision-mnist:ROOT[:train|test]", "PATH (folder, .npz, .npy, idx)")


def load_images(spec: str, *, value_range=None, layout=None, npz_key=None, download: bool = False) -> ImageSet:
    """Resolve a data spec (see module doc) into an :class:`ImageSet` carrying its kind and provenance."""
    spec = str(spec)
    missing = ":" not in spec and not Path(spec).exists()
    kind = resolve_kind(spec, generator=False, hint=f" (no such file or folder: {spec})" if missing else "")
    if kind.name == "torchvision-mnist" and download:  # the one kind that can fetch (only when asked)
        data = _torchvision(spec, download=True)
    else:
        data = kind.load(spec, SourceOptions(value_range=value_range, layout=layout, npz_key=npz_key))
    return data.with_origin(kind.name, {"spec": spec, "kind": kind.name, "description": data.source})


# ------------------------------------------------------------------------------ built-in data kinds
_MODEL_SUFFIXES = (".pt", ".pth", ".pt2", ".ts", ".onnx", ".ckpt", ".pkl")


def _head(spec: str) -> str:
    return spec.partition(":")[0]


def _fashion(spec: str, options=None) -> ImageSet:
    rest = spec.partition(":")[2]
    split, root = "train", FASHION_MNIST_DEFAULT_ROOT
    if rest:
        parts = rest.rsplit(":", 1)
        if parts[-1] in ("train", "test"):
            split = parts[-1]
            parts = parts[:-1]
        if parts and parts[0]:
            root = parts[0]
    return load_fashion_mnist(root, split=split)


def _torchvision(spec: str, options=None, *, download: bool = False) -> ImageSet:
    rest = spec.partition(":")[2]
    root, split = rest, "train"
    if rest.endswith((":train", ":test")):
        root, split = rest.rsplit(":", 1)
    if not root:
        raise GandiagError("torchvision-mnist needs a root folder: torchvision-mnist:/path/to/root")
    return load_torchvision_mnist(root, train=split == "train", download=download)


def _is_idx_file(path: Path) -> bool:
    name = path.name.lower()
    return "idx" in name or name.endswith("ubyte") or name.endswith("ubyte.gz")


def _is_idx_dir(path: Path) -> bool:
    return any(path.glob("*-images-idx3-ubyte*")) and not any(
        p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir())


def _holds_models(path: Path) -> bool:
    return any(p.suffix.lower() in _MODEL_SUFFIXES for pattern in ("*", "*/*") for p in path.glob(pattern))


def _recognise_folder(spec: str) -> bool:
    path = Path(spec)
    return path.is_dir() and not _is_idx_dir(path) and not _holds_models(path)


def _recognise_idx(spec: str) -> bool:
    path = Path(spec)
    return (path.is_file() and _is_idx_file(path)) or (path.is_dir() and _is_idx_dir(path))


def _load_array(spec: str, o: SourceOptions) -> ImageSet:
    return load_npz(spec, key=o.npz_key, value_range=o.value_range, layout=o.layout)


register_source("mnist-subset", lambda s: _head(s) == "mnist-subset",
                load=lambda s, o: load_mnist_subset(s.partition(":")[2] or "train"),
                description="the embedded MNIST subset: mnist-subset[:train|test|all]", example="mnist-subset:test")
register_source("fashion-mnist", lambda s: _head(s) == "fashion-mnist", load=_fashion,
                description="Fashion-MNIST idx files: fashion-mnist[:DIR][:train|test]", example="fashion-mnist:test")
register_source("torchvision-mnist", lambda s: _head(s) == "torchvision-mnist", load=_torchvision,
                description="full MNIST via torchvision: torchvision-mnist:ROOT[:train|test]",
                example="torchvision-mnist:/data/mnist")
register_source("image-folder", _recognise_folder, load=lambda s, o: load_folder(s),
                description="a folder of PNG/JPEG images (recursive)", example="samples/")
register_source("array", lambda s: Path(s).suffix.lower() in (".npz", ".npy") and not Path(s).is_dir(),
                load=_load_array, description="an .npz/.npy array file ('images' [+ 'labels'])", example="samples.npz")
register_source("idx", _recognise_idx, load=lambda s, o: load_path(s),
                description="an idx image file (*-idx3-ubyte[.gz]) or a folder of them",
                example="train-images-idx3-ubyte.gz")
