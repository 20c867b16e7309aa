"""Out-of-domain guard: clothing evaluated as digits is flagged (CLI summary, report headline), digits are not."""
from pathlib import Path

import numpy as np
import pytest

from gandiag.data import FASHION_MNIST_DEFAULT_ROOT, ImageSet, load_images
from gandiag.metrics.domain import domain_check

needs_fashion = pytest.mark.skipif(not (Path(FASHION_MNIST_DEFAULT_ROOT) / "t10k-images-idx3-ubyte.gz").exists(),
                                   reason="Fashion-MNIST (Debian dataset-fashion-mnist) not installed")


@pytest.fixture(scope="module")
def feats():
    from gandiag.features import get_extractor

    ext = get_extractor("mnist-classifier")

    def run(x):
        return ext.extract(x, outputs=("features", "logits"))
    out = {"ref": run(load_images("mnist-subset:train").images), "digits": run(load_images("mnist-subset:test").images)}
    if (Path(FASHION_MNIST_DEFAULT_ROOT) / "t10k-images-idx3-ubyte.gz").exists():
        out["clothing"] = run(load_images("fashion-mnist:test").images[:2000])
    return out


def _check(feats, which):
    f, r = feats[which], feats["ref"]
    return domain_check(f["features"], f["logits"], r["features"], r["logits"], classifier="mnist-classifier")


def test_real_digits_are_in_domain(feats):
    got = _check(feats, "digits")
    assert not got["out_of_domain"] and got["far_fraction"] < 0.05
    assert got["real_far_fraction"] == pytest.approx(0.01, abs=0.002)


@needs_fashion
def test_clothing_as_digits_is_flagged(feats):
    got = _check(feats, "clothing")
    assert got["out_of_domain"] and got["far_fraction"] > 0.4  # measured 43-45 %, threshold 35 %
    assert got["confidence"] < got["real_confidence"]
    assert "out of domain for mnist-classifier" in got["message"] and "not meaningful" in got["message"]


@needs_fashion
def test_evaluate_flags_clothing_in_summary_and_report_headline(tmp_path):
    from gandiag.commands._summary import metric_lines
    from gandiag.evaluation import EvaluateOptions, evaluate
    from gandiag.report import render_evaluation_report

    clothing = ImageSet(load_images("fashion-mnist:test").images[:1000], source="fashion")
    result = evaluate(clothing, EvaluateOptions(metrics=("modes", "mnist-fid"), cache_dir=str(tmp_path)))
    assert result.metrics["domain_check"]["out_of_domain"]
    lines = metric_lines(result.metrics)
    assert lines[0].startswith("WARNING: samples look out of domain")
    modes_line = next(line for line in lines[1:] if "covered" in line or "mode" in line.lower())
    assert "[not meaningful: samples out of domain]" in modes_line
    from gandiag.report.html import _evaluation_highlights

    headline = _evaluation_highlights(result.metrics)
    assert headline[0][0] == "bad" and headline[0][1].startswith("Out of domain: samples look out of domain")
    assert not any("covered" in text or "missing" in text for _, text in headline)  # no coverage verdict on top
    html = render_evaluation_report(result, tmp_path / "r.html").read_text()
    assert "Out of domain: samples look out of domain" in html
