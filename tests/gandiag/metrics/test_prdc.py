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


# ---------------------------------------------------------------- the certified float32 screen
# prdc(precision="auto") decides most comparisons from float32 products and re-checks the rest in
# float64; it must give exactly the float64 path's answer. The data below are built so that float32
# cannot decide: integer coordinates (every float64 distance exact, so ties are real ties), tight
# clusters far from the centre (float32 cancellation wipes out the distances), duplicated rows
# (radius 0), fake rows copied from real ones (distances exactly equal to radii).
def _integer_clusters(rng, n, d, clusters=3, offset=1000, spread=3):
    centres = offset * rng.integers(-2, 3, size=(clusters, d))
    return (centres[rng.integers(0, clusters, size=n)] + rng.integers(0, spread, size=(n, d))).astype(np.float64)


def _lattice(rng, n, d):
    return rng.integers(0, 3, size=(n, d)).astype(np.float64)


def _duplicated(rng, n, d):
    base = _integer_clusters(rng, n // 4, d, offset=300)
    return np.repeat(base, 4, axis=0)[rng.permutation(n // 4 * 4)]


def _adversarial(kind, seed):
    rng = np.random.default_rng(seed)
    if kind == "clusters":      # cancellation: distances ~ 1 next to norms ~ 1e3 * sqrt(d)
        real, fake = _integer_clusters(rng, 300, 48), _integer_clusters(rng, 260, 48)
    elif kind == "lattice":     # exact ties everywhere: squared distances are small integers
        real, fake = _lattice(rng, 300, 24), _lattice(rng, 280, 24)
    elif kind == "duplicates":  # every real row 4 times, fake rows partly copies of real ones
        real = _duplicated(rng, 320, 32)
        fake = np.concatenate([real[rng.choice(len(real), 120, replace=False)], _duplicated(rng, 160, 32)])
    elif kind == "offset":      # one large offset on all rows: float32 |x|^2 would cancel without centring
        real = 1e4 + rng.integers(0, 4, size=(250, 64)).astype(np.float64)
        fake = 1e4 + rng.integers(0, 4, size=(250, 64)).astype(np.float64)
    else:                       # mixed: real-valued rows near integer copies of each other
        real = _integer_clusters(rng, 300, 64, offset=50)
        fake = np.concatenate([real[:100] + 1e-7, _integer_clusters(rng, 200, 64, offset=50)])
    return real, fake


ADVERSARIAL = ("clusters", "lattice", "duplicates", "offset", "near-copies")


@pytest.mark.parametrize("kind", ADVERSARIAL)
@pytest.mark.parametrize("k", [1, 5])
def test_screen_equals_float64_path_on_adversarial_data(kind, k):
    real, fake = _adversarial(kind, seed=len(kind) + k)
    exact = prdc(real, fake, k=k, precision="float64")
    for chunk in (None, 37):
        assert prdc(real, fake, k=k, chunk_size=chunk) == exact, chunk
    peer = _peer(real, fake, k)
    for key in exact:
        assert abs(exact[key] - float(peer[key])) <= 1e-9, key


def _prdc_module():
    import sys

    return sys.modules["gandiag.metrics.prdc"]


def test_adversarial_data_catch_a_wrong_screen(monkeypatch):
    """The data above are hard enough: with the error bound switched off, the screen's answer is
    wrong on some of them (so the equality test would catch a bound that is too small)."""
    mod = _prdc_module()
    real_init = mod._Screen.__init__

    def no_bound(self, *args):
        real_init(self, *args)
        self.g32 = self.g64 = self.tiny = 0.0

    monkeypatch.setattr(mod._Screen, "__init__", no_bound)
    wrong = [kind for kind in ADVERSARIAL for k in (1, 5)
             if prdc(*_adversarial(kind, seed=len(kind) + k), k=k)
             != prdc(*_adversarial(kind, seed=len(kind) + k), k=k, precision="float64")]
    assert len(wrong) >= 6, wrong  # measured: 8 of the 10


def _inception_like(rng, n, d, shift=0.0):
    scale = np.random.default_rng(99).gamma(2.0, 0.2, size=d)
    return ((np.abs(rng.normal(size=(n, d))) + shift) * scale).astype(np.float32).astype(np.float64)


def test_screen_decides_almost_everything_on_feature_like_data():
    """2048-d Inception-like rows: the float32 screen takes the fast path (no dense float64
    block, ~k re-scored pairs per row for the radii, a tiny fraction of the cross pairs) and
    agrees with the float64 path and the prdc package."""
    rng = np.random.default_rng(21)
    real, fake = _inception_like(rng, 600, 2048), _inception_like(rng, 500, 2048, shift=0.1)
    out, stats = _prdc_module()._prdc(real, fake, 5, None, "auto")
    assert stats["screen"] and stats["dense_blocks"] == 0 and stats["row_screen_fallbacks"] == 0
    assert stats["radius_pairs"] <= 2 * 5 * (600 + 500)
    assert stats["cross_pairs"] <= 1e-2 * 600 * 500
    assert out == prdc(real, fake, precision="float64")
    peer = _peer(real, fake, 5)
    for key in out:
        assert abs(out[key] - float(peer[key])) <= 1e-9, key


@pytest.mark.parametrize("kind", ["features", "duplicates", "clusters"])
def test_radii_paths_equal_the_dense_float64_radii(kind):
    """Both screened radius paths (symmetric with a small sample and odd blocks, and row blocks)
    return the dense float64 blocks' k-th smallest squared distances: to the last bits (the
    re-scored pairs come from small GEMM calls, which OpenBLAS rounds like the dense block in most
    but not all entries), so a neighbour missed by the screen would show."""
    from threadpoolctl import threadpool_limits

    mod = _prdc_module()
    rng = np.random.default_rng(8)
    if kind == "features":
        x = _inception_like(rng, 230, 512)
    else:
        x = _adversarial(kind, seed=3)[0]
    k = 4
    screen = mod._Screen(x, x[:50], 29)
    x_sq = mod.sq_norms(x)
    with threadpool_limits(limits=1, user_api="blas"):
        dense = np.concatenate([mod._dense_kth_sq(x, x_sq, lo, min(len(x), lo + 29), k)
                                for lo in range(0, len(x), 29)])
    stats = {"radius_pairs": 0, "dense_blocks": 0, "radius_kept": 0}
    for sample in (k + 1, 64):
        sym = mod._symmetric_radii(x, screen.x32, screen.x_sq32, screen.x_norm, screen, k, 29, stats, sample=sample)
        if sym is not None:  # None: too many pairs kept (the caller then uses the row-block path)
            np.testing.assert_allclose(sym, dense, rtol=1e-13, atol=1e-12)
    rows = mod._screened_radii(x, screen.x32, screen.x_sq32, screen.x_norm, screen, k, 29, stats)
    np.testing.assert_allclose(rows, np.sqrt(np.maximum(dense, 0.0)), rtol=1e-13, atol=1e-12)
    if kind == "features":
        assert stats["dense_blocks"] == 0 and sym is not None


def test_screen_falls_back_when_it_cannot_help():
    x = np.full((20, 4), 3.0)  # every row identical: no scale to screen with
    out, stats = _prdc_module()._prdc(x, x.copy(), 3, None, "auto")
    assert not stats["screen"]
    assert out == prdc(x, x.copy(), k=3, precision="float64") == {"precision": 0.0, "recall": 0.0, "density": 0.0,
                                                                 "coverage": 0.0}
    with pytest.raises(GandiagError, match=r"prdc\(precision\): unknown value 'float32'; valid values are: auto"):
        prdc(x, x, k=2, precision="float32")
