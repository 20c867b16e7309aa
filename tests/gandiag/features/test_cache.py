"""Reference cache: hits, keys, corrupt/mismatched files rebuilt (never used), stats cache."""
import numpy as np
import pytest

from gandiag.data import ImageSet, load_mnist_subset
from gandiag.features import cached_features, cached_stats, default_cache_dir, get_extractor
from gandiag.features.cache import CacheWarning, cache_key, cache_path
from gandiag.metrics import FeatureStats


@pytest.fixture(scope="module")
def data():
    return load_mnist_subset("test").subset(np.arange(120), "mnist-subset:test[:120]")


class Counting:
    """Wrap an extractor and count extract() calls (a cache hit makes none)."""

    def __init__(self, ext):
        self.ext, self.calls = ext, 0
        self._orig = ext.extract
        ext.extract = self._extract

    def _extract(self, *a, **k):
        self.calls += 1
        return self._orig(*a, **k)


def test_second_call_is_a_hit_and_equal(tmp_path, data):
    clf = get_extractor("mnist-classifier")
    counter = Counting(clf)
    first = cached_features(data, clf, cache_dir=tmp_path)
    assert set(first) == {"features", "logits"} and counter.calls == 1
    second = cached_features(data, clf, ("logits",), cache_dir=tmp_path)
    assert counter.calls == 1 and set(second) == {"logits"}
    np.testing.assert_array_equal(second["logits"], first["logits"])
    files = list((tmp_path / "features").glob("mnist-classifier-*.npz"))
    assert len(files) == 1


def test_key_depends_on_data_extractor_weights_and_protocol(tmp_path, data):
    clf = get_extractor("mnist-classifier")
    px = get_extractor("pixels")
    other = data.subset(np.arange(100))
    keys = {cache_key(data, clf, "features"), cache_key(other, clf, "features"), cache_key(data, px, "features"),
            cache_key(data, clf, "stats")}
    assert len(keys) == 4
    bf16 = get_extractor("mnist-classifier", amp="bf16")
    assert cache_key(data, bf16, "features") != cache_key(data, clf, "features")  # dtype changes numbers


def test_corrupt_file_is_detected_and_rebuilt(tmp_path, data):
    px = get_extractor("pixels")
    ref = cached_features(data, px, cache_dir=tmp_path)["features"]
    path = cache_path(tmp_path, px, "features", cache_key(data, px, "features"))
    path.write_bytes(path.read_bytes()[:100])  # truncated
    with pytest.warns(CacheWarning, match="ignoring unusable cache file"):
        again = cached_features(data, px, cache_dir=tmp_path)["features"]
    np.testing.assert_array_equal(again, ref)
    np.load(path)  # rewritten whole


def test_mismatched_key_inside_file_is_not_used(tmp_path, data):
    px = get_extractor("pixels")
    path = cache_path(tmp_path, px, "features", cache_key(data, px, "features"))
    path.parent.mkdir(parents=True)
    # A file at the right place holding someone else's features (e.g. copied by hand).
    np.savez(path, features=np.zeros((120, 784), np.float32), cache_key=np.asarray("0" * 64))
    with pytest.warns(CacheWarning, match="stored key 0000000000000000... does not match"):
        got = cached_features(data, px, cache_dir=tmp_path)["features"]
    np.testing.assert_array_equal(got, data.images.reshape(120, -1))


def test_wrong_shape_and_nan_are_not_used(tmp_path, data):
    px = get_extractor("pixels")
    key = cache_key(data, px, "features")
    path = cache_path(tmp_path, px, "features", key)
    path.parent.mkdir(parents=True)
    np.savez(path, features=np.zeros((119, 784), np.float32), cache_key=np.asarray(key))
    with pytest.warns(CacheWarning, match=r"has shape \(119, 784\), expected \(120, -1\)"):
        cached_features(data, px, cache_dir=tmp_path)
    bad = np.zeros((120, 784), np.float32)
    bad[5, 5] = np.nan
    np.savez(path, features=bad, cache_key=np.asarray(key))
    with pytest.warns(CacheWarning, match="contains NaN"):
        cached_features(data, px, cache_dir=tmp_path)


def test_stats_cache(tmp_path, data, monkeypatch):
    monkeypatch.setenv("GANDIAG_CACHE", str(tmp_path / "env_cache"))
    assert default_cache_dir() == tmp_path / "env_cache"
    clf = get_extractor("mnist-classifier")
    stats = cached_stats(data, clf)
    ref = FeatureStats.from_features(clf.extract(data.images)["features"])
    np.testing.assert_allclose(stats.mean, ref.mean, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(stats.cov, ref.cov, rtol=1e-8, atol=1e-10)
    counter = Counting(clf)
    hit = cached_stats(data, clf)
    assert counter.calls == 0 and hit.count == 120
    np.testing.assert_array_equal(hit.cov, stats.cov)
    path = next((tmp_path / "env_cache" / "stats").glob("*.npz"))
    path.write_bytes(b"garbage")
    with pytest.warns(CacheWarning, match=r"ignoring unusable cache file .*\.npz .*; rebuilding it"):
        rebuilt = cached_stats(data, clf)
    np.testing.assert_allclose(rebuilt.cov, stats.cov, rtol=1e-12)


def test_plain_array_is_hashed_too(tmp_path, data):
    px = get_extractor("pixels")
    a = cached_features(np.array(data.images), px, cache_dir=tmp_path)["features"]
    b = cached_features(ImageSet(np.array(data.images)), px, cache_dir=tmp_path)["features"]
    np.testing.assert_array_equal(a, b)
    assert len(list((tmp_path / "features").glob("*.npz"))) == 1
