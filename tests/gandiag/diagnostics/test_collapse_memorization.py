import numpy as np
import pytest

from gandiag.diagnostics import CheckpointSummary, copy_score, vanished_classes, verdict
from gandiag.errors import GandiagError


def _summary(step, fractions, copying=False, kl=0.0, threshold=0.02):
    fractions = np.asarray(fractions, float)
    mask = fractions >= threshold
    return CheckpointSummary(label=f"step {step}", step=step, covered=int(mask.sum()), num_classes=len(fractions),
                             fractions=fractions.tolist(), covered_mask=mask.tolist(), kl_to_reference=kl,
                             fid=10.0 / (step + 1), copy_fraction=0.9 if copying else 0.03, copying=copying)


UNIFORM = [0.1] * 10


def test_healthy_run():
    got = verdict([_summary(0, UNIFORM), _summary(100, UNIFORM)])
    assert got["verdict"] == "healthy" and got["vanished"] == []


def test_digit_vanishing_is_named_with_its_step():
    no3 = [0.111] * 10
    no3[3] = 0.001
    got = verdict([_summary(0, UNIFORM), _summary(100, UNIFORM), _summary(200, no3), _summary(300, no3)], kl_partial=1)
    assert got["verdict"] == "partial collapse"
    assert got["vanished"] == [{"class": 3, "last_covered_step": 100, "vanished_at_step": 200,
                                "vanished_at": "step 200", "peak_fraction": 0.1}]
    assert any("class 3 vanished at step 200" in e for e in got["evidence"])


def test_collapse_when_half_the_classes_are_gone_or_one_dominates():
    few = [0.25, 0.25, 0.25, 0.25] + [0.0] * 6
    assert verdict([_summary(0, few)])["verdict"] == "collapse"
    dominant = [0.55] + [0.05] * 9
    assert verdict([_summary(0, dominant)])["verdict"] == "collapse"


def test_memorization_and_kl_partial():
    assert verdict([_summary(0, UNIFORM, copying=True)])["verdict"] == "memorization"
    assert verdict([_summary(0, UNIFORM, kl=0.3)])["verdict"] == "partial collapse"


def test_reappearing_class_is_not_vanished():
    no3 = [0.111] * 10
    no3[3] = 0.0
    assert vanished_classes([_summary(0, UNIFORM), _summary(1, no3), _summary(2, UNIFORM)]) == []
    with pytest.raises(GandiagError, match="no checkpoints"):
        verdict([])


def test_copy_score_flags_replayed_training_images():
    rng = np.random.default_rng(0)
    d_test = rng.uniform(4, 6, 500)
    novel = copy_score(rng.uniform(4, 6, 1000), d_test)
    assert not novel["copying"] and 0.02 < novel["copy_fraction"] < 0.09
    copied = copy_score(np.concatenate([np.zeros(300), rng.uniform(4, 6, 700)]), d_test)
    assert copied["copying"] and copied["copy_fraction"] > 0.3 and copied["median_ratio"] < 1.1


@pytest.mark.parametrize("d_gen, d_test, kw, match", [
    ([], np.ones(100), {}, "need generated distances"),
    ([1.0], np.ones(10), {}, "at least 20 held-out"),
    ([np.nan], np.ones(100), {}, "finite"),
    ([1.0], np.ones(100), {"quantile": 0.7}, "quantile"),
])
def test_copy_score_bad_input(d_gen, d_test, kw, match):
    with pytest.raises(GandiagError, match=match):
        copy_score(d_gen, d_test, **kw)
