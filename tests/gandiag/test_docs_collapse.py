"""The numbers docs/collapse-without-labels.md quotes, re-computed by its script (with margins)."""
import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "scripts" / "collapse_without_labels.py"


@pytest.mark.slow
def test_collapse_page_numbers(fashion, tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("collapse_doc", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.setattr(mod, "OUT", tmp_path)  # pictures into tmp, not over the docs
    numbers = {}
    mod.fashion_ndb(numbers)
    mod.birthday(numbers)
    mod.toy(numbers)
    f = numbers["fashion_ndb"]
    assert 44 <= f["ndb"] <= 50 and 14 <= f["under"] <= 20 and f["real_ndb"] <= 3      # page: 47, 17, 1
    assert abs(f["js"] - 0.071) < 0.01
    b = numbers["birthday_400"]
    assert b["status"] == "estimate" and 300 <= b["support"] <= 600                      # page: 430
    r = numbers["birthday_real"]
    assert r["status"] == "at_least" and r["max_duplicate_probability"] < 0.5 and r["largest_batch"] == 200
    assert numbers["toy_ring8"]["modes_covered"] == 5 and abs(numbers["toy_ring8"]["high_quality_fraction"] - 0.60) < 0.03
    g = numbers["toy_grid25"]
    assert g["modes_covered"] == 9 and g["high_quality_fraction"] > 0.98 and abs(g["kl_to_uniform"] - 1.03) < 0.05
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["collapse-ndb-bins.png", "collapse-ndb-missing.png", "collapse-birthday-curve.png",
         "collapse-birthday-pairs.png", "collapse-toy-ring8.png", "collapse-toy-grid25.png"])
