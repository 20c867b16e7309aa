"""Re-check docs/experiments/remedies_toy.json (the 2-D table of docs/trainer.md) on seed 0 of the ring.

The JSON is written by ``python -m reference_models.experiments.remedies_toy``; this re-trains
its seed-0 ring runs with the current code and compares with a margin (on CPU the run is
deterministic, so the margin only absorbs platform differences in float summation).
"""
import json
from pathlib import Path

import pytest

from reference_models.experiments.remedies_toy import VARIANTS, base_config, run_one

pytestmark = pytest.mark.slow
RESULTS = Path(__file__).resolve().parents[2] / "docs" / "experiments" / "remedies_toy.json"


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_ring8_seed0_matches_the_documented_run(variant):
    data = json.loads(RESULTS.read_text())
    documented = next(r for r in data["runs"] if r["dataset"] == "ring8" and r["variant"] == variant and r["seed"] == 0)
    config = base_config("ring8", data["steps"]).replace(seed=0, **VARIANTS[variant])
    metrics, _ = run_one(config, [])
    assert abs(metrics["covered"] - documented["covered"]) <= 1
    assert metrics["high_quality_fraction"] == pytest.approx(documented["high_quality_fraction"], abs=0.02)
