"""FID: parity with pytorch-fid, closed forms, singular covariances, bad input."""
import numpy as np
import pytest
from pytorch_fid.fid_score import calculate_frechet_distance

from gandiag.errors import GandiagError
from gandiag.metrics import fid_from_features, frechet_distance

# pytorch-fid 0.3.0 passes sqrtm(disp=False), deprecated in SciPy 1.17; not our concern.
pytestmark = pytest.mark.filterwarnings("ignore:The `disp` argument:DeprecationWarning")


def _gaussian_stats(rng, n, d, shift=0.0):
    a = rng.normal(size=(d, d)) / np.sqrt(d)
    x = rng.normal(size=(n, d)) @ a + shift
    return x.mean(0), np.cov(x, rowvar=False), x


@pytest.mark.parametrize("d", [8, 64, 256])
def test_matches_pytorch_fid(d):
    rng = np.random.default_rng(d)
    m1, s1, _ = _gaussian_stats(rng, 4 * d, d)
    m2, s2, _ = _gaussian_stats(rng, 4 * d, d, shift=0.3)
    ours = frechet_distance(m1, s1, m2, s2)
    peer = calculate_frechet_distance(m1, s1, m2, s2)
    assert abs(ours - peer) / abs(peer) <= 1e-6


def test_closed_form_diagonal_gaussians():
    rng = np.random.default_rng(0)
    d = 50
    m1, m2 = rng.normal(size=d), rng.normal(size=d)
    a, b = rng.uniform(0.1, 3, size=d), rng.uniform(0.1, 3, size=d)
    expected = np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(m1, np.diag(a), m2, np.diag(b)) == pytest.approx(expected, rel=1e-12)


def test_identical_statistics_give_zero():
    rng = np.random.default_rng(1)
    m, s, x = _gaussian_stats(rng, 500, 32)
    assert frechet_distance(m, s, m, s) == pytest.approx(0.0, abs=1e-9)
    assert fid_from_features(x, x) == pytest.approx(0.0, abs=1e-9)


def test_fid_from_features_equals_stats_path():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(300, 16)), rng.normal(size=(200, 16)) + 0.5
    ref = calculate_frechet_distance(x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False))
    assert fid_from_features(x, y) == pytest.approx(ref, rel=1e-9)


def test_singular_covariances_fewer_samples_than_dims():
    rng = np.random.default_rng(3)
    d = 64
    x, y = rng.normal(size=(20, d)), rng.normal(size=(30, d)) + 0.1
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    ours = frechet_distance(x.mean(0), s1, y.mean(0), s2)
    # Reference through a symmetric square root of s1 (eigh), independent of our Cholesky/eigh path choice.
    w, v = np.linalg.eigh(s1)
    r = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    tr = np.sqrt(np.clip(np.linalg.eigvalsh(r @ s2 @ r), 0, None)).sum()
    diff = x.mean(0) - y.mean(0)
    expected = diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr
    assert np.isfinite(ours) and ours == pytest.approx(expected, rel=1e-7)
    # Rank-deficient in either position gives the same value (Tr sqrt(S1 S2) is symmetric).
    assert frechet_distance(y.mean(0), s2, x.mean(0), s1) == pytest.approx(ours, rel=1e-8)


def test_float32_covariances_accepted():
    rng = np.random.default_rng(4)
    m, s, _ = _gaussian_stats(rng, 100, 128)  # N < ... still PD; store in float32 like some stats files
    assert frechet_distance(m.astype(np.float32), s.astype(np.float32), m, s) == pytest.approx(0.0, abs=1e-3)


def test_bad_inputs():
    m, s = np.zeros(3), np.eye(3)
    with pytest.raises(GandiagError, match=r"mu2\): expected length 3"):
        frechet_distance(m, s, np.zeros(4), np.eye(4))
    with pytest.raises(GandiagError, match=r"sigma2\): expected shape \(3, 3\)"):
        frechet_distance(m, s, m, np.eye(4))
    with pytest.raises(GandiagError, match=r"sigma1\): contains NaN or Inf"):
        frechet_distance(m, np.full((3, 3), np.nan), m, s)
    with pytest.raises(GandiagError, match=r"mu1\): contains NaN or Inf"):
        frechet_distance(np.array([0, np.inf, 0]), s, m, s)
    with pytest.raises(GandiagError, match=r"mu1\): expected a 1-D vector"):
        frechet_distance(np.zeros((3, 1)), s, m, s)
    with pytest.raises(GandiagError, match=r"sigma1\): is not positive semi-definite"):
        frechet_distance(m, np.array([[1.0, 2.0, 0], [2.0, 1.0, 0], [0, 0, 1.0]]), m, s)
    with pytest.raises(GandiagError, match=r"sigma2\): is not positive semi-definite"):
        frechet_distance(m, s, m, np.array([[1.0, 2.0, 0], [2.0, 1.0, 0], [0, 0, 1.0]]))
    with pytest.raises(GandiagError, match=r"sigma1\): has negative variances"):
        frechet_distance(m, np.diag([1.0, -1.0, 1.0]), m, s)
    with pytest.raises(GandiagError, match=r"sigma1\): is not symmetric"):
        frechet_distance(m, np.array([[1.0, 0.5, 0], [0, 1.0, 0], [0, 0, 1.0]]), m, s)
    with pytest.raises(GandiagError, match=r"fid_from_features\(feats2\): expected feature dimension D=3"):
        fid_from_features(np.ones((5, 3)), np.ones((5, 4)))
    with pytest.raises(GandiagError, match=r"fid_from_features\(feats1\): needs at least 2 rows"):
        fid_from_features(np.ones((1, 3)), np.ones((5, 3)))
