"""Metric sections of the evaluation report come from the records: title, anchor, order, body."""
from __future__ import annotations

import dataclasses
import html
import re

import pytest

from gandiag.errors import GandiagError
from gandiag.metrics import METRICS, Metric, Row, get_metric, register_metric
from gandiag.report import evaluation_html
from gandiag.report.sections import SECTION_BODIES, metric_sections, register_section_body

EVIL = "<script>alert('x')</script>"


def _sections(text):
    """``[(anchor, heading)]`` of every section, and the table of contents' ``[(anchor, label)]``."""
    sections = [(a, html.unescape(h)) for a, h in re.findall(r'<section id="([^"]+)"><h2>([^<]*)</h2>', text)]
    nav = re.search(r'<nav class="toc"[^>]*>(.*?)</nav>', text).group(1)
    return sections, [(a, html.unescape(t)) for a, t in re.findall(r'<a href="#([^"]+)">([^<]*)</a>', nav)]


@pytest.fixture()
def toy_metric():
    """A metric registered at run time with a section and no body of its own (removed afterwards)."""
    record = Metric("test-sectioned", "Test metric with a section", False, 0.0, "Toy description " + EVIL, "none",
                    run=lambda ctx: {}, rows=lambda r: [Row("test-sectioned", f"{r['value']:.2f}", "toy detail")],
                    summary=lambda r: "", section="Toy section " + EVIL, order=26)  # between modes (25) and ndb
    register_metric(record)
    try:
        yield record
    finally:
        METRICS._entries.pop("test-sectioned", None)
        SECTION_BODIES._entries.pop("test-sectioned", None)


def test_titles_anchors_and_order_come_from_the_records(synthetic):
    text = evaluation_html(synthetic)
    sections, toc = _sections(text)
    drawn = [a for a, _ in sections if a in METRICS]
    assert drawn == ["fid-inf", "modes"]  # the synthetic results with a section, in record order (12, 25)
    for anchor, heading in sections:
        if anchor in METRICS:
            assert heading == get_metric(anchor).section
    assert toc == [("metrics", "Metrics"), ("fid-inf", get_metric("fid-inf").section),
                   ("modes", get_metric("modes").section)]
    # every built-in metric with a section has its own figure-drawing body
    assert {m for m in METRICS.names() if get_metric(m).section} <= set(SECTION_BODIES.names())


def test_new_metric_with_a_section_needs_no_report_edit(synthetic, toy_metric):
    synthetic["test-sectioned"] = {"value": 0.25, "note": EVIL}
    text = evaluation_html(synthetic)
    sections, toc = _sections(text)
    assert [a for a, _ in sections if a in METRICS] == ["fid-inf", "modes", "test-sectioned"]
    assert ("test-sectioned", "Toy section " + EVIL) in sections and ("test-sectioned", "Toy section " + EVIL) in toc
    body = text[text.index('<section id="test-sectioned">'):]
    body = body[:body.index("</section>")]
    assert "Toy description" in body and "0.25 toy detail" in body and "&quot;note&quot;" in body  # generic body
    assert EVIL not in text  # title, description and result are escaped
    assert "other" not in [a for a, _ in sections]  # a registered metric is not an "other result"


def test_registered_body_draws_the_section(synthetic, toy_metric):
    register_section_body("test-sectioned", lambda r, arrays: f"<p>custom {r['value']}</p>")
    synthetic["test-sectioned"] = {"value": 3}
    assert metric_sections(synthetic, {})[-1] == ("test-sectioned", toy_metric.section, "<p>custom 3</p>")
    with pytest.raises(GandiagError, match="report section body 'test-sectioned' is already registered"):
        register_section_body("test-sectioned", lambda r, arrays: "")


def test_no_section_without_title_or_result(synthetic, toy_metric):
    # a result that is not a dict, or a record without a section, draws nothing
    synthetic["test-sectioned"] = 0.5
    assert "test-sectioned" not in [a for a, _, _ in metric_sections(synthetic, {})]
    METRICS._entries.pop("test-sectioned")
    register_metric(dataclasses.replace(toy_metric, section=None))
    synthetic["test-sectioned"] = {"value": 0.5}
    assert "test-sectioned" not in [a for a, _, _ in metric_sections(synthetic, {})]
    assert '<section id="test-sectioned">' not in evaluation_html(synthetic)
