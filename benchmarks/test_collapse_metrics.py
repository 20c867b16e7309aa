"""Label-free collapse metrics at 50k samples: NDB's k-means and the birthday pair search.

Run: ``python -m pytest benchmarks/test_collapse_metrics.py --benchmark-enable -p no:randomly -s``
(one round per side: the peer's 10 k-means restarts take minutes on 2 cores).

Groups (speed-up = peer median / gandiag median, printed at the end, with peak extra RSS):

* ``ndb-kmeans-50k-128``: :func:`gandiag.metrics.ndb.ndb_bins` (one seeded k-means++ /
  Lloyd run, K = 100, max 100 iterations) vs the NDB authors' clustering call
  (eitanrich/gans-n-gmms ``utils/ndb.py``: ``KMeans(n_clusters=100, max_iter=100)``, whose
  scikit-learn of the time ran 10 restarts: ``n_init=10``), on 50,000 x 128 float32 rows
  (the width of the MNIST/Fashion classifier features).
* ``birthday-pairs-50k-128``: :func:`gandiag.metrics.birthday.closest_pairs` (the 20 closest
  pairs among all 50,000 rows, blocked upper triangle) vs scikit-learn
  ``NearestNeighbors(n_neighbors=2, algorithm="brute")`` on the same rows (each row's nearest
  other row, from which the closest pairs are read); the closest pair is asserted equal.
"""
import numpy as np
import pytest

N, D, K = 50_000, 128, 100


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 2, (300, D))
    x = centres[rng.integers(0, 300, N)] + rng.standard_normal((N, D))
    x[123] = x[45_678] + 1e-3  # one near-duplicate pair
    return x.astype(np.float32)


@pytest.mark.benchmark(group="ndb-kmeans-50k-128")
def test_ndb_bins_gandiag(benchmark, rows, speedups):
    from gandiag.metrics.ndb import ndb_bins

    bins = benchmark.pedantic(speedups.peak_rss, args=("ndb-kmeans-50k-128", "gandiag",
                                                       lambda: ndb_bins(rows, K, seed=0)), rounds=1, iterations=1)
    speedups.record_benchmark("ndb-kmeans-50k-128", "gandiag", benchmark,
                              note="one k-means++ run vs the authors' 10 restarts")
    assert bins.num_bins == K and bins.reference_size == N


@pytest.mark.benchmark(group="ndb-kmeans-50k-128")
def test_ndb_kmeans_authors_setting(benchmark, rows, speedups):
    from sklearn.cluster import KMeans

    def fit():
        return KMeans(n_clusters=K, max_iter=100, n_init=10, random_state=0).fit(rows)

    benchmark.pedantic(speedups.peak_rss, args=("ndb-kmeans-50k-128", "peer", fit), rounds=1, iterations=1)
    speedups.record_benchmark("ndb-kmeans-50k-128", "peer", benchmark)


@pytest.mark.benchmark(group="birthday-pairs-50k-128")
def test_closest_pairs_gandiag(benchmark, rows, speedups):
    from gandiag.metrics.birthday import closest_pairs

    pairs, dist = benchmark.pedantic(speedups.peak_rss, args=("birthday-pairs-50k-128", "gandiag",
                                                              lambda: closest_pairs(rows, 20)), rounds=1, iterations=1)
    speedups.record_benchmark("birthday-pairs-50k-128", "gandiag", benchmark)
    assert pairs[0].tolist() == [123, 45_678] and dist[0] < 0.02


@pytest.mark.benchmark(group="birthday-pairs-50k-128")
def test_closest_pairs_sklearn(benchmark, rows, speedups):
    from sklearn.neighbors import NearestNeighbors

    def search():
        d, i = NearestNeighbors(n_neighbors=2, algorithm="brute").fit(rows).kneighbors(rows)
        best = int(np.argmin(d[:, 1]))
        return sorted((best, int(i[best, 1])))

    pair = benchmark.pedantic(speedups.peak_rss, args=("birthday-pairs-50k-128", "peer", search), rounds=1,
                              iterations=1)
    speedups.record_benchmark("birthday-pairs-50k-128", "peer", benchmark)
    assert pair == [123, 45_678]
