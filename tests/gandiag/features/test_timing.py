"""Timed extraction: report fields, percentiles, and the price of AMP / channels_last."""
import numpy as np
import pytest

from gandiag.data import load_mnist_subset
from gandiag.errors import GandiagError
from gandiag.features import get_extractor, time_extraction
from gandiag.features.timing import feature_deviation, percentiles


@pytest.fixture(scope="module")
def digits():
    return np.array(load_mnist_subset("test").images[:256])


def test_report_fields(digits):
    clf = get_extractor("mnist-classifier")
    rep = time_extraction(clf, digits, batch_size=64, warmup=1, outputs=("features", "logits"), keep_outputs=True)
    assert rep.device == "cpu" and rep.dtype == "float32" and rep.batch_size == 64
    assert rep.num_images == 256 and rep.timed_batches == 4 and rep.warmup_batches == 1
    assert rep.images_per_s > 0 and rep.peak_memory_bytes > 10 * 2 ** 20 and "RSS" in rep.peak_memory_kind
    lat = rep.latency_ms
    assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    assert rep.deviation_vs_fp32 is None  # plain float32: nothing to compare
    ref = clf.extract(digits, outputs=("features", "logits"))
    np.testing.assert_allclose(rep.outputs["logits"], ref["logits"], atol=1e-5)
    d = rep.as_dict()
    assert "outputs" not in d and d["provenance"]["name"] == "mnist-classifier"
    assert "images/s" in rep.summary() and "p99" in rep.summary()


def test_amp_bf16_reports_its_deviation(digits):
    clf = get_extractor("mnist-classifier", amp="bf16")
    rep = time_extraction(clf, digits[:128], batch_size=64)
    dev = rep.deviation_vs_fp32
    assert rep.dtype == "bfloat16 autocast" and rep.execution["amp"] == "bf16"
    # bf16 keeps 8 mantissa bits: visible but small changes.
    assert 0 < dev["mean_abs"] <= dev["max_abs"] and dev["max_rel"] < 0.1
    assert clf.execution()["amp"] == "bf16"  # restored after the float32 comparison run
    assert "features vs float32" in rep.summary()


def test_channels_last_is_float_rounding_only(digits):
    clf = get_extractor("mnist-classifier", channels_last=True)
    rep = time_extraction(clf, digits[:128], batch_size=64)
    assert rep.execution["channels_last"] and rep.deviation_vs_fp32["max_rel"] < 1e-5


def test_helpers_and_bad_arguments(digits):
    p = percentiles([1.0, 2.0, 3.0, 4.0, 100.0])
    assert p["p50"] == 3.0 and p["max"] == 100.0 and p["p99"] > p["p90"] > p["p50"]
    dev = feature_deviation(np.array([[1.0, -2.0]]), np.array([[1.5, -2.0]]))
    assert dev == {"max_abs": 0.5, "mean_abs": 0.25, "max_rel": 0.25}
    with pytest.raises(GandiagError, match="batch_size must be positive"):
        time_extraction(get_extractor("pixels"), digits, batch_size=0)
