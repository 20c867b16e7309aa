"""HTML reports: self-contained, offline, escaped, sections driven by the data."""
from __future__ import annotations

import base64
import html
import io
import json
import re

import pytest
from PIL import Image

from gandiag.errors import GandiagError
from gandiag.evaluation import Evaluation
from gandiag.metrics import METRICS, get_metric_info
from gandiag.report import render_diagnosis_report, render_evaluation_report
from gandiag.report.page import fmt

EVIL = "<script>alert('x')</script> & \"quoted\""
ATTR = re.compile(r"""\b(src|href|action|poster|srcset|data)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""", re.I)


def _section_ids(text):
    return re.findall(r'<section id="([^"]+)"', text)


def assert_offline(text):
    """No URL that could reach anything: attributes are data: URIs or #fragments, no url() in CSS."""
    assert "http://" not in text and "https://" not in text
    assert "url(" not in text and "@import" not in text
    assert "<script" not in text.lower()  # no JavaScript at all (escaped text reads "&lt;script")
    values = [v.strip("'\"") for _, v in ATTR.findall(text)]
    assert values, "expected at least one src/href"
    for value in values:
        assert value.startswith(("data:image/png;base64,", "#")), value[:60]
        assert not value.startswith("//")
    assert "default-src 'none'" in text  # the CSP that forbids fetching


def decode_images(text):
    pngs = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    sizes = []
    for data in pngs:
        image = Image.open(io.BytesIO(base64.b64decode(data)))
        image.load()
        sizes.append(image.size)
    return sizes


def test_evaluation_report_real_run(small_evaluation, tmp_path):
    """Every offline metric, computed for real on a collapsed, copying sample set."""
    m = small_evaluation.metrics
    path = render_evaluation_report(small_evaluation, tmp_path / "nested" / "report.html")
    assert path == tmp_path / "nested" / "report.html"
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]  # atomic write left no temp file
    text = path.read_text(encoding="utf-8")
    assert_offline(text)
    # metric sections in the records' order (fid-inf 12, modes 25, parzen 60, neighbours 70); "other" holds the
    # keys that are no metric's; the out-of-domain check speaks in the headline, not there
    assert "domain_check" in m
    other = ["other"] if set(m) - set(METRICS.names()) - {"provenance", "domain_check"} else []
    assert _section_ids(text) == ["samples", "metrics", "fid-inf", "modes", "parzen", "neighbours"] + other + [
        "provenance"]
    # samples, class histogram, pixel + feature neighbours, parzen curve, FID-vs-N
    assert "nn_feature" in small_evaluation.arrays
    assert len(decode_images(text)) == 6
    # the generator lacks 3 and 7 and a third of its samples are training images: both in red
    assert m["modes"]["missing"] == [3, 7] and m["neighbours"]["copying"] is True
    assert '<li class="bad">2 digits missing: 3, 7</li>' in text
    assert re.search(r'<li class="bad">copying flagged: ', text)
    # titles and directions come from the metric registry
    for name in ("mnist-fid", "mnist-is", "kid", "precision", "recall", "density", "coverage", "fid-inf",
                 "modes", "parzen", "neighbours"):
        assert f"<code>{name}</code>" in text, name
        assert html.escape(get_metric_info(name).title) in text, name
    fid_row = text[text.index("<code>mnist-fid</code>"):text.index("<code>mnist-is</code>")]
    assert "↓ lower" in fid_row
    lo, hi = m["mnist-fid"]["ci95"]
    assert f"[{fmt(lo)}, {fmt(hi)}]" in fid_row  # bootstrap CI
    assert "↑ higher" in text[text.index("<code>parzen</code>"):]
    # PRDC rows in the result's order
    order = [text.index(f"<code>{n}</code>") for n in ("precision", "recall", "density", "coverage")]
    assert order == sorted(order)
    # escaping: the source description is shown, never interpreted
    assert EVIL not in text
    assert html.escape(EVIL) in text
    # provenance: versions, seed, counts, extractor weights hash, timings
    prov = m["provenance"]
    for needle in (prov["torch_version"], prov["numpy_version"], prov["reference"]["content_sha256"],
                   prov["extractors"]["mnist-classifier"]["weights_sha256"], "time per metric (s)",
                   "120 × 1×28×28"):
        assert needle in text, needle


def test_evaluation_report_only_present_sections(evaluation, tmp_path):
    for key in ("modes", "fid-inf", "mnist-fid", "kid"):
        del evaluation.metrics[key]
    del evaluation.arrays["samples"]
    text = render_evaluation_report(evaluation, tmp_path / "r.html", title="run <7>").read_text()
    assert_offline(text)
    assert "<title>run &lt;7&gt;</title>" in text
    other = ["other"] if set(evaluation.metrics) - set(METRICS.names()) - {"provenance", "domain_check"} else []
    assert _section_ids(text) == ["metrics", "parzen", "neighbours"] + other + ["provenance"]
    assert "<code>mnist-fid</code>" not in text and "<code>kid</code>" not in text
    assert "digits missing" not in text


def test_inception_rows(evaluation, synthetic):
    """fid / is (InceptionV3, weights not downloadable here) render from their dicts."""
    from gandiag.report import evaluation_html

    evaluation.metrics.update({"fid": synthetic["fid"], "is": synthetic["is"]})
    text = evaluation_html(evaluation)
    for name in ("fid", "is"):
        assert f"<code>{name}</code>" in text
        assert html.escape(get_metric_info(name).title) in text
    assert "FID 31.4" in text and "IS 2.31 ± 0.05" in text  # header chips


def test_evaluation_highlights_healthy_are_green(evaluation):
    from gandiag.report import evaluation_html

    m = evaluation.metrics
    m["modes"].update(missing=[], covered=10, fractions=[0.1] * 10)
    m["neighbours"].update(copying=False, copy_fraction=0.05)
    text = evaluation_html(evaluation)
    assert '<li class="good">all 10 digits covered</li>' in text
    assert re.search(r'<li class="good">no data copying detected \(5\.0% of samples', text)
    assert '<li class="bad">' not in text


def test_evaluation_report_from_metrics_json(evaluation, tmp_path):
    """A loaded metrics.json (no arrays) renders, with a note where neighbour images would be."""
    loaded = json.loads(json.dumps(evaluation.metrics))
    loaded["my_new_metric"] = {"value": 3, "note": EVIL}
    text = render_evaluation_report(loaded, tmp_path / "r.html").read_text()
    assert_offline(text)
    assert "samples" not in _section_ids(text)
    assert "Neighbour images are not stored in metrics.json" in text
    assert "other" in _section_ids(text) and EVIL not in text  # unknown keys shown as escaped JSON


def test_evaluation_report_rejects_bad_input(tmp_path):
    with pytest.raises(GandiagError, match="expected a gandiag Evaluation or a metrics.json dict, got int"):
        render_evaluation_report(42, tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


def test_figure_error_leaves_no_file(tmp_path):
    bad = Evaluation({"parzen": {"sigmas": [0.1, 0.2], "validation_log_likelihoods": [1.0], "sigma": 0.1}})
    with pytest.raises(GandiagError, match="parzen_curve"):
        render_evaluation_report(bad, tmp_path / "r.html")
    assert list(tmp_path.iterdir()) == []


def test_diagnosis_report(diagnosis, tmp_path):
    import numpy as np

    samples = np.random.default_rng(0).uniform(0, 1, (16, 1, 28, 28)).astype(np.float32)
    diagnosis["verdict"]["evidence"].append(EVIL)
    path = render_diagnosis_report(diagnosis, {"final_samples": samples}, tmp_path / "d.html", title="diag")
    text = path.read_text()
    assert_offline(text)
    assert diagnosis["verdict"]["verdict"] == "partial collapse"
    assert '<div class="verdict warn"><div class="name">partial collapse</div>' in text
    for evidence in diagnosis["verdict"]["evidence"]:
        assert f"<li>{html.escape(evidence)}</li>" in text
    assert EVIL not in text
    assert _section_ids(text) == ["coverage", "classes", "quality", "checkpoints", "final-samples", "provenance"]
    assert len(decode_images(text)) == 4  # coverage, class shares, FID, final samples
    for c in diagnosis["checkpoints"]:
        assert f"<td>{c['label']}</td>" in text
    assert "vanished" in text and "Last covered at step" in text  # class 3 vanished at step 1000


def test_diagnosis_report_without_fid_or_samples(diagnosis, tmp_path):
    for c in diagnosis["checkpoints"]:
        c["fid"] = None
    text = render_diagnosis_report(diagnosis, None, tmp_path / "d.html").read_text()
    assert_offline(text)
    assert "No checkpoint has an FID value." in text
    assert "final-samples" not in _section_ids(text)
    assert len(decode_images(text)) == 2


@pytest.mark.parametrize("bad, match", [
    ([], "expected the dict"),
    ({"checkpoints": [], "verdict": {}}, "non-empty 'checkpoints'"),
])
def test_diagnosis_report_rejects_bad_input(bad, match, tmp_path):
    with pytest.raises(GandiagError, match=match):
        render_diagnosis_report(bad, None, tmp_path / "d.html")


def _poison(value):
    """Every string in a JSON value replaced by HTML metacharacters (numbers kept, so figures still draw)."""
    if isinstance(value, dict):
        return {k: _poison(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_poison(v) for v in value]
    return EVIL if isinstance(value, str) else value


def test_every_string_is_escaped(evaluation, diagnosis, tmp_path):
    evaluation.metrics = _poison(evaluation.metrics)
    evaluation.metrics["neighbours"]["feature_neighbours_unavailable"] = EVIL
    text = render_evaluation_report(evaluation, tmp_path / "e.html", title=EVIL).read_text()
    assert EVIL not in text and "<script" not in text
    assert text.count(html.escape(EVIL)) > 20
    assert_offline(text)
    diagnosis = _poison(diagnosis)  # the verdict name too: an unknown verdict gets the amber box
    text = render_diagnosis_report(diagnosis, None, tmp_path / "d.html", title=EVIL).read_text()
    assert EVIL not in text and "<script" not in text
    assert_offline(text)


def test_metrics_json_with_former_keys_renders_the_same(evaluation):
    """A metrics.json written before the one-name rule (mnist_fid, fid_inf, ...) still renders, with a warning."""
    from gandiag.report import evaluation_html

    former = {"mnist-fid": "mnist_fid", "mnist-is": "mnist_inception_score", "fid-inf": "fid_inf"}
    old = {former.get(k, k): v for k, v in evaluation.metrics.items()}
    assert "mnist_fid" in old
    with pytest.warns(FutureWarning, match="'mnist_fid' is the former name of 'mnist-fid'"):
        text = evaluation_html(old)
    assert text == evaluation_html(dict(evaluation.metrics))
