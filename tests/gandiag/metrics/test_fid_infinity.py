"""FID-infinity: same subsets and fit as Chong & Forsyth's calculate_FID_infinity."""
import numpy as np
import pytest
from pytorch_fid.fid_score import calculate_frechet_distance
from sklearn.linear_model import LinearRegression

from gandiag.errors import GandiagError
from gandiag.metrics import default_subset_sizes, fid_infinity

pytestmark = pytest.mark.filterwarnings("ignore:The `disp` argument:DeprecationWarning")


def _reference(act, mu, sigma, batches, seed):
    """mchong6/FID_IS_infinity score_infinity.calculate_FID_infinity, minus the generator."""
    act = act.copy()
    np.random.seed(seed)
    fids = []
    for n in batches:
        np.random.shuffle(act)
        sub = act[:n]
        fids.append(calculate_frechet_distance(sub.mean(0), np.cov(sub, rowvar=False), mu, sigma))
    fids = np.array(fids).reshape(-1, 1)
    reg = LinearRegression().fit(1 / batches.reshape(-1, 1), fids)
    return reg.predict(np.array([[0]]))[0, 0], fids.ravel()


def test_matches_reference_procedure():
    rng = np.random.default_rng(0)
    d = 16
    real = rng.normal(size=(5000, d))
    fake = rng.normal(size=(2000, d)) * 1.1 + 0.05
    mu, sigma = real.mean(0), np.cov(real, rowvar=False)
    batches = np.linspace(500, 2000, 7).astype("int32")
    ref_inf, ref_fids = _reference(fake, mu, sigma, batches, seed=3)
    out = fid_infinity(fake, mu, sigma, ns=batches, seed=3)
    np.testing.assert_allclose(out["fids"], ref_fids, rtol=1e-7)
    assert out["fid_inf"] == pytest.approx(ref_inf, rel=1e-6)
    assert out["ns"] == batches.tolist()
    # FID_N is biased upwards by ~slope/N: the extrapolated value is below the full-N FID.
    assert out["slope"] > 0 and out["fid_inf"] < out["fids"][-1]


def test_default_sizes():
    assert default_subset_sizes(50000).tolist() == np.linspace(5000, 50000, 15).astype(int).tolist()
    small = default_subset_sizes(1000)
    assert small[0] == 500 and small[-1] == 1000


def test_bad_inputs():
    mu, sigma = np.zeros(3), np.eye(3)
    fake = np.random.default_rng(0).normal(size=(100, 3))
    with pytest.raises(GandiagError, match=r"ns\): sizes must lie in \[2, 100\]"):
        fid_infinity(fake, mu, sigma, ns=[50, 200])
    with pytest.raises(GandiagError, match="need at least 2 distinct subset sizes"):
        fid_infinity(fake, mu, sigma, ns=[50, 50])
    with pytest.raises(GandiagError, match=r"real_mu\): expected length 3"):
        fid_infinity(fake, np.zeros(4), sigma)
    with pytest.raises(GandiagError, match=r"fake_feats\): needs at least 4 rows"):
        fid_infinity(fake[:2], mu, sigma)
    with pytest.raises(GandiagError, match=r"ns\): expected a 1-D list of integers"):
        fid_infinity(fake, mu, sigma, ns=[10.5, 20.0])
