"""Pure scoring math: rates, log-linear d'/criterion, HYPE, bootstrap."""
import numpy as np
import pytest
from scipy.stats import norm

from gandiag.errors import GandiagError
from gandiag.human.scoring import (AnswerTable, bootstrap_stats, bootstrap_weights, check_bootstrap,
                                   dprime_criterion, loglinear_rates, mean_with_ci, modal_exposure,
                                   percentile_ci, stats_from_counts)


def test_dprime_matches_textbook_formula():
    # 40 fakes, 30 called fake; 40 reals, 8 called fake.
    d, c = dprime_criterion(30, 40, 8, 40)
    h, f = 30.5 / 41, 8.5 / 41
    assert d == pytest.approx(norm.ppf(h) - norm.ppf(f), abs=1e-12)
    assert c == pytest.approx(-(norm.ppf(h) + norm.ppf(f)) / 2, abs=1e-12)


def test_loglinear_keeps_extreme_rates_finite():
    h, f = loglinear_rates(20, 20, 0, 20)
    assert h == pytest.approx(20.5 / 21) and f == pytest.approx(0.5 / 21)
    d, c = dprime_criterion(20, 20, 0, 20)
    assert np.isfinite(d) and d == pytest.approx(2 * norm.ppf(20.5 / 21)) and c == pytest.approx(0.0, abs=1e-12)


def _table(truth_fake, said_fake, participant=None, exposure=None):
    truth_fake = np.asarray(truth_fake, bool)
    n = len(truth_fake)
    participant = np.zeros(n, np.int64) if participant is None else np.asarray(participant)
    return AnswerTable(participant=participant, image=np.arange(n), truth_fake=truth_fake,
                       said_fake=np.asarray(said_fake, bool),
                       exposure=np.full(n, np.nan) if exposure is None else np.asarray(exposure, float),
                       n_participants=int(participant.max()) + 1, n_images=n)


def test_always_correct_observer():
    truth = np.array([True, False] * 20)
    st = stats_from_counts(_table(truth, truth).counts())
    assert st["accuracy"] == 1.0 and st["fool_rate"] == 0.0 and st["real_error_rate"] == 0.0
    assert st["hype_infinity"] == 0.0
    assert st["d_prime"] == pytest.approx(2 * norm.ppf(20.5 / 21))


def test_always_real_observer():
    truth = np.array([True, False] * 20)
    st = stats_from_counts(_table(truth, np.zeros(40, bool)).counts())
    assert st["accuracy"] == 0.5 and st["fool_rate"] == 1.0 and st["real_error_rate"] == 0.0
    assert st["hype_infinity"] == 50.0
    assert st["d_prime"] == pytest.approx(0.0, abs=1e-12)
    assert st["criterion"] == pytest.approx(-norm.ppf(0.5 / 21)) and st["criterion"] > 0  # bias to "real"


def test_coin_flip_observer_is_near_chance_and_ci_covers_it():
    rng = np.random.default_rng(0)
    truth = np.repeat([True, False], 200)
    table = _table(truth, rng.random(400) < 0.5)
    st = stats_from_counts(table.counts())
    assert abs(st["accuracy"] - 0.5) < 0.07 and abs(st["d_prime"]) < 0.35
    wp, wi = bootstrap_weights(1, 400, 500, seed=0)
    ci = percentile_ci(bootstrap_stats(table, wp, wi)["accuracy"])
    assert ci[0] < 0.5 < ci[1] and ci[1] - ci[0] < 0.15


def test_participant_mean_dprime_and_pooled_rates():
    # P0 perfect, P1 always "real": d' is the mean of the two participants' values.
    truth = np.array([True, False] * 10)
    table = _table(np.concatenate([truth, truth]), np.concatenate([truth, np.zeros(20, bool)]),
                   participant=np.repeat([0, 1], 20))
    st = stats_from_counts(table.counts())
    d0 = dprime_criterion(10, 10, 0, 10)[0]
    assert st["d_prime"] == pytest.approx(d0 / 2)
    assert st["accuracy"] == pytest.approx(0.75) and st["fool_rate"] == pytest.approx(0.5)


def test_bootstrap_is_seeded_and_weights_are_multinomial():
    wp, wi = bootstrap_weights(5, 30, 100, seed=3)
    assert (wp.sum(axis=1) == 5).all() and (wi.sum(axis=1) == 30).all()
    wp2, wi2 = bootstrap_weights(5, 30, 100, seed=3)
    assert np.array_equal(wp, wp2) and np.array_equal(wi, wi2)
    assert not np.array_equal(wi, bootstrap_weights(5, 30, 100, seed=4)[1])


def test_bootstrap_with_unit_weights_reproduces_point_estimate():
    rng = np.random.default_rng(1)
    truth = rng.random(60) < 0.5
    table = _table(truth, rng.random(60) < 0.7, participant=np.repeat([0, 1, 2], 20))
    reps = bootstrap_stats(table, np.ones((2, 3)), np.ones((2, 60)), chunk=1)
    point = stats_from_counts(table.counts())
    for k, v in point.items():
        assert reps[k] == pytest.approx([float(v)] * 2)


def test_mask_restricts_to_one_exposure():
    truth = np.array([True, False] * 4)
    said = np.array([True, False] * 2 + [False, True] * 2)
    table = _table(truth, said, exposure=[100] * 4 + [500] * 4)
    st = stats_from_counts(table.counts((table.exposure == 100).astype(float)))
    assert st["accuracy"] == 1.0
    st = stats_from_counts(table.counts((table.exposure == 500).astype(float)))
    assert st["accuracy"] == 0.0


def test_modal_exposure_and_mean_ci():
    assert modal_exposure([300, 300, 400, 200]) == 300
    assert modal_exposure([300, 400, 300, 400]) == 350
    assert modal_exposure([]) is None
    out = mean_with_ci([100, 200, 300], n_boot=200, seed=0)
    assert out["value"] == 200 and 100 <= out["ci95"][0] < 200 < out["ci95"][1] <= 300


def test_percentile_ci_ignores_nan_and_handles_empty():
    assert percentile_ci(np.array([np.nan, np.nan])) is None
    lo, hi = percentile_ci(np.r_[np.arange(101.0), np.nan])
    assert lo == pytest.approx(2.5) and hi == pytest.approx(97.5)
    with pytest.raises(GandiagError, match="--bootstrap must be >= 0"):
        check_bootstrap(-1)
