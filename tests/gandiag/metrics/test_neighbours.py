"""k-NN: identical indices to scikit-learn brute force (l2, cosine), chunking, bad input."""
import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from gandiag.errors import GandiagError
from gandiag.metrics import nearest_neighbours


@pytest.mark.parametrize("metric,sk_metric", [("l2", "euclidean"), ("cosine", "cosine")])
@pytest.mark.parametrize("k", [1, 5, 20])
def test_matches_sklearn_brute(metric, sk_metric, k):
    rng = np.random.default_rng(k)
    ref = rng.uniform(size=(3000, 100))
    qry = rng.uniform(size=(200, 100))
    nn = NearestNeighbors(n_neighbors=k, algorithm="brute", metric=sk_metric).fit(ref)
    sk_dist, sk_idx = nn.kneighbors(qry)
    idx, dist = nearest_neighbours(qry, ref, k=k, metric=metric, chunk_size=64)
    assert idx.dtype == np.int64 and dist.dtype == np.float64 and idx.shape == (200, k)
    np.testing.assert_array_equal(idx, sk_idx)
    np.testing.assert_allclose(dist, sk_dist, rtol=1e-9, atol=1e-12)


def test_float32_images_and_k_equals_reference_size():
    rng = np.random.default_rng(0)
    ref = rng.uniform(size=(7, 784)).astype(np.float32)
    idx, dist = nearest_neighbours(ref[:3], ref, k=7)
    assert (idx[:, 0] == np.arange(3)).all() and np.allclose(dist[:, 0], 0.0, atol=1e-6)
    assert (np.diff(dist, axis=1) >= 0).all()
    assert sorted(idx[0].tolist()) == list(range(7))


def test_exact_ties_ordered_by_index():
    ref = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [5.0, 5.0]])
    idx, dist = nearest_neighbours(np.zeros((1, 2)), ref, k=3)
    assert idx.tolist() == [[0, 1, 2]] and np.allclose(dist, 1.0)


def test_bad_inputs():
    ref = np.zeros((4, 3))
    with pytest.raises(GandiagError, match=r"metric\): unknown metric 'l1'; valid values are: l2, cosine"):
        nearest_neighbours(ref, ref, metric="l1")
    with pytest.raises(GandiagError, match=r"k\): must be >= 1 and <= 4, got 5 \(the reference has 4 rows\)"):
        nearest_neighbours(ref, ref, k=5)
    with pytest.raises(GandiagError, match=r"queries\): expected feature dimension D=3"):
        nearest_neighbours(np.zeros((2, 2)), ref)
    with pytest.raises(GandiagError, match=r"reference\): expected a 2-D array"):
        nearest_neighbours(ref, np.zeros(3))
    with pytest.raises(GandiagError, match=r"chunk_size\): must be >= 1"):
        nearest_neighbours(ref, ref, chunk_size=0)


def test_near_ties_fall_back_to_float64_and_stay_exact(monkeypatch):
    import gandiag.metrics.neighbours as nb

    rng = np.random.default_rng(3)
    base = rng.uniform(size=(100, 20))
    # Clusters of 12 reference rows 1e-7 apart: float32 cannot separate them, so the
    # certificate (a gap between the k-th and (k+8)-th float32 score) fails.
    ref = np.concatenate([base + 1e-7 * rng.normal(size=base.shape) for _ in range(12)])
    qry = base[:50] + 0.01 * rng.normal(size=(50, 20))
    dtypes = []
    real = nb._blocked_topk
    monkeypatch.setattr(nb, "_blocked_topk", lambda *a, **kw: (dtypes.append(a[4]), real(*a, **kw))[1])
    idx, dist = nearest_neighbours(qry, ref, k=1)
    assert np.float64 in dtypes  # the exact fallback ran
    sk_dist, sk_idx = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(ref).kneighbors(qry)
    np.testing.assert_array_equal(idx, sk_idx)
    np.testing.assert_allclose(dist, sk_dist, rtol=1e-9)
