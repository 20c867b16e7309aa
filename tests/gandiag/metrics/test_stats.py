"""FeatureStats: streaming == one-shot, merge == concat, batch-size independence, files."""
import numpy as np
import pytest
from pytorch_fid.fid_score import calculate_frechet_distance, compute_statistics_of_path

from gandiag.errors import GandiagError
from gandiag.metrics import FeatureStats, frechet_distance

pytestmark = pytest.mark.filterwarnings("ignore:The `disp` argument:DeprecationWarning")


@pytest.fixture(scope="module")
def feats():
    rng = np.random.default_rng(0)
    # Offset mean so the naive E[xx^T] - mu mu^T formula would lose digits; ours must not.
    return rng.normal(size=(1000, 24)) * 0.5 + 100.0


def test_one_shot_matches_numpy(feats):
    s = FeatureStats.from_features(feats)
    assert s.count == 1000
    np.testing.assert_allclose(s.mean, feats.mean(0), rtol=1e-14)
    np.testing.assert_allclose(s.cov, np.cov(feats, rowvar=False), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("batch", [1, 7, 128, 1000])
def test_streaming_is_batch_size_independent(feats, batch):
    s = FeatureStats(24)
    for lo in range(0, len(feats), batch):
        s.update(feats[lo:lo + batch])
    one = FeatureStats.from_features(feats)
    assert s.count == one.count
    np.testing.assert_allclose(s.mean, one.mean, rtol=1e-13)
    np.testing.assert_allclose(s.cov, one.cov, rtol=1e-9, atol=1e-12)


def test_merge_equals_concatenation(feats):
    a, b, c = feats[:123], feats[123:700], feats[700:]
    merged = FeatureStats.from_features(a).merge(FeatureStats.from_features(b))
    merged = merged + FeatureStats.from_features(c)
    one = FeatureStats.from_features(feats)
    assert merged.count == 1000
    np.testing.assert_allclose(merged.mean, one.mean, rtol=1e-13)
    np.testing.assert_allclose(merged.cov, one.cov, rtol=1e-10, atol=1e-13)
    # Merging an empty accumulator is a no-op; + leaves its operands unchanged.
    sa = FeatureStats.from_features(a)
    _ = sa + FeatureStats.from_features(b)
    assert sa.count == 123
    assert (FeatureStats(24) + sa).count == 123


def test_arrays_round_trip_for_distributed_gather(feats):
    parts = [FeatureStats.from_features(p) for p in np.array_split(feats, 4)]
    gathered = [FeatureStats.from_arrays(p.to_arrays()) for p in parts]
    total = gathered[0]
    for g in gathered[1:]:
        total.merge(g)
    np.testing.assert_allclose(total.cov, np.cov(feats, rowvar=False), rtol=1e-10, atol=1e-13)
    arrays = parts[0].to_arrays()
    assert set(arrays) == {"count", "mean", "m2"} and all(v.dtype == np.float64 for v in arrays.values())


def test_save_load_round_trip_and_pytorch_fid_reads_it(tmp_path, feats):
    s = FeatureStats.from_features(feats)
    path = tmp_path / "stats.npz"
    s.save(path)
    # pytorch-fid's own loader (it reads .npz paths without touching the model).
    mu, sigma = compute_statistics_of_path(str(path), None, 50, 24, "cpu")
    np.testing.assert_array_equal(mu, s.mean)
    np.testing.assert_array_equal(sigma, s.cov)
    back = FeatureStats.load(path)
    assert back.count == 1000 and back.mergeable
    np.testing.assert_array_equal(back.cov, s.cov)
    back.update(feats[:10])
    assert back.count == 1010
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write left no temp file
    other = feats[::-1] * 1.1
    peer = calculate_frechet_distance(mu, sigma, other.mean(0), np.cov(other, rowvar=False))
    loaded = FeatureStats.load(path)
    assert frechet_distance(loaded.mean, loaded.cov, other.mean(0),
                            np.cov(other, rowvar=False)) == pytest.approx(peer, rel=1e-6)


def test_plain_pytorch_fid_file_loads_but_cannot_merge(tmp_path, feats):
    path = tmp_path / "pf.npz"
    np.savez_compressed(path, mu=feats.mean(0), sigma=np.cov(feats, rowvar=False))  # pytorch-fid's save_fid_stats
    s = FeatureStats.load(path)
    assert s.count is None and not s.mergeable
    np.testing.assert_array_equal(s.cov, np.cov(feats, rowvar=False))
    with pytest.raises(GandiagError, match="plain mu/sigma file .* cannot be updated or merged"):
        s.merge(FeatureStats.from_features(feats))
    with pytest.raises(GandiagError, match="plain mu/sigma file"):
        FeatureStats.from_features(feats).merge(s)
    with pytest.raises(GandiagError, match="plain mu/sigma file"):
        s.update(feats)


def test_bad_inputs(tmp_path):
    s = FeatureStats(3)
    with pytest.raises(GandiagError, match=r"expected feature dimension D=3, got shape \(2, 4\)"):
        s.update(np.ones((2, 4)))
    with pytest.raises(GandiagError, match="expected a 2-D array of shape \\(N, D\\), got 1-D"):
        s.update(np.ones(3))
    with pytest.raises(GandiagError, match="contains NaN or Inf in 1 of 2 rows"):
        s.update(np.array([[0, 1, 2], [0, np.nan, 1.0]]))
    with pytest.raises(GandiagError, match="no features yet"):
        _ = s.mean
    s.update(np.ones((1, 3)))
    with pytest.raises(GandiagError, match="needs at least 2 feature rows, got 1"):
        _ = s.cov
    with pytest.raises(GandiagError, match="needs at least 2 feature rows to define sigma"):
        s.save(tmp_path / "x.npz")
    with pytest.raises(GandiagError, match=r"dimension mismatch \(3 vs 4\)"):
        s.merge(FeatureStats(4))
    with pytest.raises(GandiagError, match="expected a FeatureStats"):
        s.merge(np.ones((2, 3)))
    with pytest.raises(GandiagError, match=r"FeatureStats\(dim\): must be >= 1"):
        FeatureStats(0)
    with pytest.raises(GandiagError, match="missing keys \\['m2'\\]"):
        FeatureStats.from_arrays({"count": 2, "mean": np.zeros(3)})
    with pytest.raises(GandiagError, match="count must be a non-negative integer"):
        FeatureStats.from_arrays({"count": 2.5, "mean": np.zeros(3), "m2": np.zeros((3, 3))})
    with pytest.raises(GandiagError, match="inconsistent shapes"):
        FeatureStats.from_arrays({"count": 2, "mean": np.zeros(3), "m2": np.zeros((2, 2))})
    with pytest.raises(GandiagError, match="no such file"):
        FeatureStats.load(tmp_path / "missing.npz")
    np.savez(tmp_path / "bad.npz", foo=np.zeros(2))
    with pytest.raises(GandiagError, match="expected 'mu' and 'sigma'"):
        FeatureStats.load(tmp_path / "bad.npz")


def test_float32_stream_across_blocks_matches_float64_cov():
    """float32 batches spanning several dsyrk blocks (BLOCK_ROWS) and a large mean offset:
    the shifted block accumulation equals numpy.cov of the float64 copy to rounding."""
    from gandiag.metrics.stats import BLOCK_ROWS

    rng = np.random.default_rng(3)
    x = (rng.normal(size=(2 * BLOCK_ROWS + 333, 40)) * 0.5 + 300.0).astype(np.float32)
    s = FeatureStats(40)
    for lo in range(0, len(x), 300):
        s.update(x[lo:lo + 300])
        if lo == 900:  # reading mid-stream folds the pending block; later updates continue correctly
            assert s.count == 1200
            np.testing.assert_allclose(s.cov, np.cov(x[:1200].astype(np.float64), rowvar=False), rtol=1e-9,
                                       atol=1e-12)
    assert s.count == len(x)
    ref = x.astype(np.float64)
    np.testing.assert_allclose(s.mean, ref.mean(0), rtol=1e-14)
    np.testing.assert_allclose(s.cov, np.cov(ref, rowvar=False), rtol=1e-9, atol=1e-11)
    # merging a partially filled accumulator equals concatenation
    part = FeatureStats(40).update(x[:10]).merge(FeatureStats(40).update(x[10:]))
    np.testing.assert_allclose(part.cov, np.cov(ref, rowvar=False), rtol=1e-9, atol=1e-11)
    assert x.dtype == np.float32 and float(x[0, 0]) == float(ref[0, 0])  # input left unchanged
