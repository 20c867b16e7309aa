"""PRDC: equal to the prdc package (<= 1e-9), chunk-size independence, bad input."""
import contextlib
import io

import numpy as np
import pytest
from prdc import compute_prdc

from gandiag.errors import GandiagError
from gandiag.metrics import prdc


def _peer(real, fake, k):
    with contextlib.redirect_stdout(io.StringIO()):  # compute_prdc prints the sample counts
        return compute_prdc(real, fake, nearest_k=k)


@pytest.mark.parametrize("n,m,d,k", [(400, 300, 16, 5), (250, 500, 64, 3), (120, 120, 2, 1)])
def test_matches_prdc_package(n, m, d, k):
    rng = np.random.default_rng(n + d)
    real = rng.normal(size=(n, d))
    fake = rng.normal(size=(m, d)) * 1.2 + 0.2
    peer = _peer(real, fake, k)
    ours = prdc(real, fake, k=k, chunk_size=97)
    for key in ("precision", "recall", "density", "coverage"):
        assert abs(ours[key] - float(peer[key])) <= 1e-9, key


def test_chunk_size_does_not_change_result():
    rng = np.random.default_rng(5)
    real, fake = rng.normal(size=(300, 8)), rng.normal(size=(200, 8))
    assert prdc(real, fake, chunk_size=1) == prdc(real, fake, chunk_size=1000) == prdc(real, fake)


def test_identical_sets_and_disjoint_sets():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(200, 8))
    same = prdc(x, x.copy())
    # Every fake point coincides with a real centre (distance 0 < radius).
    assert same["precision"] == 1.0 and same["recall"] == 1.0 and same["coverage"] == 1.0
    far = prdc(x, x + 100.0)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_bad_inputs():
    x = np.zeros((10, 3))
    with pytest.raises(GandiagError, match=r"prdc\(k\): must be >= 1 and <= 9, got 10 \(k must be smaller"):
        prdc(x, x, k=10)
    with pytest.raises(GandiagError, match=r"prdc\(fake\): expected feature dimension D=3"):
        prdc(x, np.zeros((10, 4)))
    with pytest.raises(GandiagError, match=r"prdc\(real\): contains NaN or Inf"):
        prdc(np.full((10, 3), np.inf), x)
    with pytest.raises(GandiagError, match=r"prdc\(chunk_size\): must be >= 1"):
        prdc(x, x, k=2, chunk_size=0)


def test_squared_thresholds_reproduce_sqrt_comparisons():
    from gandiag.metrics.prdc import sqrt_less_threshold

    rng = np.random.default_rng(9)
    radii = np.concatenate([[0.0, 1.0, 2.0], rng.uniform(0, 10, size=2000)])
    t = sqrt_less_threshold(radii)
    # Probe values a few ulps around r^2 (and below 0): squared comparison == sqrt comparison.
    for steps in range(-3, 4):
        v = radii * radii
        for _ in range(abs(steps)):
            v = np.nextafter(v, np.inf if steps > 0 else -np.inf)
        np.testing.assert_array_equal(v < t, np.sqrt(np.maximum(v, 0.0)) < radii)
    assert not (np.array([-1.0, 0.0]) < t[0]).any()
