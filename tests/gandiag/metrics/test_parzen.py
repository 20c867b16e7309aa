"""Parzen window: equal to a direct numpy port of goodfeli/adversarial parzen_ll.py."""
import numpy as np
import pytest

from gandiag.errors import GandiagError
from gandiag.metrics import parzen_log_likelihood, parzen_select_sigma


# ---- direct numpy port of parzen_ll.py (Theano graph -> numpy), kept verbatim in structure ----
def _log_mean_exp(a):
    max_ = a.max(1)
    return max_ + np.log(np.exp(a - max_[:, None]).mean(1))


def _naive_parzen(mu, sigma):
    def parzen(x):
        a = (x[:, None, :] - mu[None, :, :]) / sigma
        e = _log_mean_exp(-0.5 * (a ** 2).sum(2))
        z = mu.shape[1] * np.log(sigma * np.sqrt(np.pi * 2))
        return e - z
    return parzen


def _naive_get_nll(x, parzen, batch_size=10):
    inds = range(x.shape[0])
    n_batches = int(np.ceil(float(len(inds)) / batch_size))
    nlls = []
    for i in range(n_batches):
        nlls.extend(parzen(x[inds[i::n_batches]]))
    return np.array(nlls)


def _naive_cross_validate_sigma(samples, data, sigmas, batch_size):
    lls = [np.asarray(_naive_get_nll(data, _naive_parzen(samples, s), batch_size)).mean() for s in sigmas]
    return sigmas[int(np.argmax(lls))], lls
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    samples = rng.uniform(size=(300, 50))
    test = np.clip(samples[:80] + rng.normal(scale=0.2, size=(80, 50)), 0, 1)
    valid = rng.uniform(size=(60, 50))
    return samples, test, valid


@pytest.mark.parametrize("sigma", [0.1, 0.2, 1.0])
def test_matches_naive_port(data, sigma):
    samples, test, _ = data
    ll = _naive_get_nll(test, _naive_parzen(samples, sigma))
    out = parzen_log_likelihood(samples, test, sigma, batch_size=7)
    assert out["mean"] == pytest.approx(ll.mean(), rel=1e-6)
    assert out["stderr"] == pytest.approx(ll.std() / np.sqrt(test.shape[0]), rel=1e-6)
    assert out["sigma"] == sigma


def test_sigma_selection_matches_naive_port(data):
    samples, _, valid = data
    sigmas = np.logspace(-1, 0, 10)
    best, lls = _naive_cross_validate_sigma(samples, valid, sigmas, batch_size=10)
    out = parzen_select_sigma(samples, valid)
    assert out["sigma"] == best
    np.testing.assert_allclose(out["mean_log_likelihoods"], lls, rtol=1e-6)
    assert out["sigmas"] == sigmas.tolist()


def test_far_test_points_stay_finite():
    # exp underflows for every sample; log-mean-exp must still give the exact Gaussian tail.
    out = parzen_log_likelihood(np.zeros((5, 2)), np.full((1, 2), 30.0), 0.1)
    expected = -0.5 * (2 * 30.0 ** 2) / 0.01 - 2 * np.log(0.1 * np.sqrt(2 * np.pi))
    assert out["mean"] == pytest.approx(expected, rel=1e-12)


def test_bad_inputs():
    s = np.zeros((5, 3))
    with pytest.raises(GandiagError, match=r"parzen_log_likelihood\(sigma\): expected positive finite"):
        parzen_log_likelihood(s, s, 0.0)
    with pytest.raises(GandiagError, match=r"expected one value, got 2"):
        parzen_log_likelihood(s, s, [0.1, 0.2])
    with pytest.raises(GandiagError, match=r"parzen_log_likelihood\(test\): expected feature dimension D=3"):
        parzen_log_likelihood(s, np.zeros((5, 4)), 0.1)
    with pytest.raises(GandiagError, match=r"batch_size: must be >= 1"):
        parzen_log_likelihood(s, s, 0.1, batch_size=0)
    with pytest.raises(GandiagError, match=r"parzen_select_sigma\(sigmas\): expected positive finite"):
        parzen_select_sigma(s, s, sigmas=[0.1, -1.0])
    with pytest.raises(GandiagError, match=r"parzen_select_sigma\(validation\): expected a 2-D array"):
        parzen_select_sigma(s, np.zeros(3))
