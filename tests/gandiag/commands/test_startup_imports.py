"""Start-up: `gandiag --help` and `gandiag fid a.npz b.npz` import neither torch nor matplotlib nor sklearn nor
scipy (python -X importtime), and the FID printed equals frechet_distance; `gandiag evaluate --help`, which
discovers every metric module, imports no scipy (scipy.special alone cost ~0.5-1 s at module level in
gandiag.metrics.ndb)."""
import subprocess
import sys

import numpy as np
import pytest

from gandiag.metrics import frechet_distance


def _imported(args, cwd):
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "gandiag", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd)
    mods = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    return proc, mods


@pytest.mark.parametrize("heavy", ["torch", "matplotlib", "sklearn", "scipy"])
def test_fid_on_stats_files_imports_nothing_heavy(tmp_path, heavy):
    rng = np.random.default_rng(0)
    stats = []
    for name in ("a", "b"):
        x = rng.normal(size=(200, 16))
        np.savez(tmp_path / f"{name}.npz", mu=x.mean(0), sigma=np.cov(x, rowvar=False))
        stats += [x.mean(0), np.cov(x, rowvar=False)]
    proc, mods = _imported(["fid", "a.npz", "b.npz"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert float(proc.stdout.split("FID:")[1].split()[0]) == pytest.approx(frechet_distance(*stats), abs=2e-6)
    assert heavy not in mods
    _, help_mods = _imported(["--help"], tmp_path)
    assert heavy not in help_mods


def test_metric_discovery_imports_no_scipy(tmp_path):
    """Every metric module is imported to build `evaluate --help`; none may import scipy at module level."""
    proc, mods = _imported(["evaluate", "--help"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "--metrics" in proc.stdout  # the metric registry was read
    assert not {m for m in mods if m == "scipy" or m.startswith("scipy.")}
