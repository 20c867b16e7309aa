"""gandiag.fileio output checks: run before any computation, never over an input or a user's file."""
import os

import pytest

from gandiag.errors import GandiagError
from gandiag.fileio import check_output_dir, check_output_file, usable_cache_dir


def test_output_file_rules(tmp_path):
    victim = tmp_path / "victim.npz"
    victim.write_bytes(b"user data")
    link = tmp_path / "alias.npz"
    os.link(victim, link)  # another name for the same inode is still the input
    with pytest.raises(GandiagError, match="also an input"):
        check_output_file(link, inputs=[str(victim)], force=True)
    with pytest.raises(GandiagError, match="already exists; pass --force"):
        check_output_file(victim, inputs=[])
    assert check_output_file(victim, force=True) == victim  # --force: the user's explicit choice
    with pytest.raises(GandiagError, match="is a folder"):
        check_output_file(tmp_path)
    with pytest.raises(GandiagError, match="is a file, not a folder"):
        check_output_file(victim / "x.npz")
    new = check_output_file(tmp_path / "a" / "b" / "out.npz")
    assert new.parent.is_dir() and not new.exists()
    assert victim.read_bytes() == b"user data"


def test_output_dir_rules(tmp_path):
    out = tmp_path / "eval"
    assert check_output_dir(out, ("metrics.json", "report.html")).is_dir()
    (out / "metrics.json").write_text("{}")
    with pytest.raises(GandiagError, match="already holds .*metrics.json; pass --force"):
        check_output_dir(out, ("metrics.json", "report.html"))
    check_output_dir(out, ("metrics.json",), force=True)
    with pytest.raises(GandiagError, match="would overwrite the input"):
        check_output_dir(out, ("metrics.json",), inputs=[str(out / "metrics.json")], force=True)
    (tmp_path / "f").write_text("x")
    with pytest.raises(GandiagError, match="is a file, not a folder"):
        check_output_dir(tmp_path / "f")
    with pytest.raises(GandiagError, match="cannot write there"):
        check_output_dir("/proc/gandiag-test/out")


def test_cache_dir_probe(tmp_path):
    (tmp_path / "file").write_text("x")
    assert usable_cache_dir(tmp_path / "cache")
    assert not usable_cache_dir(tmp_path / "file")
    assert not usable_cache_dir(tmp_path / "file" / "sub")
