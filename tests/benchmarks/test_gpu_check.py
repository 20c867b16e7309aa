"""benchmarks/gpu_check.sh --cpu: the GPU check's CPU fallback runs end to end and writes
consistent JSON (so the script cannot rot while no GPU is lent)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.distributed
def test_gpu_check_cpu_fallback(tmp_path):
    out = tmp_path / "check.json"
    env = dict(os.environ, PYTHON=sys.executable, GPU_CHECK_TIMEOUT="170")
    proc = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--cpu", str(out)],
                          capture_output=True, text=True, env=env, timeout=200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["device"] == "cpu" and report["gpu"] is None
    ext = report["extraction"]
    fp32 = ext["gandiag fp32"]
    assert ext["pytorch-fid fp32"]["images_per_s"] > 0 and fp32["images_per_s"] > 0
    # Same weights, same images: fp32 features equal to float rounding, bf16 visibly coarser.
    assert fp32["deviation_vs_pytorch_fid"]["max_rel"] < 1e-4
    assert ext["gandiag channels-last"]["deviation_vs_gandiag_fp32"]["max_rel"] < 1e-4
    bf16 = ext["gandiag amp bf16 + channels-last"]["deviation_vs_gandiag_fp32"]["max_rel"]
    assert 1e-5 < bf16 < 0.2
    fid = report["fid_gpu"]
    assert fid["dtype"] == "float64" and fid["relative_difference"] < 1e-9
    dist = report["distributed"]
    assert dist["backend"] == "gloo" and dist["processes"] == 2
    assert dist["mean_max_rel_diff"] < 1e-5 and dist["cov_max_rel_diff"] < 1e-4
    assert not out.with_name(out.name + ".tmp").exists()


def test_gpu_check_refuses_without_gpu(tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    env = dict(os.environ, PYTHON=sys.executable)
    proc = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), str(tmp_path / "x.json")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2 and "--cpu" in proc.stderr
    assert not (tmp_path / "x.json").exists()
