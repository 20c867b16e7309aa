"""The label-free / Stacked / conditional records end to end through evaluate()."""
import numpy as np
import pytest

from gandiag.data import ImageSet, load_mnist_subset
from gandiag.errors import GandiagError
from gandiag.evaluation import EvaluateOptions, evaluate, resolve_metrics
from gandiag.features.mnist_classifier import MnistClassifierExtractor


@pytest.fixture(scope="module")
def digits():
    data = load_mnist_subset("test")  # disjoint from the default reference (the train split)
    return data.images, data.labels


@pytest.fixture(scope="module")
def correct_digits(digits):
    """Test digits the shipped classifier labels correctly (so mode counts are exact)."""
    x, y = digits
    ok = MnistClassifierExtractor().predict(x) == y
    return x[ok], y[ok]


def test_ndb_and_birthday_records():
    train = load_mnist_subset("train")
    collapsed = ImageSet(train.images[np.isin(train.labels, [0, 1, 7])][:600], None, "three digits")
    ev = evaluate(collapsed, EvaluateOptions(metrics=("ndb", "birthday"), ndb_bins=20, birthday_batches=10))
    ndb = ev.metrics["ndb"]
    assert ndb["space"] == "mnist-classifier" and ndb["ndb_k"] > 0.5 and "sample_bins" not in ndb
    assert ev.arrays["ndb_under_images"].shape[1:] == (8, 1, 28, 28)
    assert set(ndb["under_majority_labels"]) - {0, 1, 7}  # abandoned bins hold the other digits
    assert ev.metrics["birthday"]["space"] == "mnist-classifier" and ev.arrays["birthday_pairs"].shape[1] == 2
    from gandiag.report import evaluation_html

    html = evaluation_html(ev)
    assert "Statistically different bins (NDB)" in html and "What the generator no longer draws" in html
    assert "Birthday-paradox test" in html and "closest pairs of generated images" in html


def test_stacked_mnist_100_of_1000_modes_recognised(tmp_path, correct_digits):
    x, y = correct_digits
    rng = np.random.default_rng(0)
    modes = rng.choice(1000, 100, replace=False)
    by_digit = [np.flatnonzero(y == d) for d in range(10)]
    picked = modes[rng.integers(0, 100, 2000)]
    digits3 = np.stack([picked // 100, picked // 10 % 10, picked % 10], axis=1)
    images = np.stack([np.concatenate([x[rng.choice(by_digit[d])] for d in row]) for row in digits3])
    ref_modes = np.concatenate([modes, rng.integers(0, 1000, 1400)])  # holds every generated mode: finite KL
    ref = np.stack([np.concatenate([x[rng.choice(by_digit[d])] for d in (m // 100, m // 10 % 10, m % 10)])
                    for m in ref_modes])
    np.savez(tmp_path / "stacked_ref.npz", images=ref)
    assert resolve_metrics(None, False, domain="stacked-mnist") == ["stacked-modes"]
    ev = evaluate(ImageSet(images.astype(np.float32), None, "100 modes"),
                  EvaluateOptions(ref=str(tmp_path / "stacked_ref.npz")))
    out = ev.metrics["stacked-modes"]
    assert out["covered"] == 100 and out["num_classes"] == 1000
    assert out["kl_to_uniform"] == pytest.approx(np.log(10), abs=0.15)  # ~uniform over 100 of 1000 modes
    # KL(generated || reference) of the mode histograms, as the data were drawn (was `is None or > 1`: an
    # infinite KL and a KL never computed both read None in JSON, so it could not fail)
    p = np.bincount(picked, minlength=1000) / len(picked)
    q = np.bincount(ref_modes, minlength=1000) / len(ref_modes)
    kl = float(np.sum(p[p > 0] * np.log(p[p > 0] / q[p > 0])))
    assert kl > 1 and out["kl_to_reference"] == pytest.approx(kl, rel=1e-9)
    with pytest.raises(GandiagError, match=r"stacked-modes: needs Stacked MNIST images \(N, 3, 28, 28\)"):
        evaluate(ImageSet(x[:50], None, "plain"), EvaluateOptions(metrics=("stacked-modes",)))


def test_label_ignoring_conditional_generator_gets_chance_accuracy(digits):
    x, y = digits
    asked = np.arange(2000) % 10                            # balanced labels it was asked for
    ignoring = ImageSet(x[:2000], asked, "G(z, y) ignoring y")  # images whatever y was
    ev = evaluate(ignoring, EvaluateOptions(metrics=("modes", "intra-fid")))
    assert ev.metrics["modes"]["conditioning_accuracy"] == pytest.approx(0.10, abs=0.03)
    obeying = evaluate(ImageSet(x[:2000], y[:2000], "obeys y"), EvaluateOptions(metrics=("modes", "intra-fid")))
    assert obeying.metrics["modes"]["conditioning_accuracy"] > 0.97
    per = obeying.metrics["modes"]["conditioning_per_class"]
    assert len(per) == 10 and min(per) > 0.9
    assert ev.metrics["intra-fid"]["intra_fid"] > 5 * obeying.metrics["intra-fid"]["intra_fid"]


def test_conditional_metrics_need_labels(digits):
    x, _ = digits
    with pytest.raises(GandiagError, match="intra-fid needs a conditional generator's labels"):
        evaluate(ImageSet(x[:100], None, "unconditional"), EvaluateOptions(metrics=("intra-fid",)))
    from gandiag.sources import load_source

    with pytest.raises(GandiagError, match="--num-classes applies to conditional generators"):
        load_source("mnist-subset:test", num_classes=10)
