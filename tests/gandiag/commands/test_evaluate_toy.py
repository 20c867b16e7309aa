"""gandiag evaluate --toy ring8|grid25 on (N, 2) points, and --num-classes on data (an error)."""
import json

import numpy as np

from gandiag.cli import main
from gandiag.metrics.toy_modes import sample_toy


def test_toy_points_scored_and_written(tmp_path, capsys):
    pts = sample_toy("grid25", 3000, seed=0)
    pts = pts[pts[:, 0] < 3]  # the right-hand column of 5 modes lost
    np.save(tmp_path / "pts.npy", pts)
    out = tmp_path / "eval"
    assert main(["evaluate", str(tmp_path / "pts.npy"), "--toy", "grid25", "--out", str(out)]) == 0
    result = json.loads((out / "metrics.json").read_text())["toy-modes"]
    assert result["modes_covered"] == 20 and result["num_modes"] == 25 and result["setup"] == "grid25"
    assert (out / "toy_modes.png").read_bytes().startswith(b"\x89PNG")
    assert "grid25: 20/25 modes covered" in capsys.readouterr().out
    # the outputs exist now: refused without --force, one line, exit 2
    assert main(["evaluate", str(tmp_path / "pts.npy"), "--toy", "grid25", "--out", str(out)]) == 2
    np.savez(tmp_path / "pts.npz", points=pts)
    assert main(["evaluate", str(tmp_path / "pts.npz"), "--toy", "grid25"]) == 0
    assert '"modes_covered": 20' in capsys.readouterr().out


def test_toy_and_num_classes_errors(tmp_path, capsys):
    np.save(tmp_path / "bad.npy", np.zeros((10, 3)))
    assert main(["evaluate", str(tmp_path / "bad.npy"), "--toy", "ring8"]) == 2
    assert "expected feature dimension D=2" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "missing.npy"), "--toy", "ring8"]) == 2
    assert "--toy: SOURCE must be an existing .npy or .npz file" in capsys.readouterr().err
    assert main(["evaluate", "mnist-subset:test", "--num-classes", "10", "--metrics", "modes"]) == 2
    assert "--num-classes applies to conditional generators" in capsys.readouterr().err
