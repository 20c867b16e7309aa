import gzip
import struct

import numpy as np
import pytest
from PIL import Image

from gandiag.data import (
    load_fashion_mnist,
    load_folder,
    load_images,
    load_mnist_subset,
    load_npz,
    load_torchvision_mnist,
    read_idx,
)
from gandiag.data import embedded
from gandiag.errors import GandiagError


def _write_idx(path, array, gz=False):
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(">" + "I" * array.ndim, *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    (gzip.open if gz else open)(path, "wb").write(data)


def test_embedded_subset_shapes_labels_and_class_balance():
    train, test = load_mnist_subset("train"), load_mnist_subset("test")
    assert train.images.shape == (8000, 1, 28, 28) and test.images.shape == (2000, 1, 28, 28)
    assert np.bincount(train.labels).tolist() == [801, 902, 793, 826, 784, 690, 811, 856, 755, 782]
    assert np.bincount(test.labels).tolist() == [200, 225, 198, 206, 196, 173, 203, 214, 189, 196]
    assert 0.1 < train.images.mean() < 0.15  # MNIST mean intensity is ~0.13
    assert not train.images.flags.writeable
    assert len(load_images("mnist-subset:all")) == 10000


def test_embedded_subset_detects_corruption(tmp_path, monkeypatch):
    for name in embedded.MNIST_SUBSET_SHA256:
        (tmp_path / name).write_bytes((embedded.MNIST_SUBSET_DIR / name).read_bytes())
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"garbage")
    monkeypatch.setattr(embedded, "MNIST_SUBSET_DIR", tmp_path)
    embedded._load_split.cache_clear()
    try:
        with pytest.raises(GandiagError, match="corrupt"):
            load_mnist_subset("test")
    finally:
        embedded._load_split.cache_clear()


def test_unknown_split():
    with pytest.raises(GandiagError, match="valid values are: train, test, all"):
        load_mnist_subset("valid")


@pytest.mark.parametrize("gz", [False, True])
def test_idx_roundtrip_and_truncation(tmp_path, gz):
    arr = np.random.default_rng(0).integers(0, 256, (3, 5, 4)).astype(np.uint8)
    path = tmp_path / ("x-images-idx3-ubyte" + (".gz" if gz else ""))
    _write_idx(path, arr, gz)
    np.testing.assert_array_equal(read_idx(path), arr)
    raw = (gzip.open if gz else open)(path, "rb").read()
    (gzip.open if gz else open)(path, "wb").write(raw[:-3])
    with pytest.raises(GandiagError, match="truncated or corrupt"):
        read_idx(path)


def test_idx_bad_magic_and_missing(tmp_path):
    (tmp_path / "f").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(GandiagError, match="bad magic"):
        read_idx(tmp_path / "f")
    with pytest.raises(GandiagError, match="not found"):
        read_idx(tmp_path / "missing")


def test_idx_path_spec_finds_labels(tmp_path):
    _write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((4, 6, 6), np.uint8))
    _write_idx(tmp_path / "train-labels-idx1-ubyte", np.arange(4, dtype=np.uint8))
    got = load_images(str(tmp_path / "train-images-idx3-ubyte"))
    assert got.images.shape == (4, 1, 6, 6) and got.labels.tolist() == [0, 1, 2, 3]
    assert len(load_images(str(tmp_path))) == 4  # a folder of idx files


def test_npz_keys_labels_and_pickle_refusal(tmp_path):
    imgs = np.random.default_rng(0).integers(0, 256, (6, 28, 28, 1)).astype(np.uint8)
    np.savez(tmp_path / "a.npz", images=imgs, labels=np.arange(6))
    got = load_npz(tmp_path / "a.npz")
    assert got.images.shape == (6, 1, 28, 28) and got.labels.tolist() == list(range(6))
    np.savez(tmp_path / "b.npz", foo=imgs, bar=imgs)
    with pytest.raises(GandiagError, match="--npz-key"):
        load_npz(tmp_path / "b.npz")
    assert len(load_npz(tmp_path / "b.npz", key="bar")) == 6
    np.save(tmp_path / "c.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(GandiagError, match="refuses to load"):
        load_npz(tmp_path / "c.npy")
    (tmp_path / "d.npz").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(GandiagError, match="cannot read"):
        load_npz(tmp_path / "d.npz")
    np.save(tmp_path / "e.npy", np.full((2, 1, 6, 6), -0.5, np.float32))
    with pytest.raises(GandiagError, match="--output-range -1,1"):
        load_images(str(tmp_path / "e.npy"))
    assert load_images(str(tmp_path / "e.npy"), value_range="-1,1").images.max() == 0.25


def test_folder_reader_gray_rgb_and_errors(tmp_path):
    sub = tmp_path / "nested"
    sub.mkdir()
    Image.fromarray(np.full((8, 8), 255, np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(sub / "b.png")
    got = load_folder(tmp_path)
    assert got.images.shape == (2, 1, 8, 8) and got.images[0].max() == 1.0
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(sub / "c.jpg")
    assert load_folder(tmp_path).images.shape == (3, 3, 8, 8)
    Image.fromarray(np.zeros((9, 9), np.uint8)).save(sub / "d.png")
    with pytest.raises(GandiagError, match="different sizes"):
        load_folder(tmp_path)
    (sub / "d.png").write_bytes(b"not a png")
    with pytest.raises(GandiagError, match="cannot read image"):
        load_folder(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(GandiagError, match="no PNG or JPEG"):
        load_folder(empty)


def test_torchvision_mnist_absent_is_clear_and_does_not_download(tmp_path):
    with pytest.raises(GandiagError, match="full MNIST not found"):
        load_torchvision_mnist(tmp_path)
    assert not any(tmp_path.rglob("*.gz"))
    with pytest.raises(GandiagError, match="needs a root"):
        load_images("torchvision-mnist:")


def test_torchvision_mnist_present(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split in ("train", "t10k"):  # torchvision requires all four files
        _write_idx(raw / f"{split}-images-idx3-ubyte", np.zeros((3, 28, 28), np.uint8))
        _write_idx(raw / f"{split}-labels-idx1-ubyte", np.array([1, 2, 3], np.uint8))
    got = load_images(f"torchvision-mnist:{tmp_path}")
    assert got.images.shape == (3, 1, 28, 28) and got.labels.tolist() == [1, 2, 3]


def test_fashion_mnist_custom_root_and_missing(tmp_path):
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((2, 28, 28), np.uint8), gz=True)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.array([7, 9], np.uint8), gz=True)
    got = load_images(f"fashion-mnist:{tmp_path}:test")
    assert got.labels.tolist() == [7, 9]
    with pytest.raises(GandiagError, match="dataset-fashion-mnist"):
        load_fashion_mnist(tmp_path / "nope")


def test_unknown_path_kinds(tmp_path):
    with pytest.raises(GandiagError, match="array file not found"):
        load_images(str(tmp_path / "missing.npz"))
    with pytest.raises(GandiagError, match=r"is not a data gandiag can read \(no such file or folder"):
        load_images(str(tmp_path / "missing"))
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(GandiagError, match="is not a data gandiag can read. Known kinds: array"):
        load_images(str(tmp_path / "x.txt"))
