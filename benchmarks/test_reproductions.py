"""docs/reproductions/goodfellow2014-parzen.md: retrain gan2014-mnist (3,000 steps) and re-score it.

Long (35 min wall on shared cores, ~4 min of CPU): run by hand,
``python -m pytest benchmarks/test_reproductions.py -q``.
"""
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_goodfellow2014_parzen_page(tmp_path):
    from gandiag.diagnostics.reproductions import goodfellow2014

    run = tmp_path / "gan2014"
    subprocess.run([sys.executable, "-m", "reference_models.train", "--config", "gan2014-mnist", "--out", str(run),
                    "--quiet"], check=True)
    result = goodfellow2014(str(run / "export" / "generator.pt2"), 10000, 0)
    gan, real = result["rows"].values()
    assert gan["mean"] == pytest.approx(-86.5, abs=3.0)
    assert real["mean"] == pytest.approx(251.8, abs=0.5)
