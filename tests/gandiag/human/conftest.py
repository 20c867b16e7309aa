"""Fixtures for the human-study tests: small kits, synthetic answers (the browser fixture is in tests/conftest.py)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def fake_npz(tmp_path_factory) -> Path:
    """'Generated' digits: real MNIST test digits with strong noise (obviously different)."""
    from gandiag.data import load_mnist_subset

    x = load_mnist_subset("test").images[:300]
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("fake") / "fake.npz"
    np.savez(path, images=np.clip(x + 0.35 * rng.standard_normal(x.shape), 0, 1).astype(np.float32))
    return path


def build_small_kit(out, fake, force=False, **overrides):
    from gandiag.human.design import StudyConfig
    from gandiag.human.kit import build_kit

    params = dict(trials=8, exposures_ms=(50, 100), practice=2, attention=2, participants=3,
                  fixation_ms=100, mask_ms=100, display_px=112, seed=3)
    params.update(overrides)
    return build_kit("mnist-subset:test", str(fake), out, StudyConfig(**params), force=force)


@pytest.fixture(scope="session")
def kit_builder():
    """``build_small_kit(out, fake, **overrides)`` (importable test modules cannot import conftest)."""
    return build_small_kit


@pytest.fixture(scope="session")
def page_json_writer():
    """:func:`page_json`, as a fixture."""
    return page_json


@pytest.fixture(scope="session")
def small_kit(tmp_path_factory, fake_npz):
    """A built kit (shared, read-only): 3 participants x (2 practice + 8 main + 2 attention)."""
    return build_small_kit(tmp_path_factory.mktemp("kit") / "kit", fake_npz)


def page_json(design, participant, answer, path, *, drop=(), late=(), rt=500.0):
    """Write a results file in the page's export format (same layout as app.js writes).

    ``answer(trial) -> "real"|"fake"`` decides each response; trial numbers in
    ``drop`` are left out (an unfinished session); those in ``late`` are flagged
    as shown with a late frame; ``rt`` (ms or ``rt(trial)``) is every reaction time.
    """
    trials = next(p["trials"] for p in design["participants"] if p["id"] == participant)
    ladder = (design.get("staircase") or {}).get("ladder_ms")
    rows = []
    for t in trials:
        if t["trial"] in drop:
            continue
        exposure = t["exposure_ms"] if t["exposure_ms"] is not None else ladder[0]
        rows.append({"trial": t["trial"], "phase": t["phase"], "image": t["image"], "attention": t["attention"],
                     "exposure_ms": exposure, "exposure_frames": 3, "measured_ms": float(exposure),
                     "frames": 3, "mask_measured_ms": 100.0, "fixation_measured_ms": 100.0,
                     "late_frames": int(t["trial"] in late), "max_frame_gap_ms": 40.0 if t["trial"] in late else 16.7,
                     "timing_ok": t["trial"] not in late, "frame_ms": 16.7,
                     "response": answer(t), "rt_ms": rt(t) if callable(rt) else rt, "input": "key:f",
                     "staircase_level": None if t["exposure_ms"] is not None else 0,
                     "page_hidden": False, "answered_at": "2026-01-01T00:00:00Z"})
    head = {"format": "gandiag-human-responses", "format_version": 2, "kit_id": design["kit_id"],
            "study_id": design["study_id"],
            "gandiag_version": "test", "participant": participant, "complete": not drop,
            "started_at": "2026-01-01T00:00:00Z", "finished_at": None, "frame_ms": 16.7,
            "user_agent": "test", "screen": None, "interrupted_trials": []}
    text = "{\n" + "".join(f"  {json.dumps(k)}: {json.dumps(v)},\n" for k, v in head.items())
    text += '  "trials": [\n' + ",\n".join("    " + json.dumps(r) for r in rows) + "\n  ]\n}\n"
    Path(path).write_text(text)
    return Path(path)
