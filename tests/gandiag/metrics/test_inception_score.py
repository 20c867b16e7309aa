"""Inception Score: parity with torch-fidelity, known values, bad input."""
import numpy as np
import pytest
import torch
from torch_fidelity.metric_isc import isc_features_to_metric

from gandiag.errors import GandiagError
from gandiag.metrics import inception_score, inception_score_from_logits


@pytest.mark.parametrize("n,splits", [(1000, 10), (999, 7), (50, 1)])
def test_matches_torch_fidelity_on_logits(n, splits):
    logits = np.random.default_rng(n).normal(size=(n, 1008)) * 3.0
    peer = isc_features_to_metric(torch.from_numpy(logits), splits=splits, shuffle=True, rng_seed=2020)
    mean, std = inception_score_from_logits(logits, splits=splits)
    assert mean == pytest.approx(peer["inception_score_mean"], rel=1e-12)
    assert std == pytest.approx(peer["inception_score_std"], rel=1e-9, abs=1e-12)


def test_probs_path_equals_logits_path_and_no_shuffle_option():
    logits = np.random.default_rng(1).normal(size=(200, 10))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    assert inception_score(probs, splits=4) == pytest.approx(inception_score_from_logits(logits, splits=4), rel=1e-12)
    peer = isc_features_to_metric(torch.from_numpy(logits), splits=4, shuffle=False)
    assert inception_score_from_logits(logits, splits=4, shuffle=False)[0] == pytest.approx(
        peer["inception_score_mean"], rel=1e-12)


def test_known_values():
    k = 10
    # Confident and perfectly balanced: IS = K. Identical rows: IS = 1.
    one_hot = np.eye(k)[np.arange(1000) % k]
    assert inception_score(one_hot, splits=1) == pytest.approx((float(k), 0.0))
    assert inception_score(np.full((100, k), 1.0 / k), splits=2)[0] == pytest.approx(1.0)


def test_bad_inputs():
    with pytest.raises(GandiagError, match="rows must sum to 1, found a row summing to 2"):
        inception_score(np.full((4, 2), 1.0))
    with pytest.raises(GandiagError, match="has negative entries"):
        inception_score(np.array([[1.5, -0.5], [0.5, 0.5]]), splits=1)
    with pytest.raises(GandiagError, match=r"splits\): must be >= 1 and <= 3"):
        inception_score(np.full((3, 2), 0.5), splits=10)
    with pytest.raises(GandiagError, match="expected a 2-D array"):
        inception_score(np.full(3, 0.5))
    with pytest.raises(GandiagError, match=r"inception_score_from_logits\(logits\): contains NaN"):
        inception_score_from_logits(np.array([[np.nan, 1.0]]), splits=1)


def test_evaluate_shuffles_is_splits_with_its_seed(tmp_path):
    """--seed reaches the IS split permutation and is recorded (it was a hard-coded 2020)."""
    from gandiag.data import load_mnist_subset
    from gandiag.evaluation import EvaluateOptions, evaluate
    from gandiag.metrics import inception_score_from_logits

    fake = load_mnist_subset("test").subset(slice(0, 300))
    runs = {seed: evaluate(fake, EvaluateOptions(metrics=("mnist-is",), seed=seed, cache_dir=str(tmp_path)))
            .metrics["mnist-is"] for seed in (0, 2020)}
    assert runs[0]["split_seed"] == 0 and runs[2020]["split_seed"] == 2020
    assert runs[0]["std"] != runs[2020]["std"]  # other splits
    from gandiag.features import get_extractor

    logits = get_extractor("mnist-classifier").extract(fake.images, outputs=("logits",))["logits"]
    assert runs[2020]["mean"] == pytest.approx(inception_score_from_logits(logits, splits=10, seed=2020)[0], rel=1e-12)
