"""docs/reproductions/: the Parzen protocol's split and the Theis et al. 2016 numbers."""
import numpy as np
import pytest

from gandiag.diagnostics import reproductions as R
from gandiag.errors import GandiagError


def test_split_and_sigma_grid_follow_parzen_ll_py():
    validation, test = R.heldout_split(0)
    assert validation.shape == test.shape == (1000, 784)
    assert validation.dtype == np.float64 and 0 <= validation.min() and validation.max() <= 1
    assert not ({r.tobytes() for r in validation} & {r.tobytes() for r in test})  # disjoint halves
    np.testing.assert_allclose(R.SIGMAS, np.logspace(-1, 0, 10))


def test_parzen_row_closed_form():
    """One centre, one test point: the Gaussian log-density exactly."""
    c, x = np.zeros((1, 4)), np.full((1, 4), 0.5)
    row = R.parzen_row(c, x, x, sigmas=[0.5])
    assert row["mean"] == pytest.approx(-0.5 * 4 * 1.0 - 4 * np.log(0.5 * np.sqrt(2 * np.pi)))


def test_kmeans_k_is_checked():
    with pytest.raises(GandiagError, match=r"kmeans_centroids\(k\): must lie in \[1, 5\]"):
        R.kmeans_centroids(np.zeros((5, 2)), 6)


@pytest.mark.slow  # k-means with 1,000 centres on 8,000 digits: ~40 s idle
def test_theis2016_numbers():
    result = R.theis2016(k=1000, seed=0)
    rows = list(result["rows"].values())
    kmeans, real_k, real_all = rows
    assert kmeans["mean"] == pytest.approx(258.8, abs=2.0)
    assert real_k["mean"] == pytest.approx(127.1, abs=0.5)
    assert real_all["mean"] == pytest.approx(251.8, abs=0.5) and real_all["stderr"] == pytest.approx(6.9, abs=0.1)
    assert kmeans["mean"] > real_all["mean"] > real_k["mean"]  # the flaw: centroids out-score real digits
