"""Conditional-generator metrics: label accuracy, intra-class FID, CAS."""
import numpy as np
import pytest

from gandiag.data import load_mnist_subset
from gandiag.errors import GandiagError
from gandiag.metrics.conditional import classification_accuracy_score, intra_class_fid, label_accuracy
from gandiag.metrics.frechet import fid_from_features


def test_label_accuracy_closed_form():
    cond = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([0, 1, 1, 1, 0, 0])
    out = label_accuracy(pred, cond, 3)
    assert out["accuracy"] == pytest.approx(3 / 6) and out["per_class"] == [0.5, 1.0, 0.0]
    assert out["confusion"] == [[1, 1, 0], [0, 2, 0], [2, 0, 0]] and out["chance"] == pytest.approx(1 / 3)
    logits = np.eye(3)[pred] * 5.0
    assert label_accuracy(logits, cond, 3)["accuracy"] == out["accuracy"]
    assert label_accuracy(np.array([0]), np.array([0]), 4)["per_class"][1:] == [None, None, None]


def test_label_ignoring_generator_gets_chance():
    rng = np.random.default_rng(0)
    drawn = rng.integers(0, 10, 20000)      # what G draws, whatever it is asked
    asked = np.arange(20000) % 10           # balanced conditioning labels
    assert label_accuracy(drawn, asked, 10)["accuracy"] == pytest.approx(0.10, abs=0.01)


def test_intra_class_fid_matches_per_class_fid_and_sees_swapped_classes():
    rng = np.random.default_rng(1)
    means = rng.normal(0, 3, (3, 4))
    ry = np.repeat(np.arange(3), 300)
    ref = means[ry] + rng.standard_normal((900, 4))
    fy = np.repeat(np.arange(3), 200)
    fake = means[fy] + rng.standard_normal((600, 4))
    out = intra_class_fid(fake, fy, ref, ry, 3)
    for c in range(3):
        assert out["per_class"][c] == pytest.approx(fid_from_features(fake[fy == c], ref[ry == c]))
    assert out["intra_fid"] == pytest.approx(np.mean(out["per_class"])) and out["intra_fid"] < 0.2
    swapped = intra_class_fid(fake, (fy + 1) % 3, ref, ry, 3)  # right images, wrong labels (plain FID: unchanged)
    assert swapped["intra_fid"] > 20 * out["intra_fid"]


def test_cas_real_vs_shuffled_labels():
    data = load_mnist_subset("all")
    x, y = data.images, data.labels
    good = classification_accuracy_score(x[:1000], y[:1000], x[8000:8500], y[8000:8500], epochs=2, seed=0)
    bad = classification_accuracy_score(x[:1000], np.random.default_rng(0).permutation(y[:1000]),
                                        x[8000:8500], y[8000:8500], epochs=1, seed=0)
    assert good["cas"] > 0.65 and bad["cas"] < 0.3  # measured 0.758 and chance level
    assert good["num_train"] == 1000 and good["seconds"] > 0 and len(good["per_class"]) == 10


def test_bad_inputs():
    with pytest.raises(GandiagError, match=r"labels must lie in \[0, 2\], got \[0, 5\]; check --num-classes"):
        label_accuracy(np.array([0, 5]), np.array([0, 1]), 3)
    with pytest.raises(GandiagError, match="expected 2 labels"):
        label_accuracy(np.array([0, 1]), np.array([0, 1, 2]), 3)
    feats = np.random.default_rng(0).standard_normal((20, 3))
    with pytest.raises(GandiagError, match=r"classes \[2\] have fewer than 2"):
        intra_class_fid(feats, np.arange(20) % 2, feats, np.arange(20) % 3, 3)
    with pytest.raises(GandiagError, match=r"needs \(N, 1, 28, 28\) images"):
        classification_accuracy_score(np.zeros((4, 3, 32, 32)), np.zeros(4, int), np.zeros((4, 1, 28, 28)),
                                      np.zeros(4, int))
    with pytest.raises(GandiagError, match="contains NaN or Inf"):
        classification_accuracy_score(np.full((4, 1, 28, 28), np.nan), np.zeros(4, int),
                                      np.zeros((4, 1, 28, 28)), np.zeros(4, int))
