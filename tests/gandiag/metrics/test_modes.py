"""Mode coverage: counts, thresholds, KL, 1000 classes, bad input."""
import math

import numpy as np
import pytest

from gandiag.errors import GandiagError
from gandiag.metrics import mode_coverage


def test_labels_and_probs_agree_and_counts():
    labels = np.array([0, 0, 1, 1, 1, 2, 9])
    probs = np.eye(10)[labels] * 0.9 + 0.01
    a = mode_coverage(labels)
    b = mode_coverage(probs)
    assert a == b
    assert a["covered"] == 4 and a["missing"] == [3, 4, 5, 6, 7, 8]
    assert a["counts"][:3] == [2, 3, 1] and a["num_samples"] == 7
    assert sum(a["fractions"]) == pytest.approx(1.0)


def test_thresholds():
    labels = np.repeat(np.arange(10), [1, 2, 3, 4, 5, 6, 7, 8, 9, 55])  # N = 100
    assert mode_coverage(labels, min_count=5)["covered"] == 6
    out = mode_coverage(labels, min_fraction=0.071)  # ceil(7.1) = 8
    assert out["threshold"] == 8 and out["covered"] == 3
    assert mode_coverage(labels, min_count=9, min_fraction=0.05)["threshold"] == 9


def test_kl_values():
    uniform = np.arange(1000) % 10
    out = mode_coverage(uniform, reference=uniform)
    assert out["kl_to_reference"] == pytest.approx(0.0, abs=1e-15)
    assert out["kl_to_uniform"] == pytest.approx(0.0, abs=1e-12) and out["normalized_entropy"] == pytest.approx(1.0)
    collapsed = np.zeros(50, dtype=int)
    c = mode_coverage(collapsed, reference_counts=np.ones(10))
    assert c["kl_to_reference"] == pytest.approx(math.log(10)) and c["covered"] == 1
    assert c["normalized_entropy"] == 0.0 and c["max_fraction"] == 1.0
    assert mode_coverage(np.array([0, 1]), reference=np.array([0, 0]))["kl_to_reference"] == math.inf
    assert mode_coverage(uniform)["kl_to_reference"] is None


def test_stacked_mnist_1000_classes():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 1000, size=26000)
    out = mode_coverage(labels, num_classes=1000)
    assert out["covered"] == 1000 and len(out["counts"]) == 1000
    assert 0 < out["kl_to_uniform"] < 0.05


def test_bad_inputs():
    with pytest.raises(GandiagError, match=r"labels must lie in \[0, 9\], got range \[0, 12\]"):
        mode_coverage(np.array([0, 12]))
    with pytest.raises(GandiagError, match="1-D input must be integer class labels, got dtype float64"):
        mode_coverage(np.array([0.0, 1.0]))
    with pytest.raises(GandiagError, match="probabilities have 3 columns but num_classes=10"):
        mode_coverage(np.ones((4, 3)))
    with pytest.raises(GandiagError, match="either reference .* not both"):
        mode_coverage(np.array([0]), reference=np.array([0]), reference_counts=np.ones(10))
    with pytest.raises(GandiagError, match=r"reference_counts\): expected 10 non-negative counts"):
        mode_coverage(np.array([0]), reference_counts=np.ones(3))
    with pytest.raises(GandiagError, match=r"min_fraction\): must be in \[0, 1\]"):
        mode_coverage(np.array([0]), min_fraction=2.0)
    with pytest.raises(GandiagError, match="no samples"):
        mode_coverage(np.array([], dtype=int))
    with pytest.raises(GandiagError, match=r"num_classes\): must be >= 2"):
        mode_coverage(np.array([0]), num_classes=1)
