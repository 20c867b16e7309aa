"""Plain-text summaries of results for the terminal (shared by evaluate, diagnose and demo)."""
from __future__ import annotations

from typing import Dict


def metric_lines(metrics: Dict[str, object]) -> list:
    """One human-readable line per metric present in a metrics.json dict (each record's ``summary``)."""
    from ..metrics import METRICS, canonical_results

    lines = []
    for key, result in canonical_results(metrics).items():
        metric = METRICS.get(key) if key in METRICS else None
        if metric is not None and metric.summary is not None and isinstance(result, dict):
            lines.append(metric.summary(result))
    return lines


def print_summary(metrics: Dict[str, object]) -> None:
    for line in metric_lines(metrics):
        print("  " + line)
