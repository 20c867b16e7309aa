"""Readers that turn files on disk into an :class:`ImageSet` of canonical images.

Supported: idx files (gz or not), ``.npz`` / ``.npy`` arrays, image folders
(PNG/JPEG, recursive), torchvision's ``MNIST(root)`` layout for users who have the
full set, and Fashion-MNIST idx files (Debian ``dataset-fashion-mnist`` path by
default). Pickled arrays are never loaded (``allow_pickle=False``).

``.npz`` layout: an ``images`` array (or ``x``/``arr_0``, or the only array in the
file) plus an optional ``labels`` array (or ``y``). ``.npy``: one image array.
Images inside are uint8 (0..255) or float (``[0, 1]`` unless ``value_range`` is
given), NCHW or NHWC (see :mod:`gandiag.images`).
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import GandiagError
from ..images import to_canonical
from .idx import read_idx
from .imageset import ImageSet

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
FASHION_MNIST_DEFAULT_ROOT = Path("/usr/share/datasets/fashion-mnist")
_IMAGE_KEYS = ("images", "x", "samples", "arr_0")
_LABEL_KEYS = ("labels", "y")


def load_idx_pair(images_path, labels_path=None, source: Optional[str] = None) -> ImageSet:
    """Read an idx image file and (optionally) its idx label file."""
    raw = read_idx(images_path)
    if raw.ndim != 3:
        raise GandiagError(f"{images_path}: expected a 3-D idx image file (N, H, W), got shape {raw.shape}")
    images = to_canonical(raw, name=str(images_path))
    labels = None
    if labels_path is not None:
        labels = read_idx(labels_path).astype(np.int64)
        if labels.ndim != 1:
            raise GandiagError(f"{labels_path}: expected a 1-D idx label file, got shape {labels.shape}")
    return ImageSet(images, labels, source or str(images_path))


def _guess_label_file(images_path: Path) -> Optional[Path]:
    name = images_path.name
    for a, b in (("images-idx3", "labels-idx1"), ("images", "labels")):
        if a in name:
            candidate = images_path.with_name(name.replace(a, b))
            if candidate.is_file():
                return candidate
    return None


def load_npz(path, *, key: Optional[str] = None, value_range=None, layout=None) -> ImageSet:
    """Load images (and labels, if present) from ``.npz`` or ``.npy`` without unpickling."""
    path = Path(path)
    if not path.is_file():
        raise GandiagError(f"array file not found: {path}")
    try:
        loaded = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise GandiagError(
                f"{path} contains pickled Python objects, which gandiag refuses to load (untrusted "
                "pickles can run code); save plain numeric arrays with numpy.savez instead"
            ) from None
        raise GandiagError(f"cannot read {path}: {exc}") from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise GandiagError(f"cannot read {path}: corrupt or not a numpy file ({exc})") from None
    labels = None
    if isinstance(loaded, np.ndarray):
        array = loaded
    else:
        with loaded:
            keys = list(loaded.files)
            if key is None:
                found = [k for k in _IMAGE_KEYS if k in keys]
                if found:
                    key = found[0]
                elif len(keys) == 1:
                    key = keys[0]
                else:
                    raise GandiagError(
                        f"{path}: cannot tell which array holds the images (arrays: {', '.join(keys)}); "
                        "name it 'images' or pass key=... (CLI: --npz-key)"
                    )
            if key not in keys:
                raise GandiagError(f"{path}: no array named {key!r} (arrays: {', '.join(keys)})")
            try:
                array = loaded[key]
                label_key = next((k for k in _LABEL_KEYS if k in keys), None)
                if label_key is not None:
                    labels = np.asarray(loaded[label_key])
            except ValueError as exc:
                raise GandiagError(f"{path}: refusing pickled object arrays ({exc})") from None
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise GandiagError(f"cannot read {path}: corrupt npz ({exc})") from None
    images = to_canonical(array, value_range=value_range, layout=layout, name=str(path))
    if labels is not None:
        if labels.ndim != 1 or labels.dtype.kind not in "iu":
            raise GandiagError(f"{path}: labels must be a 1-D integer array, got {labels.dtype} {labels.shape}")
        if labels.size and labels.min() < 0:
            raise GandiagError(f"{path}: labels must be class indices 0..K-1, found {int(labels.min())}; fix the "
                               "'labels' array (or drop it)")
        labels = labels.astype(np.int64)
    return ImageSet(images, labels, str(path))


def load_folder(path, *, recursive: bool = True, limit: Optional[int] = None) -> ImageSet:
    """Load every PNG/JPEG under ``path`` (sorted by path) as canonical images.

    All images must share one size. If every image is grayscale the result has one
    channel; otherwise all are converted to RGB.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_dir():
        raise GandiagError(f"image folder not found: {path}")
    pattern = "**/*" if recursive else "*"
    files = sorted(p for p in path.glob(pattern) if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if limit is not None:
        files = files[:limit]
    if not files:
        raise GandiagError(f"no PNG or JPEG images found in {path}" + (" (searched recursively)" if recursive else ""))
    pictures = []
    for file in files:
        try:
            with Image.open(file) as im:
                im.load()
                pictures.append(im.copy())
        except (UnidentifiedImageError, OSError) as exc:
            raise GandiagError(f"cannot read image {file}: {exc}") from None
    sizes = {p.size for p in pictures}
    if len(sizes) != 1:
        raise GandiagError(
            f"{path}: images have {len(sizes)} different sizes ({', '.join(f'{w}x{h}' for w, h in sorted(sizes)[:4])}...); "
            "resize them to one size first"
        )
    planes = [_picture_array(p, f) for p, f in zip(pictures, files)]
    gray = all(a.ndim == 2 for a in planes)
    if not gray:  # a folder mixing gray and colour images: gray ones become R=G=B
        planes = [np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a for a in planes]
    if all(a.dtype == np.uint8 for a in planes):
        array = np.stack(planes)
    else:  # 16-bit images: full depth scaled to [0, 1] (8-bit ones by 255), never clipped to 8 bit
        array = np.stack([a.astype(np.float64) / (255.0 if a.dtype == np.uint8 else 65535.0) for a in planes])
        array = array.astype(np.float32)
    array = array[:, None] if gray else array.transpose(0, 3, 1, 2)
    value_range = None if array.dtype == np.uint8 else (0.0, 1.0)
    return ImageSet(to_canonical(np.ascontiguousarray(array), value_range=value_range, name=str(path)), None,
                    str(path))


def _picture_array(picture, file) -> np.ndarray:
    """One PIL image as ``(H, W)`` gray or ``(H, W, 3)`` RGB, uint8, or uint16 for 16-bit gray.

    Alpha is dropped only when fully opaque (else it is an error: gandiag would have to invent a
    background); palette images become gray when their colours are all gray, else RGB.
    """
    mode = original = picture.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        values = np.asarray(picture, dtype=np.int64)
        if values.min() < 0 or values.max() > 65535:
            raise GandiagError(f"cannot read image {file}: {mode} pixel values {values.min()}..{values.max()} are "
                               "outside 0..65535; save it as an 8- or 16-bit PNG")
        return values.astype(np.uint16)
    if mode == "F":
        raise GandiagError(f"cannot read image {file}: floating-point TIFF-style pixels (mode F) have no defined "
                           "range; save it as an 8- or 16-bit PNG, or pass an .npy array with --output-range")
    if mode == "P":
        picture = picture.convert("RGBA" if "transparency" in picture.info else "RGB")
        mode = picture.mode
    if mode in ("LA", "La", "PA", "RGBA", "RGBa"):
        alpha = np.asarray(picture.getchannel("A"))
        if alpha.min() < 255:
            raise GandiagError(f"cannot read image {file}: it has a transparent alpha channel (mode {mode}); "
                               "flatten it onto a background and save it without alpha")
        picture = picture.convert("L" if mode in ("LA", "La") else "RGB")
        mode = picture.mode
    if mode in ("L", "1"):
        return np.asarray(picture.convert("L"), dtype=np.uint8)
    rgb = np.asarray(picture.convert("RGB"), dtype=np.uint8)
    if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all() and original in ("P", "PA"):
        return np.ascontiguousarray(rgb[..., 0])  # a palette of grays: one channel
    return rgb


def load_torchvision_mnist(root, *, train: bool = True, download: bool = False) -> ImageSet:
    """Full MNIST through ``torchvision.datasets.MNIST(root)``.

    Nothing is downloaded unless ``download=True``. When the files are absent the
    error says where torchvision expects them.
    """
    import torchvision

    root = Path(root)
    try:
        dataset = torchvision.datasets.MNIST(str(root), train=train, download=download)
    except RuntimeError as exc:
        raise GandiagError(
            f"full MNIST not found under {root} (torchvision expects {root}/MNIST/raw/*-ubyte); "
            f"download it yourself or pass download=True (CLI: --download) where the network allows it "
            f"[{exc}]"
        ) from None
    except Exception as exc:  # network errors during a requested download
        raise GandiagError(f"could not load/download full MNIST into {root}: {exc}") from None
    images = to_canonical(dataset.data.numpy(), name=f"torchvision MNIST {root}")
    return ImageSet(images, dataset.targets.numpy().astype(np.int64), f"torchvision-mnist:{root}:{'train' if train else 'test'}")


def load_fashion_mnist(root=FASHION_MNIST_DEFAULT_ROOT, *, split: str = "train") -> ImageSet:
    """Fashion-MNIST from idx files (``train-*`` / ``t10k-*``, gz or not) under ``root``."""
    root = Path(root)
    if split not in ("train", "test"):
        raise GandiagError(f"unknown Fashion-MNIST split {split!r}; valid values are: train, test")
    prefix = "train" if split == "train" else "t10k"
    for suffix in (".gz", ""):
        images = root / f"{prefix}-images-idx3-ubyte{suffix}"
        labels = root / f"{prefix}-labels-idx1-ubyte{suffix}"
        if images.is_file():
            return load_idx_pair(images, labels if labels.is_file() else None, f"fashion-mnist:{split}")
    raise GandiagError(
        f"Fashion-MNIST not found under {root} (expected {prefix}-images-idx3-ubyte[.gz]); on Debian: "
        "apt-get install dataset-fashion-mnist, or pass the folder that holds the idx files"
    )


def load_path(path, *, value_range=None, layout=None, npz_key: Optional[str] = None) -> ImageSet:
    """Load images from a path by its kind: folder, ``.npz``/``.npy`` or idx file."""
    path = Path(path)
    if path.is_dir():
        if any(path.glob("*-images-idx3-ubyte*")) and not any(
            p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir()
        ):
            imgs = sorted(path.glob("train-images-idx3-ubyte*")) or sorted(path.glob("*-images-idx3-ubyte*"))
            return load_idx_pair(imgs[0], _guess_label_file(imgs[0]))
        return load_folder(path)
    if not path.exists():
        raise GandiagError(f"no such file or folder: {path}")
    name = path.name.lower()
    if name.endswith((".npz", ".npy")):
        return load_npz(path, key=npz_key, value_range=value_range, layout=layout)
    if "idx" in name or name.endswith("ubyte") or name.endswith("ubyte.gz"):
        return load_idx_pair(path, _guess_label_file(path))
    raise GandiagError(
        f"don't know how to read {path}: expected a folder of PNG/JPEG images, .npz/.npy arrays or an idx file"
    )
