"""Metric metadata registry."""
import dataclasses

import pytest

import gandiag.metrics as gm
from gandiag.errors import GandiagError
from gandiag.metrics import METRICS, MetricInfo, get_metric_info, register_metric

EXPECTED = {"fid", "fid-inf", "is", "kid", "precision", "recall", "density", "coverage", "parzen", "modes",
            "neighbours", "mnist-is", "mnist-fid"}


def test_registry_contents_and_directions():
    assert EXPECTED <= set(METRICS.names())
    assert get_metric_info("fid").higher_is_better is False
    assert get_metric_info("is").higher_is_better is True and get_metric_info("is").lower_bound == 1.0
    assert {get_metric_info(n).family for n in ("precision", "recall", "density", "coverage")} == {"prdc"}
    for name in METRICS.names():
        info = get_metric_info(name)
        assert info.name == name and info.title and info.description and info.paper
        # Every entry points at a real public function.
        assert info.function.startswith("gandiag.metrics.") and callable(getattr(gm, info.function.split(".")[-1]))


def test_frozen_and_duplicates_refused():
    info = get_metric_info("kid")
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.name = "x"
    with pytest.raises(GandiagError, match="metric 'kid' is already registered"):
        register_metric(info)
    with pytest.raises(GandiagError, match="unknown metric 'fidd'; valid values are: coverage, density, fid"):
        get_metric_info("fidd")
    with pytest.raises(GandiagError, match="invalid metric name"):
        register_metric(MetricInfo("Bad Name", "t", True, None, "d", "p"))
