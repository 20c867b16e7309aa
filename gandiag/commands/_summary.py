"""Plain-text summaries of results for the terminal (shared by evaluate, diagnose and demo)."""
from __future__ import annotations

from typing import Dict


def metric_lines(metrics: Dict[str, object]) -> list:
    """One human-readable line per metric present in a metrics.json dict (each record's ``summary``)."""
    from ..metrics import METRICS, canonical_results

    lines = []
    domain = metrics.get("domain_check") if isinstance(metrics, dict) else None
    out_of_domain = isinstance(domain, dict) and bool(domain.get("out_of_domain"))
    if out_of_domain:
        lines.append(f"WARNING: {domain['message']}")
    for key, result in canonical_results(metrics).items():
        metric = METRICS.get(key) if key in METRICS else None
        if metric is not None and metric.summary is not None and isinstance(result, dict):
            line = metric.summary(result)
            if result.get("protocol"):  # which published tables the number may stand next to
                line += f"  [protocol {result['protocol']}]"
            if result.get("weights_marker"):
                line += f"  [{result['weights_marker']}]"
            if out_of_domain and result.get("classifier", result.get("extractor")) == domain.get("classifier"):
                line += "  [not meaningful: samples out of domain]"
            lines.append(line)
    return lines


def print_summary(metrics: Dict[str, object]) -> None:
    for line in metric_lines(metrics):
        print("  " + line)
