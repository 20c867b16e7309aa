"""Birthday-paradox support estimate: closest pairs vs scipy, the 400-image proof, distinct reals, bad input."""
import math

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform

from gandiag.data import load_mnist_subset
from gandiag.errors import GandiagError
from gandiag.metrics.birthday import _crossing, birthday_test, closest_pairs, default_batch_sizes


@pytest.fixture(scope="module")
def digits():
    images = load_mnist_subset("all").images.reshape(10000, -1)
    return images[np.random.default_rng(0).permutation(10000)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_closest_pairs_match_scipy(dtype):
    x = np.random.default_rng(1).standard_normal((900, 7)).astype(dtype)
    pairs, dist = closest_pairs(x, 15)
    full = squareform(pdist(x.astype(np.float64)))
    iu = np.triu_indices(900, 1)
    order = np.argsort(full[iu])[:15]
    np.testing.assert_allclose(dist, full[iu][order], rtol=1e-6)
    assert all(i < j for i, j in pairs)
    np.testing.assert_allclose(dist, np.linalg.norm(x[pairs[:, 0]].astype(float) - x[pairs[:, 1]], axis=1))
    dup = np.concatenate([x, x[[5]]])
    p, d = closest_pairs(dup, 1)
    assert p.tolist() == [[5, 900]] and d[0] == 0.0


def test_resampled_400_images_support_within_factor_2(digits):
    rng = np.random.default_rng(2)
    samples = digits[:400][rng.integers(0, 400, 4000)]
    out = birthday_test(samples, digits[2000:6000], batch_sizes=default_batch_sizes(128), seed=0)
    assert out["status"] == "estimate"
    assert 200 <= out["support_estimate"] <= 800, out
    # uniform over N: 1 - exp(-s^2/2N) = 1/2 -> N = s^2 / (2 ln 2)
    assert out["support_uniform"] == pytest.approx(out["support_estimate"] / (2 * math.log(2)))
    assert out["pair_is_duplicate"][0] and out["pair_distances"][0] == 0.0
    i, j = out["pairs"][0]
    assert np.array_equal(samples[i], samples[j])


def test_distinct_real_images_no_duplicates(digits):
    out = birthday_test(digits[:800], digits[4000:9000], seed=0)
    assert out["batch_sizes"][-1] == 200  # M / 4
    assert out["status"] == "at_least" and max(out["duplicate_probability"]) < 0.5
    assert not any(out["pair_is_duplicate"])
    assert out["support_estimate"] == 200 ** 2  # a lower bound, as status says


def test_crossing_interpolates_in_log_s():
    s, status = _crossing([10, 40], [0.0, 1.0])
    assert status == "estimate" and s == pytest.approx(20.0)
    assert _crossing([10, 40], [0.6, 1.0]) == (10.0, "at_most")
    assert _crossing([10, 40], [0.1, 0.2]) == (40.0, "at_least")
    assert default_batch_sizes(64) == [8, 11, 16, 23, 32, 45, 64]


def test_bad_inputs(digits):
    x = digits[:100]
    with pytest.raises(GandiagError, match=r"batch size 150 is larger than the 100 samples"):
        birthday_test(x, digits[100:400], batch_sizes=[10, 150])
    with pytest.raises(GandiagError, match=r"batch size 90 is larger than the 50 real rows"):
        birthday_test(x, digits[100:150], batch_sizes=[90])
    bad = x.copy(); bad[0, 0] = np.nan
    with pytest.raises(GandiagError, match=r"birthday_test\(samples\): contains NaN or Inf in 1 of 100 rows"):
        birthday_test(bad, digits[100:400])
    with pytest.raises(GandiagError, match=r"expected feature dimension D=784"):
        birthday_test(x, np.zeros((100, 3)))
    with pytest.raises(GandiagError, match="needs at least 32 samples"):
        birthday_test(x[:20], digits[100:400])
    with pytest.raises(GandiagError, match=r"quantile\): must be in \[0, 0.5\)"):
        birthday_test(x, digits[100:400], quantile=0.7)
    with pytest.raises(GandiagError, match=r"batch_sizes\): must be >= 2"):
        birthday_test(x, digits[100:400], batch_sizes=[1])
