"""KID: parity with torch-fidelity (same subsets for the same seed), ~0 for one distribution."""
import numpy as np
import pytest
import torch
from torch_fidelity.metric_kid import kid_features_to_metric

from gandiag.errors import GandiagError
from gandiag.metrics import kid


def _peer(a, b, **kw):
    out = kid_features_to_metric(torch.from_numpy(a), torch.from_numpy(b), verbose=False,
                                 kid_kernel="poly", kid_kernel_poly_degree=3, kid_kernel_poly_gamma=None,
                                 kid_kernel_poly_coef0=1, **kw)
    return out["kernel_inception_distance_mean"], out["kernel_inception_distance_std"]


def test_matches_torch_fidelity_same_seed():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(300, 64))
    b = rng.normal(size=(250, 64)) * 1.2 + 0.1
    peer = _peer(a, b, kid_subsets=20, kid_subset_size=100, rng_seed=7)
    ours = kid(a, b, subsets=20, subset_size=100, seed=7)
    assert ours[0] == pytest.approx(peer[0], rel=1e-10)
    assert ours[1] == pytest.approx(peer[1], rel=1e-8)


def test_identical_distributions_near_zero_and_shift_detected():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(600, 32)), rng.normal(size=(600, 32))
    same, spread = kid(a, b, subsets=20, subset_size=200)
    assert abs(same) < 3 * spread + 1e-3
    assert kid(a, b + 1.0, subsets=20, subset_size=200)[0] > 50 * abs(same)


def test_bad_inputs():
    a = np.zeros((50, 4))
    with pytest.raises(GandiagError, match=r"subset_size\): 100 is larger than the number of samples "
                                           r"\(feats_a: 50, feats_b: 50\).*--kid-subset-size"):
        kid(a, a, subset_size=100)
    with pytest.raises(GandiagError, match=r"kid\(feats_b\): expected feature dimension D=4"):
        kid(a, np.zeros((50, 5)), subset_size=10)
    with pytest.raises(GandiagError, match=r"kid\(gamma\): must be a positive number"):
        kid(a, a, subset_size=10, gamma=-1.0)
    with pytest.raises(GandiagError, match=r"kid\(subsets\): must be >= 1"):
        kid(a, a, subsets=0, subset_size=10)
    with pytest.raises(GandiagError, match=r"kid\(feats_a\): expected a 2-D array"):
        kid(np.zeros(5), a)


def _inception_like(rng, n, shift, d=2048):
    """Non-negative features with a large shared mean and per-dimension scales, float32."""
    scale = np.random.default_rng(99).gamma(2.0, 0.2, size=d)
    return ((np.abs(rng.normal(size=(n, d))) + shift) * scale).astype(np.float32)


@pytest.mark.parametrize("shift, max_rel", [(0.0, 1e-6), (0.3, 1e-7)])
def test_float32_products_agree_with_float64(shift, max_rel):
    """precision="auto" (float32 shifted Gram products, float64 kernels and sums) vs all-float64,
    on the same float32 features: within 1e-6 relative even for near-identical sets (KID ~ 4e-5)."""
    rng = np.random.default_rng(5)
    a, b = _inception_like(rng, 1500, 0.0), _inception_like(rng, 1500, shift)
    fast = kid(a, b, subsets=6, subset_size=500, seed=1)
    exact = kid(a, b, subsets=6, subset_size=500, seed=1, precision="float64")
    exact_from_f64_inputs = kid(a.astype(np.float64), b.astype(np.float64), subsets=6, subset_size=500, seed=1)
    assert exact == exact_from_f64_inputs  # float64 inputs take the float64 path
    assert abs(fast[0] - exact[0]) <= max_rel * abs(exact[0])
    assert abs(fast[1] - exact[1]) <= 1e-4 * exact[1]


def test_unknown_precision_is_an_error():
    a = np.zeros((20, 4), dtype=np.float32)
    with pytest.raises(GandiagError, match=r"kid\(precision\): unknown value 'half'; valid values are: auto, float64"):
        kid(a, a, subset_size=10, precision="half")
