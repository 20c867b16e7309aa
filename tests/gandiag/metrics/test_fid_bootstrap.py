"""The FID bootstrap interval means what it says: ~95 % coverage of a known FID (simulation)."""
import numpy as np
import pytest

from gandiag.metrics import frechet_distance
from gandiag.metrics.frechet import frechet_bootstrap_ci, fid_to_reference


def _coverage(d, n, shift, reps, resamples, seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(d, d)) / np.sqrt(d)
    sigma_g = a @ a.T + 0.1 * np.eye(d)
    mu_r, sigma_r = np.full(d, shift), 1.2 * sigma_g  # fixed reference statistics
    true = frechet_distance(np.zeros(d), sigma_g, mu_r, sigma_r)
    lower = np.linalg.cholesky(sigma_g)
    hits, biased_hits = 0, 0
    for r in range(reps):
        x = rng.normal(size=(n, d)) @ lower.T
        value = fid_to_reference(x, mu_r, sigma_r)
        (lo, hi), bias = frechet_bootstrap_ci(x, mu_r, sigma_r, value, resamples=resamples, seed=r)
        hits += lo <= true <= hi
        assert value - bias == pytest.approx(value - bias)  # finite
        # the former interval (percentiles shifted by the bias, i.e. centred on the biased value)
        width_lo, width_hi = value - lo, hi - value
        biased_hits += (value - width_hi) <= true <= (value + width_lo)
    return hits / reps, biased_hits / reps, true


def test_basic_bootstrap_covers_the_true_fid_near_nominally():
    coverage, former, true = _coverage(d=8, n=150, shift=0.3, reps=120, resamples=50, seed=0)
    assert true > 0.5  # away from the 0 boundary, where clipping would help coverage
    # Monte Carlo s.e. of a 95 % coverage over 120 repetitions: 2 points
    assert 0.87 <= coverage <= 0.995, coverage
    assert former < 0.8, former  # the re-centred percentile interval misses the bias


def test_interval_is_clipped_at_zero_and_ordered():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(100, 4))
    value = fid_to_reference(x, np.zeros(4), np.eye(4))
    (lo, hi), bias = frechet_bootstrap_ci(x, np.zeros(4), np.eye(4), value, resamples=40, seed=0)
    assert 0.0 <= lo <= hi and bias > 0  # resampling duplicates rows: FID* is biased upward
