"""Cache files carry a sha256 of their arrays: the right key with edited numbers is never used."""
import numpy as np
import pytest

from gandiag.data import ImageSet
from gandiag.features import cached_features, cached_stats, get_extractor
from gandiag.features.cache import CacheWarning, cache_key, cache_path


@pytest.fixture()
def data():
    rng = np.random.default_rng(0)
    return ImageSet(rng.random((40, 1, 28, 28), dtype=np.float32), None, "random digits")


def test_tampered_features_are_rebuilt(tmp_path, data):
    px = get_extractor("pixels")
    first = cached_features(data, px, cache_dir=tmp_path)["features"]
    path = cache_path(tmp_path, px, "features", cache_key(data, px, "features"))
    arrays = dict(np.load(path))
    arrays["features"] = arrays["features"] * 2  # right key, right shape, finite: only the hash tells
    np.savez(path, **arrays)
    with pytest.warns(CacheWarning, match="content hash"):
        again = cached_features(data, px, cache_dir=tmp_path)["features"]
    np.testing.assert_array_equal(again, first)
    np.testing.assert_array_equal(cached_features(data, px, cache_dir=tmp_path)["features"], first)  # rebuilt file


def test_tampered_stats_are_rebuilt(tmp_path, data):
    px = get_extractor("pixels")
    first = cached_stats(data, px, cache_dir=tmp_path)
    path = cache_path(tmp_path, px, "stats", cache_key(data, px, "stats"))
    arrays = dict(np.load(path))
    arrays["m2"] = arrays["m2"] * 100
    np.savez(path, **arrays)
    with pytest.warns(CacheWarning, match="content hash"):
        again = cached_stats(data, px, cache_dir=tmp_path)
    np.testing.assert_allclose(again.cov, first.cov)


def test_unusable_cache_folder_runs_uncached(tmp_path, data):
    (tmp_path / "file").write_text("not a folder")
    px = get_extractor("pixels")
    with pytest.warns(CacheWarning, match="running uncached"):
        feats = cached_features(data, px, cache_dir=tmp_path / "file")["features"]
    assert feats.shape == (40, 784) and (tmp_path / "file").read_text() == "not a folder"
