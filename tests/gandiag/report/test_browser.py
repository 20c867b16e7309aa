"""The reports in a real browser (headless Debian Chromium): every image decodes, nothing is fetched."""
from __future__ import annotations

import numpy as np
import pytest

from gandiag.report import render_diagnosis_report, render_evaluation_report

pytestmark = pytest.mark.browser


def _open_from_disk(browser, path):
    """Load ``path`` via file://; return (image natural widths, request URLs, console errors, page height,
    horizontal overflow in px: content wider than the 1100-px window)."""
    context = browser.new_context(viewport={"width": 1100, "height": 900}, offline=False)
    page = context.new_page()
    requests, errors = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.resolve().as_uri(), wait_until="load")
    widths = page.evaluate("Array.from(document.images).map(i => i.complete ? i.naturalWidth : 0)")
    height = page.evaluate("document.documentElement.scrollHeight")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    context.close()
    return widths, requests, errors, height, overflow


def _assert_no_network(requests, page_url):
    # The only request is the page itself (file://); data: URIs are decoded in place.
    fetched = [u for u in requests if not u.startswith("data:")]
    assert fetched == [page_url], fetched


def test_evaluation_report_in_chromium(browser, small_evaluation, tmp_path):
    path = render_evaluation_report(small_evaluation, tmp_path / "report.html")
    widths, requests, errors, height, overflow = _open_from_disk(browser, path)
    assert len(widths) == 6
    assert all(w > 0 for w in widths), widths
    _assert_no_network(requests, path.resolve().as_uri())
    assert errors == []  # e.g. a CSP violation would be reported here
    assert height > 2000  # the sections are laid out, not collapsed
    assert overflow <= 0  # nothing (e.g. the table of contents) runs off the side of the window


def test_diagnosis_report_in_chromium(browser, diagnosis, tmp_path):
    samples = np.random.default_rng(0).uniform(0, 1, (16, 1, 28, 28)).astype(np.float32)
    path = render_diagnosis_report(diagnosis, {"final_samples": samples}, tmp_path / "report.html")
    widths, requests, errors, *_ = _open_from_disk(browser, path)
    assert len(widths) == 4 and all(w > 0 for w in widths), widths
    _assert_no_network(requests, path.resolve().as_uri())
    assert errors == []
