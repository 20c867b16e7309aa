"""Metric sections of the evaluation report, read from the metric registry.

A metric whose record has a ``section`` (its title) gets a section in the evaluation report
when its result is in the metrics: the anchor is the record's name, the heading and the
table-of-contents label are ``section``, and the sections follow the records' ``order``
(the metric table's order). What the section shows is its *body*:

* a body registered here with :func:`register_section_body` (``body(result, arrays) -> html``,
  already escaped: build it with :mod:`gandiag.report.page`); the built-in metrics' figures
  are registered by :mod:`gandiag.report.html` and :mod:`gandiag.report.collapse_sections`;
* otherwise the generic body: the record's description, its report rows and the whole
  result as JSON, so a new metric with a ``section`` needs no edit of the report modules.
"""
from __future__ import annotations

from typing import Callable, List, Mapping, Tuple

from ..registry import Registry
from .page import esc, json_block, kv_table

Body = Callable[[Mapping, Mapping], str]

#: Section bodies by metric name (the name must be the record's one name, not an alias).
SECTION_BODIES: Registry[Body] = Registry("report section body")


def register_section_body(name: str, body: Body, *, replace: bool = False) -> Body:
    """Draw the report section of metric ``name`` with ``body(result, arrays) -> html``.

    The record still decides whether there is a section (its ``section`` title) and where it
    goes (its ``order``); a body without a record, or for a record without ``section``, is
    never drawn.
    """
    return SECTION_BODIES.register(name, body, replace=replace)


def generic_section_body(metric, result: Mapping) -> str:
    """The record's description, its rows (value and detail) and the result as JSON."""
    rows = metric.rows(result) if metric.rows is not None else []
    items = [(row.name, " ".join(part for part in (row.value, row.detail.replace("\n", " ")) if part))
             for row in rows]
    return (f'<p class="note">{esc(metric.description)}</p>' + (kv_table(items) if items else "")
            + f"<details><summary>result</summary>{json_block(dict(result))}</details>")


def metric_sections(metrics: Mapping, arrays: Mapping) -> List[Tuple[str, str, str]]:
    """``(anchor, title, body html)`` for every result whose record has a section, in registry order."""
    from ..metrics.record import ordered_metrics

    out = []
    for metric in ordered_metrics():
        result = metrics.get(metric.name)
        if not metric.section or not isinstance(result, Mapping):
            continue
        if metric.name in SECTION_BODIES:
            body = SECTION_BODIES.get(metric.name)(result, arrays)
        else:
            body = generic_section_body(metric, result)
        out.append((metric.name, metric.section, body))
    return out


__all__ = ["SECTION_BODIES", "register_section_body", "generic_section_body", "metric_sections"]
