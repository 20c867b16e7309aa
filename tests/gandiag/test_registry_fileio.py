import json
import os

import numpy as np
import pytest

from gandiag.errors import GandiagError
from gandiag.fileio import atomic_open, atomic_save_npz, atomic_write_json, sha256_bytes, sha256_file
from gandiag.registry import Registry


def test_registry_validates_refuses_duplicates_and_lists_valid_values():
    reg = Registry("widget")
    reg.register("b-one", 1, "first")
    reg.register("a_two", 2)
    assert reg.names() == ["a_two", "b-one"] and reg.get("b-one") == 1 and "a_two" in reg
    with pytest.raises(GandiagError, match="already registered"):
        reg.register("b-one", 3)
    reg.register("b-one", 3, replace=True)
    assert reg.get("b-one") == 3
    with pytest.raises(GandiagError, match="unknown widget 'zzz'; valid values are: a_two, b-one"):
        reg.get("zzz")
    with pytest.raises(GandiagError, match="invalid widget name"):
        reg.register("Bad Name", 0)


def test_atomic_write_leaves_no_partial_file_on_error(tmp_path):
    target = tmp_path / "out.json"
    atomic_write_json(target, {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_open(target, "wb") as handle:
            handle.write(b"partial")
            raise RuntimeError("interrupted")
    assert json.loads(target.read_text()) == {"a": 1}
    assert os.listdir(tmp_path) == ["out.json"]


def test_npz_roundtrip_and_hashes(tmp_path):
    path = atomic_save_npz(tmp_path / "sub" / "a.npz", {"mu": np.arange(3.0)})
    with np.load(path, allow_pickle=False) as data:
        np.testing.assert_array_equal(data["mu"], [0, 1, 2])
    (tmp_path / "b").write_bytes(b"abc")
    assert sha256_file(tmp_path / "b") == sha256_bytes(b"abc").lower()
    assert sha256_bytes(b"abc").startswith("ba7816bf")


def test_atomic_files_get_the_umask_mode_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        path = atomic_write_json(tmp_path / "shared.json", {})
    finally:
        os.umask(old)
    assert (path.stat().st_mode & 0o777) == 0o644
