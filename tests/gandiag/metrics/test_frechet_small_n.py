"""FID with fewer samples than dimensions: no eigenvalue-floor bias (issue 14).

The exact reference is the nuclear norm of the centred cross product,
``Tr((S1 S2)^{1/2}) = ||C1 C2^T||_* / sqrt((n1-1)(n2-1))``, which needs no D x D spectrum.
The data have a steep spectrum (variances 1 .. 1e-10), so ``L^T S2 L`` has real eigenvalues far
below ``D * eps * max``: the old fixed floor dropped them (+6.9e-6 relative here; 2.8e-7 now, the
eigenvalue route's resolution limit; the row routes are exact).
"""
import numpy as np
import pytest

from gandiag.metrics import fid_from_features, fid_infinity, frechet_distance
from gandiag.metrics.frechet import fid_to_reference

# pytorch-fid 0.3.0 passes sqrtm(disp=False), deprecated in SciPy 1.17; not our concern.
pytestmark = pytest.mark.filterwarnings("ignore:The `disp` argument:DeprecationWarning")


def _steep(rng, n, d, q, decay=5.0):
    return (rng.normal(size=(n, d)) * np.logspace(0, -decay, d)) @ q.T


def _exact_fid(x1, x2):
    m1, m2 = x1.mean(0), x2.mean(0)
    c1, c2 = x1 - m1, x2 - m2
    tr_sqrt = np.linalg.svd(c1 @ c2.T, compute_uv=False).sum() / np.sqrt((len(x1) - 1) * (len(x2) - 1))
    diff = m1 - m2
    return diff @ diff + (c1 * c1).sum() / (len(x1) - 1) + (c2 * c2).sum() / (len(x2) - 1) - 2 * tr_sqrt


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(14)
    d = 256
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    real, fake = _steep(rng, 2000, d, q), _steep(rng, 200, d, q)
    return real, fake, _exact_fid(real, fake)


def test_exact_reference_agrees_with_pytorch_fid_on_a_well_conditioned_case():
    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(400, 32)), rng.normal(size=(300, 32)) + 0.2
    peer = calculate_frechet_distance(x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False))
    assert _exact_fid(x, y) == pytest.approx(peer, rel=1e-9)


def test_covariance_route_has_no_floor_bias_at_n_below_d(data):
    real, fake, exact = data
    ours = frechet_distance(fake.mean(0), np.cov(fake, rowvar=False), real.mean(0), np.cov(real, rowvar=False))
    # The eigenvalue route cannot resolve eigenvalues below eps * max (3e-7 relative here); the old
    # D * eps * max floor gave 7.6e-6.
    assert abs(ours - exact) / exact < 1e-6


def test_row_routes_are_exact_at_n_below_d(data):
    real, fake, exact = data
    assert fid_to_reference(fake, real.mean(0), np.cov(real, rowvar=False)) == pytest.approx(exact, rel=1e-10)
    assert fid_from_features(fake, real) == pytest.approx(exact, rel=1e-10)
    assert fid_from_features(real, fake) == pytest.approx(exact, rel=1e-10)
    # Both sides below D: the (n1, n2) nuclear norm, no D x D matrix.
    half = real[:150]
    assert fid_from_features(fake, half) == pytest.approx(_exact_fid(fake, half), rel=1e-10)


def test_fid_infinity_subsets_use_the_exact_route(data):
    real, fake, _ = data
    out = fid_infinity(fake, real.mean(0), np.cov(real, rowvar=False), ns=[100, 150, 200], seed=3)
    rng = np.random.RandomState(3)
    order = np.arange(len(fake))
    for n, value in zip(out["ns"], out["fids"]):
        rng.shuffle(order)
        assert value == pytest.approx(_exact_fid(fake[order[:n]], real), rel=1e-10)
