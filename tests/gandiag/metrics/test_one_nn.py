"""1-NN two-sample accuracy: known answers, a brute-force oracle, and the record end to end."""
import numpy as np
import pytest

from gandiag.errors import GandiagError
from gandiag.metrics.one_nn import one_nn_accuracy


def _brute_force(real, fake, k):
    """Xu et al.'s knn(): full distance matrix, +inf diagonal, k smallest, predict real if votes >= k/2."""
    x = np.concatenate([real, fake]).astype(np.float64)
    labels = np.r_[np.ones(len(real)), np.zeros(len(fake))]
    d = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    idx = np.argsort(d, axis=1, kind="stable")[:, :k]
    pred = labels[idx].sum(axis=1) >= k / 2
    correct = pred == (labels == 1)
    return correct.mean(), correct[:len(real)].mean(), correct[len(real):].mean()


def test_same_distribution_is_near_one_half():
    rng = np.random.default_rng(0)
    out = one_nn_accuracy(rng.normal(size=(600, 8)), rng.normal(size=(600, 8)))
    # LOO accuracy of 1200 rows under the null: s.d. ~ 0.5 / sqrt(1200) = 0.014
    assert abs(out["accuracy"] - 0.5) < 0.05
    assert out["num_real"] == out["num_fake"] == 600 and out["k"] == 1


def test_disjoint_sets_are_fully_separable_and_copies_score_zero():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(100, 5))
    far = one_nn_accuracy(real, rng.normal(size=(100, 5)) + 50.0)
    assert far["accuracy"] == far["accuracy_real"] == far["accuracy_fake"] == 1.0
    copied = one_nn_accuracy(real, real.copy())  # every row's nearest other row is its twin
    assert copied["accuracy"] == 0.0


def test_collapsed_generator_is_recognised_by_its_own_cluster():
    rng = np.random.default_rng(2)
    real = rng.normal(size=(200, 4))
    collapsed = rng.normal(scale=0.01, size=(200, 4))  # every sample at the mode
    out = one_nn_accuracy(real, collapsed)
    assert out["accuracy_fake"] == 1.0 and out["accuracy"] > 0.7


@pytest.mark.parametrize("k", [1, 3, 4])
def test_matches_brute_force_oracle_including_ties(k):
    rng = np.random.default_rng(3 + k)
    real = rng.integers(0, 3, size=(40, 2)).astype(float)  # many exact ties and duplicates
    fake = rng.integers(0, 3, size=(30, 2)).astype(float) + 0.5 * (rng.random((30, 1)) < 0.5)
    out = one_nn_accuracy(real, fake, k=k)
    acc, acc_r, acc_f = _brute_force(real, fake, k)
    assert (out["accuracy"], out["accuracy_real"], out["accuracy_fake"]) == pytest.approx((acc, acc_r, acc_f))


def test_bad_inputs_name_the_argument():
    with pytest.raises(GandiagError, match=r"one_nn_accuracy\(k\)"):
        one_nn_accuracy(np.zeros((2, 3)), np.ones((2, 3)), k=4)
    with pytest.raises(GandiagError, match=r"one_nn_accuracy\(fake\)"):
        one_nn_accuracy(np.zeros((4, 3)), np.ones((4, 2)))


def test_record_end_to_end_on_real_digits(tmp_path):
    from gandiag.commands._summary import metric_lines
    from gandiag.data import load_mnist_subset
    from gandiag.evaluation import EvaluateOptions, evaluate
    from gandiag.report.html import evaluation_html

    train = load_mnist_subset("train")
    np.savez(tmp_path / "ref.npz", images=train.images[:400])
    fake = load_mnist_subset("test").subset(slice(0, 500))
    ev = evaluate(fake, EvaluateOptions(metrics=("1nn-accuracy",), ref=str(tmp_path / "ref.npz"), seed=5,
                                        cache_dir=str(tmp_path / "cache")))
    r = ev.metrics["1nn-accuracy"]
    assert r["extractor"] == "mnist-classifier" and r["num_real"] == r["num_fake"] == 400
    assert abs(r["accuracy"] - 0.5) < 0.1  # real test digits vs real train digits
    assert metric_lines(ev.metrics)[0].startswith("1-NN two-sample accuracy: ")
    assert "1-NN two-sample test accuracy" in evaluation_html(ev)
