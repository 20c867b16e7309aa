"""NDB: parity with the authors' procedure, closed-form z-test, Fashion proof, bad input."""
import math

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.cluster import KMeans

from gandiag.errors import GandiagError
from gandiag.metrics.ndb import js_divergence, ndb, ndb_bins, two_proportion_z, under_populated_examples


def _blobs(n, seed, centres=12, d=6):
    rng = np.random.default_rng(seed)
    means = np.random.default_rng(99).normal(0, 4, (centres, d))
    lab = rng.integers(0, centres, n)
    return means[lab] + rng.standard_normal((n, d)), lab


def _authors_ndb(train, query, k, seed, alpha=0.05):
    """Richardson & Weiss's evaluation written out independently (sklearn KMeans, scipy norm)."""
    km = KMeans(n_clusters=k, init="k-means++", n_init=1, max_iter=100, algorithm="lloyd", random_state=seed).fit(train)
    centres = np.stack([train[km.labels_ == i].mean(axis=0) for i in range(k)])
    vals, counts = np.unique(km.labels_, return_counts=True)
    order = np.argsort(-counts)
    p1, centres = counts[order] / counts.sum(), centres[order]
    dist = np.stack([np.linalg.norm(query - c, axis=1) for c in centres], axis=1)
    lab = np.argmin(dist, axis=1)
    p2 = np.zeros(k)
    v, c = np.unique(lab, return_counts=True)
    p2[v] = c / len(query)
    n1, n2 = len(train), len(query)
    p = (p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / np.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    diff = 2.0 * norm.cdf(-np.abs(z)) < alpha
    m = (p1 + p2) / 2
    js = 0.5 * sum(a * math.log(a / b) for a, b in zip(p1, m) if a > 0) + \
        0.5 * sum(a * math.log(a / b) for a, b in zip(p2, m) if a > 0)
    return int(diff.sum()), js, diff


def test_parity_with_authors_procedure():
    ref, _ = _blobs(4000, 0)
    x, lab = _blobs(3000, 1)
    x = x[lab >= 2]  # two modes dropped
    out = ndb(x, ref, num_bins=20, seed=3)
    count, js, diff = _authors_ndb(ref, x, 20, 3)
    assert out["ndb"] == count and out["js"] == pytest.approx(js, rel=1e-9)
    assert sorted(out["under"] + out["over"]) == sorted(np.flatnonzero(diff).tolist())
    assert out["ndb"] >= 2 and out["ndb_k"] == out["ndb"] / 20


def test_same_distribution_few_different_bins():
    ref, _ = _blobs(6000, 0)
    x, _ = _blobs(6000, 1)
    out = ndb(x, ref, num_bins=30, seed=0)
    assert out["ndb"] <= 5 and out["js"] < 0.005  # at alpha = 0.05, ~1.5 false positives expected
    assert out["seed"] == 0 and out["num_reference"] == 6000 and out["num_samples"] == 6000
    assert sum(out["reference_proportions"]) == pytest.approx(1.0)
    props = out["reference_proportions"]
    assert props == sorted(props, reverse=True)  # largest bin first, as the authors order them


def test_z_test_closed_form():
    z, p = two_proportion_z(np.array([0.2, 0.0]), 1000, np.array([0.1, 0.0]), 500)
    pool = (200 + 50) / 1500
    expected = 0.1 / math.sqrt(pool * (1 - pool) * (1 / 1000 + 1 / 500))
    assert z[0] == pytest.approx(expected) and p[0] == pytest.approx(2 * norm.sf(expected))
    assert z[1] == 0.0 and p[1] == 1.0
    assert js_divergence(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(math.log(2))
    assert js_divergence(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == 0.0


def test_bins_reusable_and_deterministic():
    ref, _ = _blobs(2000, 0)
    b1, b2 = ndb_bins(ref, 10, seed=5), ndb_bins(ref, 10, seed=5)
    np.testing.assert_array_equal(b1.centres, b2.centres)
    x, _ = _blobs(500, 2)
    assert ndb(x, bins=b1)["p_values"] == ndb(x, ref, num_bins=10, seed=5)["p_values"]
    # examples: reference rows of that bin, nearest the centre first
    d = np.linalg.norm(ref[b1.examples[0]] - b1.centres[0], axis=1)
    assert np.all(np.diff(d) >= -1e-9) and b1.counts.sum() == 2000


def test_fashion_three_classes_removed_flagged(fashion):
    """Real Fashion-MNIST with trouser, sandal and bag removed: NDB's under-populated bins show them."""
    ref_x, ref_y = fashion["test"]
    x, y = fashion["train"]
    removed = {1, 5, 8}
    keep = ~np.isin(y, list(removed))
    ref = ref_x.reshape(len(ref_x), -1)
    samples = x[keep][:8000].reshape(-1, 784)
    bins = ndb_bins(ref, 50, seed=0)
    out = ndb(samples, bins=bins)
    assert out["ndb_k"] > 0.2
    p, q = np.array(out["reference_proportions"]), np.array(out["sample_proportions"])
    under = out["under"]
    examples = under_populated_examples(out, bins, len(under))
    # bins the samples all but abandoned (Q <= P/4) show the removed classes, all three of them;
    # mixed bins (sneakers next to sandals) are under-populated less strongly
    majority = {int(np.bincount(ref_y[ex], minlength=10).argmax()) for b, ex in zip(under, examples) if q[b] <= p[b] / 4}
    assert majority == removed
    assert not removed & {int(np.bincount(ref_y[bins.examples[b]], minlength=10).argmax()) for b in out["over"]}
    real = ndb(x[:8000].reshape(-1, 784), bins=bins)
    assert real["ndb_k"] < out["ndb_k"] / 2


def test_bad_inputs():
    ref = np.random.default_rng(0).standard_normal((50, 3))
    with pytest.raises(GandiagError, match=r"ndb\(num_bins\): must be >= 2 and <= 50, got 60 \(the reference has 50 rows"):
        ndb(ref, ref, num_bins=60)
    bad = ref.copy(); bad[3, 1] = np.inf
    with pytest.raises(GandiagError, match=r"ndb\(samples\): contains NaN or Inf in 1 of 50 rows"):
        ndb(bad, ref, num_bins=5)
    with pytest.raises(GandiagError, match=r"ndb\(reference\): contains NaN"):
        ndb(ref, bad, num_bins=5)
    with pytest.raises(GandiagError, match=r"expected feature dimension D=3, got shape \(4, 2\)"):
        ndb(np.zeros((4, 2)), ref, num_bins=5)
    with pytest.raises(GandiagError, match="exactly one"):
        ndb(ref)
    with pytest.raises(GandiagError, match=r"alpha\): the significance level must be in \(0, 1\)"):
        ndb(ref, ref, num_bins=5, alpha=1.5)
    with pytest.raises(GandiagError, match="fewer than 5 distinct rows"):
        ndb(ref, np.repeat(ref[:3], 10, axis=0), num_bins=5)
