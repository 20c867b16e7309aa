"""Sharded extraction with 2 gloo processes under torchrun == one process.

Pixel features are exact, so sharded statistics must equal a single-process run to
1e-10 relative; CNN features differ by float32 rounding between processes (thread
count, batch composition), so there the float64 combination is checked against one
pass over the same gathered features (1e-10) and against a single run (1e-6).
"""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from gandiag.data import load_mnist_subset
from gandiag.features import extract_stats, get_extractor
from gandiag.features.distributed import distributed_stats, shard_bounds
from gandiag.errors import GandiagError
from gandiag.metrics import FeatureStats

N = 301  # odd: the two shards differ in size


def _torchrun(args, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", GANDIAG_CACHE=str(tmp_path / "cache"))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _rel(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def test_shard_bounds_cover_all_rows_once():
    for n in (2, 7, 301):
        for world in (1, 2, 3):
            if n < world:
                continue
            bounds = [shard_bounds(n, world, r) for r in range(world)]
            assert bounds[0][0] == 0 and bounds[-1][1] == n
            assert all(bounds[i][1] == bounds[i + 1][0] for i in range(world - 1))
            assert max(e - s for s, e in bounds) - min(e - s for s, e in bounds) <= 1


def test_needs_an_initialised_group():
    with pytest.raises(GandiagError, match="torch.distributed is not initialised; call init_from_env"):
        distributed_stats(np.zeros((4, 1, 28, 28), np.float32), get_extractor("pixels"))


@pytest.mark.distributed
def test_two_gloo_processes_match_one_process(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(f"""
        import numpy as np, torch, torch.distributed as dist
        from gandiag.data import load_mnist_subset
        from gandiag.features import get_extractor
        from gandiag.features.distributed import init_from_env, distributed_stats, distributed_features
        device = init_from_env("cpu")
        images = np.array(load_mnist_subset("test").images[:{N}])
        ext = get_extractor("mnist-classifier", device=device)
        stats = distributed_stats(images, ext, batch_size=50)
        feats = distributed_features(images, ext, ("features", "logits"), batch_size=50)
        if dist.get_rank() == 0:
            np.savez("dist.npz", count=stats.count, mean=stats.mean, cov=stats.cov, **feats)
        dist.barrier()
        dist.destroy_process_group()
    """))
    _torchrun([str(script)], tmp_path)
    got = np.load(tmp_path / "dist.npz")
    images = np.array(load_mnist_subset("test").images[:N])
    ext = get_extractor("mnist-classifier")
    single = ext.extract(images, outputs=("features", "logits"), batch_size=50)
    for key in ("features", "logits"):  # every row, in input order; conv features equal up to float32 rounding
        assert got[key].shape == single[key].shape
        assert np.abs(got[key] - single[key]).max() <= 1e-5
    # The float64 combination is exact: sharded stats == one pass over the same features.
    one_pass = FeatureStats.from_features(got["features"])
    assert int(got["count"]) == N
    assert _rel(got["mean"], one_pass.mean) <= 1e-10 and _rel(got["cov"], one_pass.cov) <= 1e-10
    # And against a separate single-process run (differences are float32 feature rounding only).
    ref = extract_stats(ext, images, batch_size=50)
    assert _rel(got["mean"], ref.mean) <= 1e-6 and _rel(got["cov"], ref.cov) <= 1e-6


@pytest.mark.distributed
def test_torchrun_cli_writes_stats_once(tmp_path):
    _torchrun(["-m", "gandiag", "extract", "mnist-subset:test", "--extractor", "pixels", "--stats",
               "--out", "ref.npz", "--quiet"], tmp_path)
    got = FeatureStats.load(tmp_path / "ref.npz")
    images = load_mnist_subset("test").images
    ref = FeatureStats.from_features(images.reshape(len(images), -1))
    assert got.count == 2000
    assert _rel(got.mean, ref.mean) <= 1e-10 and _rel(got.cov, ref.cov) <= 1e-10
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".npz") == ["ref.npz"]
