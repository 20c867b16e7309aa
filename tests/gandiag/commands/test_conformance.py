"""gandiag conformance: each protocol's FID/IS/KID equals the peer it names (random weights, shared)."""
import json
from unittest import mock

import numpy as np
import pytest
import torch

from gandiag.cli import main
from gandiag.commands.conformance import conformance
from gandiag.features.inception import random_state_dict

pytestmark = [pytest.mark.slow,  # ~40 s: 3 protocols x 2 sets through InceptionV3 on CPU, plus two peers
              pytest.mark.filterwarnings("ignore:The `disp` argument:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:Matrix is singular:scipy.linalg.LinAlgWarning")]
N = 10


@pytest.fixture(scope="module")
def state():
    return random_state_dict(seed=3)


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory, state):
    path = tmp_path_factory.mktemp("conf") / "my_inception.pth"
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(5)
    ramp = np.linspace(0, 1, 32, dtype=np.float32)
    base = ramp[None, None, :, None] * ramp[None, None, None, :]
    a = 0.6 * base + 0.4 * rng.random((N, 3, 32, 32))
    b = 0.3 * base[..., ::-1] + 0.7 * rng.random((N, 3, 32, 32)) ** 2
    # uint8-exact values, so every peer sees the same pixels whatever its input type
    return (np.rint(a * 255) / 255).astype(np.float32), (np.rint(b * 255) / 255).astype(np.float32)


@pytest.fixture(scope="module")
def ours(pair, weights_file):
    a, b = pair
    return conformance(a, b, weights=weights_file, seed=2020, is_splits=2, kid_subsets=5)


def test_torch_fidelity_protocol_is_torch_fidelity(ours, pair, weights_file):
    import torch_fidelity

    class Images(torch.utils.data.Dataset):
        def __init__(self, x):
            self.x = torch.from_numpy(np.rint(x * 255).astype(np.uint8))

        def __len__(self):
            return len(self.x)

        def __getitem__(self, i):
            return self.x[i]

    a, b = pair
    peer = torch_fidelity.calculate_metrics(
        input1=Images(b), input2=Images(a), fid=True, isc=True, kid=True, cuda=False, verbose=False,
        feature_extractor_weights_path=str(weights_file), isc_splits=2, kid_subsets=5, kid_subset_size=N,
        rng_seed=2020, save_cpu_ram=True)
    got = ours["protocols"]["torch-fidelity"]
    assert got["is"] == pytest.approx(peer["inception_score_mean"], rel=1e-5)
    assert got["is_std"] == pytest.approx(peer["inception_score_std"], rel=1e-3, abs=1e-6)
    assert got["kid"] == pytest.approx(peer["kernel_inception_distance_mean"], rel=1e-5)
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    from torch_fidelity.metric_kid import kid_features_to_metric

    net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"],
                                      feature_extractor_weights_path=str(weights_file)).eval()
    with torch.no_grad():
        fb, fa = (net(Images(x).x)[0].double() for x in (b, a))
    exact = kid_features_to_metric(fb, fa, kid_subsets=5, kid_subset_size=N, rng_seed=2020, verbose=False)
    assert got["kid"] == pytest.approx(exact["kernel_inception_distance_mean"], rel=1e-5)
    assert got["kid_subset_size"] == N
    # torch-fidelity's FID goes through scipy's sqrtm, which at N=10 << D=2048 is itself off by ~1e-4;
    # ours is the exact nuclear-norm value (tests/gandiag/metrics/test_frechet_small_n.py).
    assert got["fid"] == pytest.approx(peer["frechet_inception_distance"], rel=1e-3)


def test_pytorch_fid_protocol_is_pytorch_fid(ours, pair, state):
    import pytorch_fid.inception as pfi
    from pytorch_fid.fid_score import calculate_frechet_distance

    with mock.patch.object(pfi, "load_state_dict_from_url", lambda *a, **k: state):
        net = pfi.InceptionV3([3]).eval()
    feats = []
    for x in pair:
        with torch.no_grad():
            feats.append(net(torch.from_numpy(x))[0].squeeze(-1).squeeze(-1).double().numpy())
    peer = calculate_frechet_distance(feats[0].mean(0), np.cov(feats[0], rowvar=False),
                                      feats[1].mean(0), np.cov(feats[1], rowvar=False))
    assert ours["protocols"]["pytorch-fid"]["fid"] == pytest.approx(peer, rel=1e-3)


def test_clean_protocol_is_clean_fid(ours, pair, weights_file):
    from cleanfid.fid import frechet_distance, kernel_distance
    from cleanfid.resize import build_resizer

    from gandiag.features.inception import InceptionExtractor

    resize = build_resizer("clean")
    net = InceptionExtractor(weights=weights_file, protocol="clean").network
    feats = []
    for x in pair:
        resized = np.stack([resize((img * 255).transpose(1, 2, 0)).transpose(2, 0, 1) for img in x])
        with torch.no_grad():
            feats.append(net((torch.from_numpy(resized) - 128) / 128)[0].double().numpy())
    peer = frechet_distance(feats[0].mean(0), np.cov(feats[0], rowvar=False),
                            feats[1].mean(0), np.cov(feats[1], rowvar=False))
    assert ours["protocols"]["clean"]["fid"] == pytest.approx(peer, rel=1e-3)
    assert np.isfinite(kernel_distance(feats[0], feats[1], num_subsets=2, max_subset_size=N))


def test_protocols_differ_and_deltas_add_up(ours):
    rows, deltas = ours["protocols"], ours["deltas_vs_pytorch_fid"]
    assert len({round(r["fid"], 6) for r in rows.values()}) == 3  # never silently the same number
    for p, r in rows.items():
        assert deltas[p]["fid"] == pytest.approx(r["fid"] - rows["pytorch-fid"]["fid"])
    assert "clean-fid" in rows["clean"]["matches"] and "Heusel" in rows["torch-fidelity"]["matches"]
    assert ours["weights"]["weights_published"] is False
    assert ours["weights"]["weights_marker"] == "unpublished weights"


def test_cli_prints_marked_table_and_writes_json(pair, weights_file, tmp_path, capsys):
    a, b = pair
    np.savez(tmp_path / "a.npz", images=a[:4])
    np.savez(tmp_path / "b.npz", images=b[:4])
    out = tmp_path / "c.json"
    assert main(["conformance", str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), "--weights", str(weights_file),
                 "--is-splits", "2", "--kid-subsets", "2", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    for p in ("pytorch-fid", "clean", "torch-fidelity"):
        assert p in printed
    assert printed.count("[unpublished weights]") >= 4
    data = json.loads(out.read_text())
    assert set(data["protocols"]) == {"pytorch-fid", "clean", "torch-fidelity"}


@pytest.mark.parametrize("protocol", ["pytorch-fid", "clean", "torch-fidelity"])
def test_evaluate_protocol_gives_the_peer_checked_numbers_and_records_them(ours, pair, weights_file, tmp_path,
                                                                            protocol):
    """Through evaluate: --protocol P's FID/IS/KID are the numbers checked against P's peer above."""
    from gandiag.data import ImageSet
    from gandiag.evaluation import EvaluateOptions, evaluate

    a, b = pair
    np.savez(tmp_path / "ref.npz", images=a)
    options = EvaluateOptions(ref=str(tmp_path / "ref.npz"), metrics=("fid", "is", "kid"), weights=str(weights_file),
                              protocol=protocol, is_splits=2, kid_subsets=5, kid_subset_size=N, seed=2020,
                              cache_dir=str(tmp_path / "cache"))
    m = evaluate(ImageSet(b, source="b"), options).metrics
    want = ours["protocols"][protocol]
    assert m["fid"]["value"] == pytest.approx(want["fid"], rel=1e-6)
    assert m["is"]["mean"] == pytest.approx(want["is"], rel=1e-6)
    assert m["kid"]["mean"] == pytest.approx(want["kid"], rel=1e-5)
    for key in ("fid", "is", "kid"):
        assert m[key]["protocol"] == protocol and m[key]["weights_marker"] == "unpublished weights"
    assert m["provenance"]["extractors"]["inception-v3-fid"]["protocol"] == protocol


def test_evaluate_refuses_unknown_protocol_and_protocol_for_other_extractors():
    from gandiag.errors import GandiagError
    from gandiag.evaluation import EvaluateOptions, Reference

    with pytest.raises(GandiagError, match="protocol 'tf' is unknown; valid values are: pytorch-fid, clean"):
        Reference(EvaluateOptions(protocol="tf"))
    with pytest.raises(GandiagError, match="applies to the inception-v3-fid extractor only"):
        Reference(EvaluateOptions(protocol="clean", extractor="mnist-classifier"))


def test_fid_command_protocol_flag(pair, weights_file, tmp_path, capsys):
    a, b = pair
    np.savez(tmp_path / "a.npz", images=a[:4])
    np.savez(tmp_path / "b.npz", images=b[:4])
    assert main(["fid", str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), "--weights", str(weights_file),
                 "--protocol", "torch-fidelity", "--batch-size", "4", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "[inception-v3-fid, unpublished weights]  [protocol torch-fidelity]" in out
    assert main(["fid", str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), "--extractor", "pixels",
                 "--protocol", "clean"]) == 2
    assert "applies to the inception-v3-fid extractor only" in capsys.readouterr().err
