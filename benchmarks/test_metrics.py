"""Metric core vs the peer implementations, both sides in the same run.

Run: ``python -m pytest benchmarks/test_metrics.py --benchmark-enable -p no:randomly``
(add ``-k "not peak_memory"`` to skip the 50k x 50k PRDC memory run, a few minutes).

Groups (speed-up = peer median / gandiag median, printed at the end):

* ``fid-d2048``: ``frechet_distance`` vs ``pytorch_fid.fid_score.calculate_frechet_distance``
  on the same (mu, sigma) pairs, d = 2048.
* ``parzen-10k-2k-784``: ``parzen_log_likelihood`` vs a direct numpy port of
  goodfeli/adversarial ``parzen_ll.py`` (batch 10, as the original). The port is timed on a
  slice of the test set and scaled linearly to 2 000 rows (its cost is exactly linear in
  the number of test rows: independent batches of 10).
* ``knn-1k-60k-784``: ``nearest_neighbours`` vs scikit-learn ``NearestNeighbors(algorithm="brute")``
  (fit + kneighbors), float32 MNIST-like data; indices are asserted identical.
* ``prdc-10k-10k-64``: ``prdc`` vs ``prdc.compute_prdc``; values asserted equal.
* ``test_prdc_peak_memory_50k``: peak RSS (VmHWM) and peak numpy allocations (tracemalloc)
  of a 50k x 50k, 64-d PRDC in a fresh subprocess.
"""
import contextlib
import io
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from gandiag.metrics import frechet_distance, nearest_neighbours, parzen_log_likelihood, prdc

pytestmark = pytest.mark.filterwarnings("ignore:The `disp` argument:DeprecationWarning")


# ----------------------------------------------------------------------------- FID
@pytest.fixture(scope="module")
def fid_stats():
    rng = np.random.default_rng(0)
    d = 2048
    out = []
    for shift in (0.0, 0.2):
        a = rng.normal(size=(d, d)) / np.sqrt(d)
        out += [rng.normal(size=d) * 0.1 + shift, a @ a.T + 1e-3 * np.eye(d)]
    return out


@pytest.mark.benchmark(group="fid-d2048")
def test_fid_gandiag(benchmark, fid_stats, speedups):
    # warmup_rounds: the first call imports torch (LAPACK backend), a one-time cost.
    value = benchmark.pedantic(frechet_distance, args=fid_stats, rounds=3, iterations=1, warmup_rounds=1)
    speedups.record_benchmark("fid-d2048", "gandiag", benchmark)
    assert np.isfinite(value)


@pytest.mark.benchmark(group="fid-d2048")
def test_fid_pytorch_fid(benchmark, fid_stats, speedups):
    from pytorch_fid.fid_score import calculate_frechet_distance

    value = benchmark.pedantic(calculate_frechet_distance, args=fid_stats, rounds=2, iterations=1)
    speedups.record_benchmark("fid-d2048", "peer", benchmark)
    assert frechet_distance(*fid_stats) == pytest.approx(value, rel=1e-6)


# -------------------------------------------------------------------------- Parzen
PARZEN_TEST_ROWS = 2000
PARZEN_SLICE = 40  # rows of the test set the naive port is timed on (4 batches of 10)


@pytest.fixture(scope="module")
def parzen_data():
    rng = np.random.default_rng(1)
    samples = rng.uniform(size=(10000, 784))
    test = rng.uniform(size=(PARZEN_TEST_ROWS, 784))
    return samples, test


def _naive_parzen_ll(samples, test, sigma, batch_size=10):
    """parzen_ll.py (Theano) as direct numpy: difference tensor per batch, strided batches."""
    def log_mean_exp(a):
        max_ = a.max(1)
        return max_ + np.log(np.exp(a - max_[:, None]).mean(1))

    def parzen(x):
        a = (x[:, None, :] - samples[None, :, :]) / sigma
        return log_mean_exp(-0.5 * (a ** 2).sum(2)) - samples.shape[1] * np.log(sigma * np.sqrt(np.pi * 2))

    n_batches = int(np.ceil(test.shape[0] / batch_size))
    nlls = []
    for i in range(n_batches):
        nlls.extend(parzen(test[i::n_batches]))
    return np.array(nlls)


@pytest.mark.benchmark(group="parzen-10k-2k-784")
def test_parzen_gandiag(benchmark, parzen_data, speedups):
    samples, test = parzen_data
    out = benchmark.pedantic(parzen_log_likelihood, args=(samples, test, 0.2), rounds=3, iterations=1)
    speedups.record_benchmark("parzen-10k-2k-784", "gandiag", benchmark)
    ref = _naive_parzen_ll(samples, test[:PARZEN_SLICE], 0.2)
    ours_slice = parzen_log_likelihood(samples, test[:PARZEN_SLICE], 0.2)
    assert ours_slice["mean"] == pytest.approx(ref.mean(), rel=1e-9)
    assert np.isfinite(out["mean"])


@pytest.mark.benchmark(group="parzen-10k-2k-784")
def test_parzen_naive_port_scaled(benchmark, parzen_data, speedups):
    samples, test = parzen_data
    benchmark.pedantic(_naive_parzen_ll, args=(samples, test[:PARZEN_SLICE], 0.2), rounds=2, iterations=1)
    speedups.record_benchmark("parzen-10k-2k-784", "peer", benchmark, scale=PARZEN_TEST_ROWS / PARZEN_SLICE,
                              note=f"naive port timed on {PARZEN_SLICE} test rows, scaled x{PARZEN_TEST_ROWS // PARZEN_SLICE}")


# ----------------------------------------------------------------------------- kNN
@pytest.fixture(scope="module")
def knn_data():
    """60k float32 MNIST-like references: the embedded digits, each copied ~7x with pixel noise."""
    from gandiag.data import load_mnist_subset

    train = load_mnist_subset("train").images.reshape(-1, 784)
    test = load_mnist_subset("test").images.reshape(-1, 784)
    rng = np.random.default_rng(2)
    idx = rng.integers(0, len(train), size=60000)
    ref = np.clip(train[idx] + rng.normal(scale=0.05, size=(60000, 784)), 0, 1).astype(np.float32)
    return test[:1000].astype(np.float32), ref


@pytest.mark.benchmark(group="knn-1k-60k-784")
def test_knn_gandiag(benchmark, knn_data, speedups):
    queries, ref = knn_data
    idx, _ = benchmark.pedantic(nearest_neighbours, args=(queries, ref), kwargs={"k": 5}, rounds=3, iterations=1)
    speedups.record_benchmark("knn-1k-60k-784", "gandiag", benchmark)
    assert idx.shape == (1000, 5)


@pytest.mark.benchmark(group="knn-1k-60k-784")
def test_knn_sklearn_brute(benchmark, knn_data, speedups):
    from sklearn.neighbors import NearestNeighbors

    queries, ref = knn_data

    def run():
        return NearestNeighbors(n_neighbors=5, algorithm="brute").fit(ref).kneighbors(queries)

    _, sk_idx = benchmark.pedantic(run, rounds=3, iterations=1)
    speedups.record_benchmark("knn-1k-60k-784", "peer", benchmark)
    np.testing.assert_array_equal(nearest_neighbours(queries, ref, k=5)[0], sk_idx)


# ---------------------------------------------------------------------------- PRDC
@pytest.fixture(scope="module")
def prdc_data():
    rng = np.random.default_rng(3)
    return rng.normal(size=(10000, 64)), rng.normal(size=(10000, 64)) * 1.1 + 0.1


@pytest.mark.benchmark(group="prdc-10k-10k-64")
def test_prdc_gandiag(benchmark, prdc_data, speedups):
    out = benchmark.pedantic(prdc, args=prdc_data, kwargs={"k": 5}, rounds=3, iterations=1)
    speedups.record_benchmark("prdc-10k-10k-64", "gandiag", benchmark)
    assert 0 <= out["precision"] <= 1


@pytest.mark.benchmark(group="prdc-10k-10k-64")
def test_prdc_package(benchmark, prdc_data, speedups):
    from prdc import compute_prdc

    def run():
        with contextlib.redirect_stdout(io.StringIO()):
            return compute_prdc(*prdc_data, nearest_k=5)

    peer = benchmark.pedantic(run, rounds=2, iterations=1)
    speedups.record_benchmark("prdc-10k-10k-64", "peer", benchmark)
    ours = prdc(*prdc_data, k=5)
    for key, value in peer.items():
        assert abs(ours[key] - float(value)) <= 1e-9


# Peak RSS is read from /proc/self/status VmHWM, which execve resets; ru_maxrss is not
# reset by exec on Linux and would report the forking pytest process's own RSS.
_PEAK_SCRIPT = textwrap.dedent("""
    import json, time, tracemalloc
    import numpy as np
    from gandiag.metrics import prdc

    def vm_hwm_kib():
        with open("/proc/self/status") as f:
            return int(next(line for line in f if line.startswith("VmHWM")).split()[1])

    rng = np.random.default_rng(4)
    real = rng.normal(size=({n}, {d}))
    fake = rng.normal(size=({n}, {d})) + 0.1
    base = vm_hwm_kib()
    tracemalloc.start()
    t = time.perf_counter()
    out = prdc(real, fake, k=5)
    seconds = time.perf_counter() - t
    _, peak = tracemalloc.get_traced_memory()
    print(json.dumps({{"seconds": seconds, "tracemalloc_peak_bytes": peak,
                      "peak_rss_kib": vm_hwm_kib(), "rss_before_kib": base, "result": out}}))
""")


def test_prdc_peak_memory_50k(speedups):
    """50k x 50k PRDC (64-d) in a fresh process: peak memory stays far below the 3 x 20 GB
    that three dense 50k x 50k float64 distance matrices (the prdc package) would need."""
    n, d = 50000, 64
    proc = subprocess.run([sys.executable, "-c", _PEAK_SCRIPT.format(n=n, d=d)],
                          capture_output=True, text=True, check=True)
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    peak_gib = report["tracemalloc_peak_bytes"] / 2 ** 30
    rss_gib = report["peak_rss_kib"] / 2 ** 20
    speedups.record("prdc-50k-50k-64 memory", "peak numpy allocations GiB", peak_gib)
    speedups.record("prdc-50k-50k-64 memory", "peak RSS GiB", rss_gib)
    speedups.record("prdc-50k-50k-64 memory", "RSS before the call GiB", report["rss_before_kib"] / 2 ** 20)
    speedups.record("prdc-50k-50k-64 memory", "seconds", report["seconds"])
    assert peak_gib < 1.0 and rss_gib < 2.0


# ------------------------------------------------------------ issue 15: kernels at full size
# Inception-like features: non-negative (post-ReLU average pool), per-dimension scales, float32.
def _inception_like(rng, n, shift=0.0, d=2048):
    scale = np.random.default_rng(99).gamma(2.0, 0.2, size=d)
    return ((np.abs(rng.normal(size=(n, d))) + shift) * scale).astype(np.float32)


@pytest.fixture(scope="module")
def stats_feats():
    return _inception_like(np.random.default_rng(10), 50000)


STATS_BATCH = 500


def _stream_stats(feats):
    from gandiag.metrics import FeatureStats

    s = FeatureStats(feats.shape[1])
    for lo in range(0, len(feats), STATS_BATCH):
        s.update(feats[lo:lo + STATS_BATCH])
    return s.mean, s.cov


def _numpy_cov(feats):
    return feats.mean(axis=0, dtype=np.float64), np.cov(feats, rowvar=False)


@pytest.mark.benchmark(group="stats-50k-2048")
def test_stats_gandiag_streamed(benchmark, stats_feats, speedups):
    mean, cov = speedups.peak_rss("stats-50k-2048", "gandiag", lambda: _stream_stats(stats_feats))
    benchmark.pedantic(_stream_stats, args=(stats_feats,), rounds=2, iterations=1)
    speedups.record_benchmark("stats-50k-2048", "gandiag", benchmark,
                              note=f"FeatureStats.update in batches of {STATS_BATCH} float32 rows vs one np.cov")
    ref_mean, ref_cov = _numpy_cov(stats_feats)
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-12)
    assert np.abs(cov - ref_cov).max() <= 1e-12 * np.abs(ref_cov).max()


@pytest.mark.benchmark(group="stats-50k-2048")
def test_stats_numpy_cov(benchmark, stats_feats, speedups):
    speedups.peak_rss("stats-50k-2048", "peer", lambda: _numpy_cov(stats_feats))
    benchmark.pedantic(_numpy_cov, args=(stats_feats,), rounds=2, iterations=1)
    speedups.record_benchmark("stats-50k-2048", "peer", benchmark)


def test_stats_interleaved(stats_feats, speedups):
    """The two alternated, order swapped each round (3 rounds): the sequential rounds above put all of
    one side's runs before the other's, and on this machine np.cov's time moves by 1.5x with the
    process's memory state (measured 2.7 s in a full benchmark run, 4.0-4.5 s in fresh processes)."""
    import time

    group = "stats-50k-2048-interleaved"
    for i in range(3):
        sides = [("gandiag", _stream_stats), ("peer", _numpy_cov)]
        for side, fn in (sides if i % 2 == 0 else sides[::-1]):
            t0 = time.perf_counter()
            fn(stats_feats)
            speedups.record(group, side, time.perf_counter() - t0)


@pytest.fixture(scope="module")
def kid_feats():
    rng = np.random.default_rng(11)
    return _inception_like(rng, 10000), _inception_like(rng, 10000, shift=0.05)


def _kid_gandiag(a, b):
    from gandiag.metrics import kid

    return kid(a, b, subsets=100, subset_size=1000, seed=2020)[0]


def _kid_torch_fidelity(a, b):
    import torch
    from torch_fidelity.metric_kid import kid_features_to_metric

    out = kid_features_to_metric(torch.from_numpy(a), torch.from_numpy(b), verbose=False, kid_subsets=100,
                                 kid_subset_size=1000, rng_seed=2020, kid_kernel="poly", kid_kernel_poly_degree=3,
                                 kid_kernel_poly_gamma=None, kid_kernel_poly_coef0=1)
    return out["kernel_inception_distance_mean"]


@pytest.mark.benchmark(group="kid-10k-10k-2048")
def test_kid_gandiag(benchmark, kid_feats, speedups):
    value = speedups.peak_rss("kid-10k-10k-2048", "gandiag", lambda: _kid_gandiag(*kid_feats))
    benchmark.pedantic(_kid_gandiag, args=kid_feats, rounds=2, iterations=1)
    speedups.record_benchmark("kid-10k-10k-2048", "gandiag", benchmark,
                              note="float32 shifted Gram products, float64 kernels and sums")
    from gandiag.metrics import kid

    exact = kid(*kid_feats, subsets=100, subset_size=1000, seed=2020, precision="float64")[0]
    speedups.record("kid-10k-10k-2048", "relative error vs float64", abs(value - exact) / abs(exact))
    assert abs(value - exact) <= 1e-6 * abs(exact)


@pytest.mark.benchmark(group="kid-10k-10k-2048")
def test_kid_torch_fidelity(benchmark, kid_feats, speedups):
    speedups.peak_rss("kid-10k-10k-2048", "peer", lambda: _kid_torch_fidelity(*kid_feats))
    value = benchmark.pedantic(_kid_torch_fidelity, args=kid_feats, rounds=2, iterations=1)
    speedups.record_benchmark("kid-10k-10k-2048", "peer", benchmark)
    assert _kid_gandiag(*kid_feats) == pytest.approx(value, rel=1e-2)  # torch-fidelity sums in float32


def test_kid_interleaved(kid_feats, speedups):
    """The two KIDs alternated (order swapped each round): robust to load swings on shared cores,
    which the sequential pytest-benchmark rounds above are not."""
    import time

    group = "kid-10k-10k-2048-interleaved"
    for i in range(2):
        sides = [("gandiag", _kid_gandiag), ("peer", _kid_torch_fidelity)]
        for side, fn in (sides if i % 2 == 0 else sides[::-1]):
            t0 = time.perf_counter()
            fn(*kid_feats)
            speedups.record(group, side, time.perf_counter() - t0)


@pytest.fixture(scope="module")
def prdc_feats_2048():
    rng = np.random.default_rng(12)
    return (_inception_like(rng, 10000).astype(np.float64),
            _inception_like(rng, 10000, shift=0.1).astype(np.float64))


def _prdc_torch_reference(real, fake, k=5):
    """The plain torch formulation: cdist + kthvalue on dense float32 matrices (float32 features,
    torch's default dtype; the inputs are cast inside, as a float32 pipeline would hold them)."""
    import torch

    x, y = torch.from_numpy(real.astype(np.float32)), torch.from_numpy(fake.astype(np.float32))
    r_real = torch.cdist(x, x).kthvalue(k + 1, dim=1).values
    r_fake = torch.cdist(y, y).kthvalue(k + 1, dim=1).values
    d = torch.cdist(x, y)  # (real, fake)
    in_real = d < r_real[:, None]
    return {"precision": in_real.any(dim=0).double().mean().item(),
            "recall": (d < r_fake[None, :]).any(dim=1).double().mean().item(),
            "density": in_real.sum().item() / (k * y.shape[0]),
            "coverage": (d.min(dim=1).values < r_real).double().mean().item()}


def _prdc_package(real, fake, k=5):
    from prdc import compute_prdc

    with contextlib.redirect_stdout(io.StringIO()):
        return compute_prdc(real, fake, nearest_k=k)


# float32 cdist rounds each distance to ~1e-4 relative: a handful of borderline comparisons flip.
TORCH_FLOAT32_TOLERANCE = 2e-3


@pytest.mark.benchmark(group="prdc-10k-10k-2048")
def test_prdc_2048_gandiag(benchmark, prdc_feats_2048, speedups):
    from gandiag.metrics.prdc import _prdc

    out, screen = speedups.peak_rss("prdc-10k-10k-2048", "gandiag", lambda: _prdc(*prdc_feats_2048, 5, None, "auto"))
    benchmark.pedantic(prdc, args=prdc_feats_2048, kwargs={"k": 5}, rounds=2, iterations=1)
    note = (f"float32 screen; kept {screen['radius_kept']} float32 radius candidates; float64 re-checks: "
            f"{screen['radius_pairs']} radius pairs, {screen['cross_pairs']} of 1e8 cross pairs, "
            f"{screen['dense_blocks']} dense blocks")
    speedups.record_benchmark("prdc-10k-10k-2048", "gandiag", benchmark, note=note)
    speedups.record_benchmark("prdc-10k-10k-2048-vs-torch", "gandiag", benchmark,
                              note="peer: plain torch cdist + kthvalue, float32")
    assert screen["screen"] and screen["dense_blocks"] == 0
    ref = _prdc_torch_reference(*prdc_feats_2048)
    gap = max(abs(out[key] - ref[key]) for key in ref)
    speedups.record("prdc-10k-10k-2048-vs-torch", "max |gandiag - torch float32|", gap)
    assert gap <= TORCH_FLOAT32_TOLERANCE


@pytest.mark.benchmark(group="prdc-10k-10k-2048")
def test_prdc_2048_package(benchmark, prdc_feats_2048, speedups):
    peer = speedups.peak_rss("prdc-10k-10k-2048", "peer", lambda: _prdc_package(*prdc_feats_2048))
    benchmark.pedantic(_prdc_package, args=prdc_feats_2048, rounds=1, iterations=1)
    speedups.record_benchmark("prdc-10k-10k-2048", "peer", benchmark)
    ours = prdc(*prdc_feats_2048, k=5)
    for key, value in peer.items():
        assert abs(ours[key] - float(value)) <= 1e-9


@pytest.mark.benchmark(group="prdc-10k-10k-2048-vs-torch")
def test_prdc_2048_torch_reference(benchmark, prdc_feats_2048, speedups):
    speedups.peak_rss("prdc-10k-10k-2048-vs-torch", "peer", lambda: _prdc_torch_reference(*prdc_feats_2048))
    benchmark.pedantic(_prdc_torch_reference, args=prdc_feats_2048, rounds=2, iterations=1)
    speedups.record_benchmark("prdc-10k-10k-2048-vs-torch", "peer", benchmark)


def test_prdc_2048_interleaved(prdc_feats_2048, speedups):
    """gandiag, plain torch (float32) and the prdc package alternated, the order reversed each
    round: robust to load swings on shared cores, which the sequential rounds above are not."""
    import time

    sides = [("gandiag", lambda: prdc(*prdc_feats_2048, k=5)),
             ("torch", lambda: _prdc_torch_reference(*prdc_feats_2048)),
             ("prdc", lambda: _prdc_package(*prdc_feats_2048))]
    results, times = {}, {"gandiag": [], "torch": [], "prdc": []}
    for i in range(2):
        for side, fn in (sides if i % 2 == 0 else sides[::-1]):
            t0 = time.perf_counter()
            results[side] = fn()
            seconds = time.perf_counter() - t0
            times[side].append(seconds)
            if side in ("gandiag", "prdc"):
                speedups.record("prdc-10k-10k-2048-interleaved", "gandiag" if side == "gandiag" else "peer", seconds)
            if side in ("gandiag", "torch"):
                speedups.record("prdc-10k-10k-2048-vs-torch-interleaved", "gandiag" if side == "gandiag" else "peer",
                                seconds)
    for key, value in results["prdc"].items():
        assert abs(results["gandiag"][key] - float(value)) <= 1e-9
    # Measured 2.80x and 1.68x (load ~8-9, benchmarks/README.md); the goals are >= 2.5x and >= 1x.
    assert sum(times["prdc"]) >= 2.0 * sum(times["gandiag"])
    assert sum(times["torch"]) >= 1.2 * sum(times["gandiag"])
