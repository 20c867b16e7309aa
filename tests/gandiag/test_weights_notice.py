"""Random (non-published) Inception weights: a warning on the command line and atop the report."""
import numpy as np
import pytest
import torch

from gandiag.cli import main
from gandiag.features.inception import random_state_dict
from gandiag.weights_notice import unpublished_notice, unpublished_notices


def test_notice_only_for_unpublished_weights():
    assert unpublished_notice("inception-v3-fid", {"weights_published": True}) == ""
    assert unpublished_notice("mnist-classifier", {"name": "mnist-classifier"}) == ""  # no published file exists
    text = unpublished_notice("inception-v3-fid", {"weights_published": False, "weights_sha256": "ab" * 32})
    assert "unpublished weights (sha256 abababababab...)" in text and "cannot be compared" in text
    assert unpublished_notices({"a": {"weights_published": False}, "b": {"weights_published": True}}) == [
        unpublished_notice("a", {"weights_published": False})]


@pytest.mark.slow  # InceptionV3 on CPU and a 2048-d matrix square root: ~20 s on 2 idle cores
def test_fid_with_random_weights_warns_before_the_number(tmp_path, capsys):
    weights = tmp_path / "random_inception.pth"
    torch.save(random_state_dict(3), weights)
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        np.savez(tmp_path / f"{name}.npz", images=rng.integers(0, 256, (4, 3, 16, 16), dtype=np.uint8))
    assert main(["fid", str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), "--weights", str(weights),
                 "--batch-size", "4", "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert "warning: inception-v3-fid ran with unpublished weights" in err
    assert "[inception-v3-fid, unpublished weights]" in out


def test_report_first_lines_carry_the_warning():
    from gandiag.report.html import evaluation_html

    metrics = {"provenance": {"extractors": {"inception-v3-fid": {"weights_published": False}}, "seed": 0}}
    page = evaluation_html(metrics)  # a loaded metrics.json
    head = page[page.index("<body"):][:3000]
    assert "Warning: inception-v3-fid ran with unpublished weights" in head
