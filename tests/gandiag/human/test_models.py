"""Several generators in one kit (balanced within participants, scored per model, paired CIs); growing a
study keeps its id so answers pool across page exports, paper CSVs and the server database."""
import json
from collections import Counter

import numpy as np
import pytest

from gandiag.cli import main
from gandiag.errors import GandiagError
from gandiag.human.analysis import score_sessions
from gandiag.human.design import StudyConfig, build_design
from gandiag.human.kit import build_kit
from gandiag.human.responses import read_responses
from gandiag.human.store import Store


@pytest.fixture(scope="module")
def clean_npz(tmp_path_factory):
    """A 'good generator': real MNIST test digits with faint noise."""
    from gandiag.data import load_mnist_subset

    x = load_mnist_subset("test").images[300:600]
    rng = np.random.default_rng(1)
    path = tmp_path_factory.mktemp("clean") / "clean.npz"
    np.savez(path, images=np.clip(x + 0.02 * rng.standard_normal(x.shape), 0, 1).astype(np.float32))
    return path


def _config(**kw):
    params = dict(trials=16, exposures_ms=(50, 100), practice=2, attention=2, participants=4, fixation_ms=100,
                  mask_ms=100, display_px=112, seed=3, models=("noisy", "good"))
    params.update(kw)
    return StudyConfig(**params)


def test_models_balanced_within_every_participant():
    d = build_design(_config(participants=4))
    for p in d["participants"]:
        fakes = [t for t in p["trials"] if t["phase"] == "main" and not t["attention"] and t["truth"] == "fake"]
        assert Counter((t["model"], t["exposure_ms"]) for t in fakes) == {
            ("noisy", 50): 2, ("noisy", 100): 2, ("good", 50): 2, ("good", 100): 2}
    # Across two participants every fake is seen at both exposures (Latin-square rotation within model).
    seen = {}
    for p in d["participants"][:2]:
        for t in p["trials"]:
            if t["model"] and t["phase"] == "main":
                seen.setdefault(t["image"], set()).add(t["exposure_ms"])
    assert all(v == {50, 100} for v in seen.values())
    with pytest.raises(GandiagError, match=r"real/fake x 2 exposures x 2 models; use a multiple of 8"):
        _config(trials=12)
    with pytest.raises(GandiagError, match="distinct names"):
        _config(models=("a", "a"))


def _observer(t):
    # Fooled by every "good" fake, never by a "noisy" one.
    if t["attention"]:
        return t["truth"]
    return "real" if t["truth"] == "real" or t["model"] == "good" else "fake"


def test_scores_per_model_with_paired_difference(tmp_path, fake_npz, clean_npz, page_json_writer, capsys):
    kit = build_kit("mnist-subset:test", {"noisy": str(fake_npz), "good": str(clean_npz)}, tmp_path / "kit",
                    _config())
    d = kit.design
    assert set(d["sources"]["models"]) == {"noisy", "good"} and "fake" not in d["sources"]
    files = [page_json_writer(d, p["id"], _observer, tmp_path / f"{p['id']}.json") for p in d["participants"]]
    scores = score_sessions(read_responses(files, d), d, n_boot=200, seed=0)
    by = {m["model"]: m for m in scores["by_model"]}
    assert by["noisy"]["fool_rate"]["value"] == 0.0 and by["good"]["fool_rate"]["value"] == 1.0
    assert by["good"]["hype_infinity"]["value"] == pytest.approx(50.0)
    assert by["noisy"]["fake_trials"] == by["good"]["fake_trials"] == 16
    comp = next(c for c in scores["model_comparisons"] if c["stat"] == "fool_rate")
    assert (comp["a"], comp["b"], comp["difference"]) == ("noisy", "good", -1.0) and comp["ci_excludes_zero"]
    grid_png = tmp_path / "s" / "images_grid.png"
    assert main(["human-score", *map(str, files), "--design", str(kit.out), "--out", str(tmp_path / "s"),
                 "--bootstrap", "100"]) == 0
    out = capsys.readouterr().out
    assert "noisy - good: fool rate -100.0 pts [-100.0, -100.0]  (CI excludes 0)" in out
    assert grid_png.read_bytes().startswith(b"\x89PNG")
    assert "By model" in (tmp_path / "s" / "summary.html").read_text()
    rates = {e["image"]: e for e in scores["by_image"]}
    assert all(e["judged_real_rate"] == (1.0 if e["model"] == "good" else 0.0)
               for e in rates.values() if e["truth"] == "fake")


def test_cli_several_fakes_need_names(tmp_path, fake_npz, clean_npz, capsys):
    assert main(["human-kit", "--real", "mnist-subset:test", "--fake", str(fake_npz), "--fake", str(clean_npz),
                 "--out", str(tmp_path / "k")]) == 2
    assert "name each one, e.g. --fake dcgan=" in capsys.readouterr().err
    assert main(["human-kit", "--real", "mnist-subset:test", "--fake", f"noisy={fake_npz}", "--fake",
                 f"good={clean_npz}", "--out", str(tmp_path / "k"), "--trials", "8", "--exposures", "100",
                 "--participants", "2", "--quiet"]) == 0
    design = json.loads((tmp_path / "k" / "design.json").read_text())
    assert design["config"]["models"] == ["noisy", "good"]


def test_growing_a_study_keeps_its_id_and_pools_every_answer_kind(tmp_path, fake_npz, kit_builder,
                                                                  page_json_writer, capsys):
    small = kit_builder(tmp_path / "kit", fake_npz, participants=2)
    d_small = json.loads((tmp_path / "kit" / "design.json").read_text())
    page = page_json_writer(d_small, "P01", lambda t: t["truth"], tmp_path / "p01.json")
    store = Store(tmp_path / "db.sqlite")  # P02 answered online before the study grew
    start = store.start(d_small["study_id"], small.kit_id, "worker-9", None, ["P01", "P02"][1:])
    for t in d_small["participants"][1]["trials"]:
        row = json.loads(page.read_text())["trials"][0]
        row.update(trial=t["trial"], phase=t["phase"], image=t["image"], attention=t["attention"],
                   exposure_ms=t["exposure_ms"], response=t["truth"])
        store.add_answer(d_small["study_id"], small.kit_id, start["participant"], t["trial"], row)
    grown = kit_builder(tmp_path / "kit", fake_npz, participants=4)  # same folder, no --force needed
    assert grown.grown_from == small.kit_id and grown.kit_id != small.kit_id
    d = grown.design
    assert d["study_id"] == d_small["study_id"]
    assert d["participants"][:2] == d_small["participants"]  # P01, P02 unchanged
    assert all(f.startswith("images/") for f in grown.kept) and "design.json" in grown.written
    paper = tmp_path / "paper.csv"
    paper.write_text("study_id,participant,item,response\n" + "".join(
        f"{d['study_id']},ann,{it['item']},{it['truth']}\n" for it in d["paper"]["items"]))
    sessions = read_responses([page, tmp_path / "db.sqlite", paper], d)
    assert sorted(s.participant for s in sessions) == ["P01", "P02", "ann"]
    scores = score_sessions(sessions, d, n_boot=0)
    assert scores["participants_included"] == 3 and scores["overall"]["accuracy"]["value"] == 1.0
    with pytest.raises(GandiagError, match="a study can grow, not shrink"):
        kit_builder(tmp_path / "kit", fake_npz, participants=3)
    # A different study in the folder still needs --force.
    with pytest.raises(GandiagError, match="already holds a different kit"):
        kit_builder(tmp_path / "kit", fake_npz, participants=4, seed=8)
