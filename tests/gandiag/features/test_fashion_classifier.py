"""The shipped Fashion-MNIST classifier: test accuracy, hash pinning, mode coverage with class names."""
import shutil

import numpy as np
import pytest

from gandiag.data import ImageSet
from gandiag.errors import GandiagError
from gandiag.features import fashion_classifier as fc
from gandiag.features import get_extractor
from gandiag.fileio import sha256_file


@pytest.fixture(scope="module")
def clf():
    return get_extractor("fashion-classifier")


def test_shipped_weights_reach_90_percent_on_the_test_set(clf, fashion):
    x, y = fashion["test"]
    accuracy = float((clf.predict(x) == y).mean())
    assert accuracy >= 0.90, accuracy
    assert abs(accuracy - fc.TEST_ACCURACY) < 1e-4  # the number the module doc states
    assert len(y) == 10000


def test_hash_pinned_class_names_and_shape_check(tmp_path, monkeypatch, clf):
    assert sha256_file(fc.SHIPPED_WEIGHTS) == fc.SHIPPED_SHA256 and clf.provenance()["weights_shipped"]
    assert clf.class_names[9] == "Ankle boot" and len(clf.class_names) == 10
    tampered = tmp_path / "fashion_classifier.pt"
    shutil.copy(fc.SHIPPED_WEIGHTS, tampered)
    with open(tampered, "ab") as handle:
        handle.write(b"\0")
    monkeypatch.setattr(fc.FashionClassifierExtractor, "shipped_weights", tampered)
    with pytest.raises(GandiagError, match="shipped Fashion-MNIST classifier weights .* installation is damaged"):
        fc.FashionClassifierExtractor()
    with pytest.raises(GandiagError, match="expects 1x28x28 grayscale Fashion-MNIST images"):
        clf.extract(np.zeros((2, 3, 28, 28), dtype=np.float32))


def test_ref_fashion_mnist_names_the_missing_classes(fashion):
    """Real Fashion images with trouser, sandal and bag removed: coverage names them, NDB flags them."""
    from gandiag.evaluation import EvaluateOptions, evaluate

    x, y = fashion["train"]
    keep = ~np.isin(y, [1, 5, 8])
    fake = ImageSet(x[keep][:3000], None, "fashion without 3 classes")
    ev = evaluate(fake, EvaluateOptions(ref="fashion-mnist:test", metrics=("modes", "ndb", "mnist-fid"),
                                        ndb_bins=30))
    modes = ev.metrics["modes"]
    assert modes["classifier"] == "fashion-classifier"
    assert modes["missing_names"] == ["Trouser", "Sandal", "Bag"] and modes["covered"] == 7
    ndb = ev.metrics["ndb"]
    assert ndb["space"] == "fashion-classifier" and ndb["ndb_k"] > 0.3
    assert {1, 5, 8} <= set(ndb["under_majority_labels"])
    assert ev.metrics["mnist-fid"]["extractor"] == "fashion-classifier"  # Fashion-FID
