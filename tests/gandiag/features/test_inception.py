"""FID InceptionV3: parity with pytorch-fid, torch-fidelity and clean-fid's resize (random weights).

The published weights cannot be downloaded here, so both networks get the same
random, He-initialised state dict (non-trivial activations) and must agree to 1e-5.
Images are few and small (28x28 -> 299x299): the CPU forward dominates the runtime.
"""
from unittest import mock

import numpy as np
import pytest
import torch

from gandiag.errors import GandiagError
from gandiag.features.inception import FID_WEIGHTS, FIDInceptionV3, InceptionExtractor, random_state_dict
from gandiag.features.resize import PROTOCOLS, pil_bicubic_resize, tf1_bilinear_resize

TOL = 1e-5


@pytest.fixture(scope="module")
def state():
    return random_state_dict(seed=1)


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory, state):
    path = tmp_path_factory.mktemp("inception") / "random_inception.pth"
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def images():
    # Two 28x28 RGB images with structure (not just noise): a gradient plus noise.
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 1, 28, dtype=np.float32)
    x = 0.5 * (ramp[None, None, :, None] * ramp[None, None, None, :]) + 0.5 * rng.random((2, 3, 28, 28))
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def ours(weights_file):
    return InceptionExtractor(weights=weights_file)


@pytest.fixture(scope="module")
def ours_features(ours, images):
    return ours.extract(images)["features"]


@pytest.fixture(scope="module")
def pytorch_fid_peer(state):
    """pytorch-fid's InceptionV3([3]) on our random state dict, and its inner fid_inception_v3()."""
    import pytorch_fid.inception as pfi

    built = []
    original = pfi.fid_inception_v3

    def capture():
        built.append(original())  # ends in a strict load_state_dict: keys and shapes must match
        return built[-1]

    with mock.patch.object(pfi, "load_state_dict_from_url", lambda *a, **k: state), \
            mock.patch.object(pfi, "fid_inception_v3", capture):
        peer = pfi.InceptionV3([3]).eval()
    return peer, built[0]


def test_state_dict_keys_equal_pytorch_fid(pytorch_fid_peer):
    peer, inception = pytorch_fid_peer
    assert set(inception.state_dict()) == set(FIDInceptionV3().state_dict())


def test_features_match_pytorch_fid(pytorch_fid_peer, ours_features, weights_file, images):
    with torch.no_grad():
        ref = pytorch_fid_peer[0](torch.from_numpy(images))[0].squeeze(-1).squeeze(-1).numpy()
    assert ours_features.shape == (2, 2048) and ours_features.dtype == np.float32
    assert np.abs(ref).mean() > 0.05  # the comparison is not between two near-zero vectors
    assert np.abs(ours_features - ref).max() <= TOL
    unfused = InceptionExtractor(weights=weights_file, fuse_bn=False).extract(images[:1])["features"]
    assert np.abs(unfused - ref[:1]).max() <= TOL


def test_onednn_fast_path_equals_eager_conv_relu(weights_file, images, monkeypatch):
    """CPU inference runs conv + bias + ReLU as one oneDNN primitive with a packed weight: same numbers, bit for bit,
    as the eager ``relu(conv(x))`` of the fused network, for a first batch and a smaller later one."""
    import gandiag.features.inception as inception

    if not inception._ONEDNN:
        pytest.skip("torch built without oneDNN")
    batch = np.concatenate([images, images[::-1], images])  # 6 images, forward slices of 4 then 2
    fast = InceptionExtractor(weights=weights_file)
    fast.max_forward_batch = 4
    got = fast.extract(batch, batch_size=6, outputs=("features", "logits"))
    convs = [m for m in fast.network.modules() if isinstance(m, inception.BasicConv2d)]
    assert len(convs) == 94 and all(m._packed is not None for m in convs)  # the fast path ran in every layer
    monkeypatch.setattr(inception, "_ONEDNN", False)
    eager = InceptionExtractor(weights=weights_file)
    eager.max_forward_batch = 4
    want = eager.extract(batch, batch_size=6, outputs=("features", "logits"))
    assert all(m._packed is None for m in eager.network.modules() if isinstance(m, inception.BasicConv2d))
    np.testing.assert_array_equal(got["features"], want["features"])
    np.testing.assert_array_equal(got["logits"], want["logits"])
    with torch.enable_grad():  # autograd (and autocast, torch.compile) take the eager path
        x = torch.zeros(1, 3, 8, 8, requires_grad=True)
        assert not inception._use_onednn_pointwise(x, convs[0].fused.weight)


def test_features_and_logits_match_torch_fidelity(weights_file, images):
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    peer = FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased", "logits"],
                                       feature_extractor_weights_path=str(weights_file)).eval()
    x8 = torch.from_numpy(np.rint(images * 255).astype(np.uint8))
    with torch.no_grad():
        f_ref, lu_ref, l_ref = (t.numpy() for t in peer(x8))
    ext = InceptionExtractor(weights=weights_file, protocol="torch-fidelity")
    got = ext.extract(images, outputs=("features", "logits"))
    assert np.abs(got["features"] - f_ref).max() <= TOL
    assert np.abs(got["logits"] - lu_ref).max() <= 1e-4 * max(1.0, np.abs(lu_ref).max())
    ext.network.logits_bias = True  # what logits_bias=True sets
    lb = ext.extract(images[:1], outputs=("logits",))["logits"]
    assert np.abs(lb - l_ref[:1]).max() <= 1e-4 * max(1.0, np.abs(l_ref).max())


def test_tf1_resize_matches_torch_fidelity(images):
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    x = torch.from_numpy(np.rint(images * 255))
    ref = interpolate_bilinear_2d_like_tensorflow1x(x, size=(299, 299), align_corners=False)
    assert torch.equal(tf1_bilinear_resize(x, 299), ref)


def test_clean_resize_matches_clean_fid(images):
    from cleanfid.resize import build_resizer

    resize = build_resizer("clean")
    values = images * np.float32(255)
    ours = pil_bicubic_resize(values)
    for i in range(len(images)):
        ref = resize(values[i].transpose(1, 2, 0)).transpose(2, 0, 1)
        np.testing.assert_array_equal(ours[i], ref)


def test_clean_protocol_feeds_clean_fid_input_to_the_network(ours_features, weights_file, images):
    from cleanfid.resize import build_resizer

    clean = InceptionExtractor(weights=weights_file, protocol="clean")
    resized = build_resizer("clean")((images[0] * 255).transpose(1, 2, 0)).transpose(2, 0, 1)
    with torch.no_grad():
        ref, _ = clean.network((torch.from_numpy(resized[None]) - 128) / 128)
    got = clean.extract(images[:1])["features"]
    assert np.abs(got - ref.numpy()).max() <= TOL
    assert clean.provenance()["protocol"] == "clean"
    # A different protocol is a different number: never silently equal.
    assert np.abs(got - ours_features[:1]).max() > 1e-3


def test_grayscale_input_is_repeated_to_rgb_by_every_protocol(ours, images):
    gray = torch.from_numpy(images[:, :1])
    rgb = gray.repeat(1, 3, 1, 1)
    for transform in PROTOCOLS.values():
        assert torch.equal(transform(gray), transform(rgb))
    assert ours._prepare(gray).shape == (2, 3, 299, 299)


def test_provenance_records_weights_and_protocol(ours, weights_file):
    prov = ours.provenance()
    assert prov["name"] == "inception-v3-fid" and prov["protocol"] == "pytorch-fid"
    assert prov["weights_path"] == str(weights_file) and len(prov["weights_sha256"]) == 64
    assert prov["weights_published"] is False  # random weights are never passed off as the real ones
    assert prov["feature_dim"] == 2048 and prov["num_classes"] == 1008 and prov["dtype"] == "float32"
    assert ours.execution() == {"channels_last": True, "amp": None, "compile": False}  # the fast default


def test_too_small_and_wrong_channels_are_clear_errors(ours):
    with pytest.raises(GandiagError, match=r"8x8, smaller than the 16x16 minimum"):
        ours.extract(np.zeros((1, 3, 8, 8), np.float32))
    with pytest.raises(GandiagError, match=r"expected 1 \(grayscale\) or 3 \(RGB\) channels, got 4"):
        ours.extract(np.zeros((1, 4, 32, 32), np.float32))


def test_unknown_protocol(weights_file):
    with pytest.raises(GandiagError, match="unknown Inception protocol 'legacy'; valid values are: pytorch-fid"):
        InceptionExtractor(weights=weights_file, protocol="legacy")


def test_wrong_keys_are_named(tmp_path, state):
    bad = dict(state)
    bad["extra.weight"] = bad.pop("fc.weight")
    path = tmp_path / "bad.pth"
    torch.save(bad, path)
    with pytest.raises(GandiagError, match=r"keys do not match \(1 missing \(e.g. fc.weight\); 1 unexpected"):
        InceptionExtractor(weights=path)


def test_wrong_shape_is_named(tmp_path, state):
    bad = dict(state)
    bad["fc.weight"] = torch.zeros(10, 2048)
    path = tmp_path / "bad.pth"
    torch.save(bad, path)
    with pytest.raises(GandiagError, match=r"fc.weight has shape \(10, 2048\), expected \(1008, 2048\)"):
        InceptionExtractor(weights=path)


def test_own_weights_under_the_published_name_are_used_and_marked(tmp_path, state, monkeypatch):
    path = tmp_path / FID_WEIGHTS.filename
    torch.save(state, path)
    for ext in (InceptionExtractor(weights=path),
                (monkeypatch.setenv("GANDIAG_INCEPTION_WEIGHTS", str(path)), InceptionExtractor())[1]):
        prov = ext.provenance()
        assert prov["weights_published"] is False and prov["weights_marker"] == "unpublished weights"
        assert "named like the published pt_inception-2015-12-05-6726825d.pth" in prov["weights_note"]
