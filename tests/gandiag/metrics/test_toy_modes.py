"""2-D toy mode metrics: closed-form cases, setups, bad input."""
import math

import numpy as np
import pytest

from gandiag.errors import GandiagError
from gandiag.metrics.toy_modes import (TOY_SETUPS, assign_toy_modes, grid_setup, ring_setup, sample_toy,
                                       toy_mode_metrics)


def test_setups_match_veegan_pacgan():
    ring = TOY_SETUPS["ring8"]
    assert ring.num_modes == 8 and ring.std == 0.01
    np.testing.assert_allclose(np.linalg.norm(ring.centres, axis=1), 1.0)
    np.testing.assert_allclose(ring.centres[2], [0.0, 1.0], atol=1e-15)
    grid = TOY_SETUPS["grid25"]
    assert grid.num_modes == 25 and grid.std == 0.05
    assert sorted(set(grid.centres[:, 0])) == [-4.0, -2.0, 0.0, 2.0, 4.0]


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_real_samples_cover_everything(name):
    x = sample_toy(name, 5000, seed=0)
    out = toy_mode_metrics(x, name)
    assert out["modes_covered"] == out["num_modes"] and out["missing"] == []
    # 2-D Gaussian: P(||z|| < 3) = 1 - exp(-9/2) = 0.98889
    assert out["high_quality_fraction"] == pytest.approx(1 - math.exp(-4.5), abs=0.006)
    assert 0 <= out["kl_to_uniform"] < 0.01 and 0 <= out["js_to_uniform"] < 0.003
    np.testing.assert_array_equal(sample_toy(name, 10, seed=3), sample_toy(name, 10, seed=3))


def test_collapse_to_two_modes_closed_form():
    ring = TOY_SETUPS["ring8"]
    x = np.concatenate([np.repeat(ring.centres[[0]], 30, 0), np.repeat(ring.centres[[5]], 10, 0),
                        np.zeros((10, 2))])  # the origin is 100 sigma from every mode
    out = toy_mode_metrics(x, "ring8")
    assert out["modes_covered"] == 2 and out["missing"] == [1, 2, 3, 4, 6, 7]
    assert out["high_quality_fraction"] == pytest.approx(40 / 50)
    assert out["counts"][0] == 30 and out["counts"][5] == 10
    p = np.array([0.75, 0.25])
    assert out["kl_to_uniform"] == pytest.approx(float(np.sum(p * np.log(8 * p))))
    m = np.full(8, 1 / 16); m[0] += 0.375; m[5] += 0.125
    pf = np.zeros(8); pf[0], pf[5] = 0.75, 0.25
    js = 0.5 * np.sum(pf[pf > 0] * np.log(pf[pf > 0] / m[pf > 0])) + 0.5 * np.sum(np.log((1 / 8) / m) / 8)
    assert out["js_to_uniform"] == pytest.approx(js)
    assert toy_mode_metrics(x, "ring8", min_count=11)["modes_covered"] == 1


def test_threshold_is_in_sigmas_and_nearest_mode():
    ring = ring_setup(4, radius=2.0, std=0.5)
    x = np.array([[2.0 + 1.4, 0.0], [2.0 + 1.6, 0.0], [0.1, 1.9]])
    modes, dist = assign_toy_modes(x, ring)
    assert list(modes) == [0, 0, 1]
    np.testing.assert_allclose(dist[:2], [2.8, 3.2])
    out = toy_mode_metrics(x, ring)
    assert out["high_quality_fraction"] == pytest.approx(2 / 3) and out["modes_covered"] == 2
    assert toy_mode_metrics(x, ring, threshold=4.0)["counts"][0] == 2


def test_nothing_high_quality_gives_none_not_a_number():
    out = toy_mode_metrics(np.full((5, 2), 100.0), "grid25")
    assert out["modes_covered"] == 0 and out["high_quality_fraction"] == 0.0
    assert out["kl_to_uniform"] is None and out["js_to_uniform"] is None


def test_custom_grid_centred():
    g = grid_setup(3, spacing=1.0, std=0.1)
    assert g.name == "grid9"
    np.testing.assert_allclose(g.centres.mean(axis=0), [0.0, 0.0], atol=1e-15)


def test_bad_inputs():
    with pytest.raises(GandiagError, match=r"expected feature dimension D=2, got shape \(4, 3\)"):
        toy_mode_metrics(np.zeros((4, 3)))
    with pytest.raises(GandiagError, match="contains NaN or Inf in 1 of 2 rows"):
        toy_mode_metrics(np.array([[0.0, np.nan], [1.0, 0.0]]))
    with pytest.raises(GandiagError, match=r"unknown 'ring9'; valid values are \['grid25', 'ring8'\]"):
        toy_mode_metrics(np.zeros((1, 2)), "ring9")
    with pytest.raises(GandiagError, match=r"threshold\): must be a positive"):
        toy_mode_metrics(np.zeros((1, 2)), threshold=0)
    with pytest.raises(GandiagError, match=r"ring_setup\(std\): must be a positive"):
        ring_setup(8, std=-1.0)
    with pytest.raises(GandiagError, match=r"needs at least 1 rows"):
        toy_mode_metrics(np.zeros((0, 2)))
