"""The shipped MNIST classifier: held-out accuracy, hash pinning, Stacked MNIST, training determinism."""
import shutil

import numpy as np
import pytest
import torch

from gandiag.data import load_mnist_subset
from gandiag.errors import GandiagError
from gandiag.features import classify_stacked_mnist, get_extractor, stacked_mnist_modes
from gandiag.features import mnist_classifier as mc
from gandiag.features.train_mnist_classifier import drop_overlap, random_shift, train
from gandiag.fileio import sha256_file


@pytest.fixture(scope="module")
def clf():
    return get_extractor("mnist-classifier")


@pytest.fixture(scope="module")
def test_split():
    return load_mnist_subset("test")


def test_shipped_weights_reach_98_percent_on_held_out_split(clf, test_split):
    pred = clf.predict(test_split.images)
    accuracy = float((pred == test_split.labels).mean())
    assert accuracy >= 0.98, accuracy
    assert len(test_split) == 2000


def test_shipped_hash_is_pinned_and_verified(tmp_path, monkeypatch, clf):
    assert sha256_file(mc.SHIPPED_WEIGHTS) == mc.SHIPPED_SHA256
    assert clf.provenance()["weights_sha256"] == mc.SHIPPED_SHA256 and clf.provenance()["weights_shipped"]
    tampered = tmp_path / "mnist_classifier.pt"
    shutil.copy(mc.SHIPPED_WEIGHTS, tampered)
    with open(tampered, "ab") as handle:
        handle.write(b"\0")
    monkeypatch.setattr(mc, "SHIPPED_WEIGHTS", tampered)
    with pytest.raises(GandiagError, match="installation is damaged; reinstall gandiag"):
        mc.MnistClassifierExtractor()


def test_features_logits_probabilities(clf, test_split):
    x = test_split.images[:50]
    out = clf.extract(x, outputs=("features", "logits"))
    assert out["features"].shape == (50, 128) and out["logits"].shape == (50, 10)
    assert out["features"].dtype == np.float32 and (out["features"] >= 0).all()  # post-ReLU layer
    p = clf.probabilities(x)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_array_equal(p.argmax(axis=1), out["logits"].argmax(axis=1))


def test_other_weights_file_is_accepted_and_recorded(tmp_path, clf):
    model = mc.MnistCNN()
    torch.save(model.state_dict(), tmp_path / "mine.pt")
    other = get_extractor("mnist-classifier", weights=tmp_path / "mine.pt")
    prov = other.provenance()
    assert prov["weights_shipped"] is False and prov["weights_sha256"] == sha256_file(tmp_path / "mine.pt")


def test_stacked_mnist_modes(clf, test_split):
    rng = np.random.default_rng(3)
    idx = rng.integers(0, len(test_split), size=(200, 3))
    stacked = np.concatenate([test_split.images[idx[:, c]] for c in range(3)], axis=1)
    assert stacked.shape == (200, 3, 28, 28)
    digits = classify_stacked_mnist(stacked, clf)
    truth = test_split.labels[idx]
    assert (digits == truth).all(axis=1).mean() >= 0.93  # ~0.988^3 per image
    modes = stacked_mnist_modes(stacked, clf)
    np.testing.assert_array_equal(modes, digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2])
    assert modes.min() >= 0 and modes.max() <= 999
    # Channel c is classified on its own: swapping channels swaps digits.
    swapped = classify_stacked_mnist(stacked[:, ::-1].copy(), clf)
    np.testing.assert_array_equal(swapped, digits[:, ::-1])


def test_bad_inputs(clf):
    with pytest.raises(GandiagError, match="expects 1-channel .* got 3 channels.*stacked_mnist_modes"):
        clf.extract(np.zeros((2, 3, 28, 28), np.float32))
    with pytest.raises(GandiagError, match="expects 28x28 digits, got 32x32"):
        clf.extract(np.zeros((2, 1, 32, 32), np.float32))
    with pytest.raises(GandiagError, match=r"stacked MNIST images must have shape \(N, 3, 28, 28\)"):
        stacked_mnist_modes(np.zeros((2, 1, 28, 28), np.float32), clf)


def test_random_shift_moves_content_and_pads_with_zero():
    x = np.zeros((64, 1, 5, 5), np.float32)
    x[:, 0, 2, 2] = 1.0
    y = random_shift(x, 2, np.random.default_rng(0))
    assert y.shape == x.shape and np.allclose(y.sum(axis=(1, 2, 3)), 1.0)  # the dot stays inside
    positions = {tuple(np.argwhere(img[0])[0]) for img in y}
    assert len(positions) > 10  # offsets vary
    np.testing.assert_array_equal(random_shift(x, 0, np.random.default_rng(0)), x)


def test_drop_overlap_removes_eval_copies(test_split):
    train_x = np.concatenate([test_split.images[:5], load_mnist_subset("train").images[:20]])
    train_y = np.arange(25)
    x, y, dropped = drop_overlap(train_x, train_y, test_split.images)
    assert dropped == 5 and len(x) == 20 and (y == np.arange(5, 25)).all()


def test_training_is_deterministic_for_a_seed():
    data = load_mnist_subset("train")
    x, y = data.images[:192], data.labels[:192]
    m1, h1 = train(x, y, epochs=1, batch_size=64, seed=7, log=lambda *_: None)
    m2, h2 = train(x, y, epochs=1, batch_size=64, seed=7, log=lambda *_: None)
    for (k, a), (_, b) in zip(m1.state_dict().items(), m2.state_dict().items()):
        assert torch.equal(a, b), k
    assert h1[0]["loss"] == h2[0]["loss"]
    with pytest.raises(GandiagError, match="one integer label per image"):
        train(x, None, epochs=1)


def test_training_command_on_other_data_drops_eval_copies(tmp_path, capsys):
    from gandiag.features.train_mnist_classifier import main

    held = load_mnist_subset("test")
    train_split = load_mnist_subset("train")
    images = np.concatenate([train_split.images[:128], held.images[:5]])
    labels = np.concatenate([train_split.labels[:128], held.labels[:5]])
    np.savez(tmp_path / "digits.npz", images=(images[:, 0] * 255).round().astype(np.uint8), labels=labels)
    out = tmp_path / "cnn.pt"
    assert main(["--data", str(tmp_path / "digits.npz"), "--epochs", "1", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "training on 128 digits" in text and "dropped 5 identical to the eval split" in text
    ext = get_extractor("mnist-classifier", weights=out)  # the written file loads as an extractor
    assert ext.provenance()["weights_sha256"] == sha256_file(out)
    assert main(["--data", "mnist-subset:train", "--eval-data", "pixels-nowhere.npz", "--out", str(out)]) == 2
