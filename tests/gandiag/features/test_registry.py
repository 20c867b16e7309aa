"""Registry, user-supplied extractors and the common Extractor contract (cheap extractors only)."""
import warnings

import numpy as np
import pytest
import torch

from gandiag.data import load_mnist_subset
from gandiag.errors import GandiagError
from gandiag.features import EXTRACTORS, extract_stats, get_extractor, list_extractors, register_extractor
from gandiag.features.custom import ModuleExtractor
from gandiag.features.pixels import PixelsExtractor
from gandiag.metrics import FeatureStats


@pytest.fixture(scope="module")
def digits():
    return np.array(load_mnist_subset("test").images[:300])


def test_builtins_are_listed():
    names = [e["name"] for e in list_extractors()]
    assert {"inception-v3-fid", "mnist-classifier", "pixels"} <= set(names)
    assert all(e["description"] for e in list_extractors())


def test_unknown_name_lists_valid_values():
    with pytest.raises(GandiagError, match=r"unknown extractor 'incepton'; valid values are: .*inception-v3-fid"):
        get_extractor("incepton")


def test_unknown_option_is_an_error_not_ignored():
    with pytest.raises(GandiagError, match="extractor 'mnist-classifier' has no option 'protocol'"):
        get_extractor("mnist-classifier", protocol="clean")
    with pytest.raises(GandiagError, match="'pixels' has no weights"):
        get_extractor("pixels", weights="x.pt")
    with pytest.raises(GandiagError, match="amp must be one of"):
        get_extractor("pixels", amp="int8")


def test_register_validates_and_refuses_duplicates():
    with pytest.raises(GandiagError, match="already registered"):
        register_extractor("pixels", lambda **k: PixelsExtractor())
    with pytest.raises(GandiagError, match="invalid extractor name"):
        register_extractor("Bad Name", lambda **k: PixelsExtractor())
    register_extractor("test-pixels-copy", lambda device="cpu", weights=None, allow_download=False:
                       PixelsExtractor(device), "a copy")
    try:
        assert get_extractor("test-pixels-copy").name == "pixels"
    finally:
        EXTRACTORS._entries.pop("test-pixels-copy")


def test_pixels_and_batch_size_independence(digits):
    ext = get_extractor("pixels")
    assert ext.num_classes is None and ext.feature_dim is None
    a = ext.extract(digits, batch_size=7)["features"]
    np.testing.assert_array_equal(a, digits.reshape(300, -1))
    assert ext.feature_dim == 784
    clf = get_extractor("mnist-classifier")
    f1 = clf.extract(digits, batch_size=1000, outputs=("features", "logits"))
    f2 = clf.extract(digits, batch_size=13, outputs=("features", "logits"))
    for k in f1:
        assert np.abs(f1[k] - f2[k]).max() <= 1e-5


def test_extract_stats_equals_one_shot(digits):
    clf = get_extractor("mnist-classifier")
    stats = extract_stats(clf, digits, batch_size=64)
    ref = FeatureStats.from_features(clf.extract(digits)["features"])
    assert stats.count == 300
    np.testing.assert_allclose(stats.mean, ref.mean, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(stats.cov, ref.cov, rtol=1e-8, atol=1e-10)


def test_user_module_torchscript_and_module_callable(tmp_path, digits):
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(784, 5)

        def forward(self, x):
            h = x.flatten(1)
            return {"features": h[:, :16], "logits": self.lin(h)}

    net = Net()
    ext = get_extractor(net)
    out = ext.extract(digits[:10], outputs=("features", "logits"))
    assert out["features"].shape == (10, 16) and out["logits"].shape == (10, 5) and ext.num_classes == 5
    prov = ext.provenance()
    assert prov["name"] == "module:Net" and len(prov["weights_sha256"]) == 64
    with torch.no_grad():
        net.lin.weight.add_(1.0)
    assert get_extractor(net).provenance()["weights_sha256"] != prov["weights_sha256"]  # retrain -> new hash

    path = tmp_path / "flat.pt"
    with warnings.catch_warnings():  # torch 2.14 deprecates TorchScript; users' files must still load
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(torch.jit.script(torch.nn.Flatten()), str(path))
    ts = get_extractor(str(path))
    np.testing.assert_array_equal(ts.extract(digits[:4])["features"], digits[:4].reshape(4, -1))
    assert ts.provenance()["weights_path"] == str(path) and ts.name == "torchscript:flat.pt"

    program = torch.export.export(torch.nn.Flatten(), (torch.zeros(2, 1, 28, 28),),
                                  dynamic_shapes=({0: torch.export.Dim("n")},))
    torch.export.save(program, str(tmp_path / "flat.pt2"))
    ex = get_extractor(str(tmp_path / "flat.pt2"))
    np.testing.assert_array_equal(ex.extract(digits[:3])["features"], digits[:3].reshape(3, -1))
    assert ex.name == "export:flat.pt2"

    mc = get_extractor("torch.nn:Flatten")  # a class: called with no arguments
    np.testing.assert_array_equal(mc.extract(digits[:4])["features"], digits[:4].reshape(4, -1))


def test_user_extractor_errors(tmp_path):
    with pytest.raises(GandiagError, match="cannot import module 'no_such_pkg_xyz'"):
        get_extractor("no_such_pkg_xyz:net")
    with pytest.raises(GandiagError, match="has no attribute 'Nope'"):
        get_extractor("torch.nn:Nope")
    with pytest.raises(GandiagError, match="extractor file .*missing.pt does not exist"):
        get_extractor(str(tmp_path / "missing.pt"))
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"junk")
    with pytest.raises(GandiagError, match="cannot load .*junk.pt as TorchScript or torch.export"):
        get_extractor(str(junk))
    bad = ModuleExtractor(lambda x: [x, x, x], name="three-outputs")
    with pytest.raises(GandiagError, match="returned 3 outputs"):
        bad.extract(np.zeros((1, 1, 4, 4), np.float32))
    no_logits = get_extractor(torch.nn.Flatten())
    with pytest.raises(GandiagError, match="the network returned no 'logits'"):
        no_logits.extract(np.zeros((1, 1, 4, 4), np.float32), outputs=("features", "logits"))


def test_bad_image_inputs_have_one_clear_message_each(digits):
    ext = get_extractor("pixels")
    with pytest.raises(GandiagError, match="expected 1 \\(grayscale\\) or 3 \\(RGB\\) channels, got 2"):
        ext.extract(np.zeros((2, 2, 8, 8), np.float32))
    nan = digits[:5].copy()
    nan[3, 0, 1, 1] = np.nan
    with pytest.raises(GandiagError, match=r"1 image\(s\) contain NaN or Inf values \(rows 3\)"):
        ext.extract(nan)
    with pytest.raises(GandiagError, match=r"values span \[-1, 1\].*value_range='-1,1'"):
        ext.extract(digits[:5] * 2 - 1)
    with pytest.raises(GandiagError, match="got uint8 array .*to_canonical"):
        ext.extract((digits[:5] * 255).astype(np.uint8))
    with pytest.raises(GandiagError, match="got Tensor; convert with gandiag.images.to_canonical"):
        ext.extract(torch.zeros(2, 1, 8, 8))
    with pytest.raises(GandiagError, match="has no logits"):
        ext.extract(digits[:5], outputs=("features", "logits"))
    with pytest.raises(GandiagError, match="unknown output 'feats'"):
        ext.extract(digits[:5], outputs=("feats",))
    with pytest.raises(GandiagError, match="batch_size must be a positive integer, got 0"):
        ext.extract(digits[:5], batch_size=0)


def test_nan_row_index_counts_across_batches(digits):
    x = digits[:20].copy()
    x[17] = np.inf
    with pytest.raises(GandiagError, match=r"rows 17\)"):
        get_extractor("pixels").extract(x, batch_size=8)


def test_imageset_is_accepted(digits):
    data = load_mnist_subset("test").subset(np.arange(10))
    out = get_extractor("pixels").extract(data)["features"]
    assert out.shape == (10, 784)
