"""`gandiag extract` and `gandiag extractors` end to end (in-process CLI)."""
import json

import numpy as np
import pytest
import torch

from gandiag.cli import main
from gandiag.data import load_mnist_subset
from gandiag.features.inception import random_state_dict
from gandiag.metrics import FeatureStats


def _provenance(npz):
    return json.loads(str(npz["provenance"]))


def test_features_logits_labels_and_provenance(tmp_path, capsys):
    out = tmp_path / "f.npz"
    assert main(["extract", "mnist-subset:test", "--extractor", "mnist-classifier", "--num-samples", "100",
                 "--seed", "3", "--out", str(out), "--quiet"]) == 0
    got = np.load(out)
    assert got["features"].shape == (100, 128) and got["logits"].shape == (100, 10)
    assert got["labels"].shape == (100,) and got["features"].dtype == np.float32
    meta = _provenance(got)
    assert meta["provenance"]["name"] == "mnist-classifier" and meta["seed"] == 3 and meta["num_images"] == 100
    assert len(meta["provenance"]["weights_sha256"]) == 64
    assert capsys.readouterr().out == ""


def test_stats_are_pytorch_fid_compatible(tmp_path):
    out = tmp_path / "s.npz"
    assert main(["extract", "mnist-subset:test", "--extractor", "pixels", "--stats", "--out", str(out),
                 "--quiet"]) == 0
    raw = np.load(out)
    x = load_mnist_subset("test").images.reshape(2000, -1).astype(np.float64)
    np.testing.assert_allclose(raw["mu"], x.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(raw["sigma"], np.cov(x, rowvar=False), atol=1e-10)  # N-1, as pytorch-fid
    assert FeatureStats.load(out).count == 2000
    assert _provenance(raw)["provenance"]["protocol"].startswith("canonical")


def test_timed_prints_throughput_and_latency(tmp_path, capsys):
    out = tmp_path / "t.npz"
    assert main(["extract", "mnist-subset:test", "--extractor", "mnist-classifier", "--timed", "--batch-size", "500",
                 "--amp", "bf16", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "images/s" in text and "p50" in text and "p99" in text and "features vs float32" in text
    timing = _provenance(np.load(out))["timing"]
    assert timing["batch_size"] == 500 and timing["execution"]["amp"] == "bf16"
    assert timing["deviation_vs_fp32"]["max_abs"] > 0


def test_cache_flag_uses_gandiag_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANDIAG_CACHE", str(tmp_path / "cache"))
    for again in range(2):  # the second run overwrites its own output: --force (issue 11)
        assert main(["extract", "mnist-subset:test", "--extractor", "pixels", "--cache", "--stats",
                     "--out", str(tmp_path / "c.npz"), "--quiet"] + ["--force"] * again) == 0
    assert len(list((tmp_path / "cache" / "stats").glob("pixels-*.npz"))) == 1


def test_inception_with_weights_and_protocol(tmp_path):
    weights = tmp_path / "random_inception.pth"
    torch.save(random_state_dict(2), weights)
    src = tmp_path / "two.npz"
    np.savez(src, images=np.random.default_rng(0).integers(0, 256, (2, 3, 20, 20), dtype=np.uint8))
    out = tmp_path / "i.npz"
    assert main(["extract", str(src), "--extractor", "inception-v3-fid", "--weights", str(weights),
                 "--protocol", "clean", "--out", str(out), "--quiet"]) == 0
    got = np.load(out)
    assert got["features"].shape == (2, 2048) and got["logits"].shape == (2, 1008)
    prov = _provenance(got)["provenance"]
    assert prov["protocol"] == "clean" and prov["weights_published"] is False


@pytest.mark.parametrize("argv, message", [
    (["--extractor", "nope"], "unknown extractor 'nope'; valid values are: fashion-classifier, inception-v3-fid, mnist-classifier, pixels"),
    (["--extractor", "mnist-classifier", "--protocol", "clean"], "has no option 'protocol'"),
    (["--extractor", "inception-v3-fid"], "pt_inception-2015-12-05-6726825d.pth (sha256 6726825d0af5"),
    (["--extractor", "pixels", "--out", "x.txt"], "--out must end in .npz"),
])
def test_errors_are_one_line_exit_2(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_torch_home"))
    monkeypatch.delenv("GANDIAG_INCEPTION_WEIGHTS", raising=False)
    if "--out" not in argv:
        argv = argv + ["--out", str(tmp_path / "x.npz")]
    assert main(["extract", "mnist-subset:test", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("gandiag extract: error:")


def test_extractors_lists_registry(capsys):
    assert main(["extractors"]) == 0
    text = capsys.readouterr().out
    for name in ("inception-v3-fid", "mnist-classifier", "pixels"):
        assert name in text
    assert main(["extractors", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert {e["name"] for e in entries} >= {"inception-v3-fid", "mnist-classifier", "pixels"}
