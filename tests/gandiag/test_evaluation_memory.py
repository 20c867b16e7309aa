"""Peak memory of an evaluation is flat in N: 500 vs 5,000 images (pixels extractor, fid + kid),
each in a fresh process; the difference is the O(N) image and feature arrays, nothing more."""
import json
import subprocess
import sys

import numpy as np
import pytest

_SCRIPT = """
import sys
from gandiag.cli import main
rc = main(["evaluate", sys.argv[1], "--ref", sys.argv[2], "--metrics", "fid,kid", "--extractor", "pixels",
           "--kid-subset-size", "100", "--kid-subsets", "20", "--quiet", "--cache-dir", sys.argv[3]])
with open("/proc/self/status") as f:
    hwm = int(next(line for line in f if line.startswith("VmHWM")).split()[1]) * 1024
print("PEAK", hwm, rc)
"""


def _peak(tmp_path, n):
    rng = np.random.default_rng(n)
    paths = []
    for side in ("real", "fake"):
        path = tmp_path / f"{side}{n}.npz"
        np.savez(path, images=(rng.random((n, 1, 28, 28)) * 255).astype(np.uint8))
        paths.append(str(path))
    proc = subprocess.run([sys.executable, "-c", _SCRIPT, paths[1], paths[0], str(tmp_path / f"cache{n}")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(l for l in proc.stdout.splitlines() if l.startswith("PEAK"))
    _, peak, rc = line.split()
    assert rc == "0"
    report = json.loads(proc.stdout[:proc.stdout.index("PEAK")])
    assert report["fid"]["num_fake"] == n
    return int(peak)


@pytest.mark.slow
def test_peak_memory_flat_in_n(tmp_path):
    small, large = _peak(tmp_path, 500), _peak(tmp_path, 5000)
    # 4,500 more images per side: uint8 + float32 images and float32 pixel features, both sides
    # (~9 bytes/pixel x 784 x 4,500 x 2 = 64 MB); allow 2x that, nothing quadratic or per-N large.
    data_bytes = 4500 * 784 * 9 * 2
    assert large - small < 2 * data_bytes, (small, large)
