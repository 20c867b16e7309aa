"""Scoring whole studies: synthetic observers with known answers, exclusions, staircase, CLI outputs."""
import json

import numpy as np
import pytest
from scipy.stats import norm

from gandiag.cli import main
from gandiag.errors import GandiagError
from gandiag.human.analysis import Rules, score_sessions
from gandiag.human.responses import read_responses


def correct(t):
    return t["truth"]


def always_real(t):
    return "real"


def test_known_observers(small_kit, page_json_writer, tmp_path):
    d = small_kit.design
    files = [page_json_writer(d, "P01", correct, tmp_path / "a.json"),
             page_json_writer(d, "P02", always_real, tmp_path / "b.json")]
    scores = score_sessions(read_responses(files, d), d, n_boot=200, seed=0,
                            rules=Rules(min_attention=0.0, max_same_answer=1.0))
    p1, p2 = scores["participants"]
    assert p1["accuracy"] == 1.0 and p1["fool_rate"] == 0.0 and p1["attention"] == {"checks": 2, "passed": 2, "pass_rate": 1.0}
    assert p1["d_prime"] == pytest.approx(2 * norm.ppf(4.5 / 5))
    assert p2["accuracy"] == 0.5 and p2["fool_rate"] == 1.0 and p2["real_error_rate"] == 0.0
    assert p2["d_prime"] == pytest.approx(0.0, abs=1e-12) and p2["criterion"] > 0
    # mixed checks: the noise image (answer fake) catches an always-"real" participant, the probe does not
    assert p2["attention"] == {"checks": 2, "passed": 1, "pass_rate": 0.5} and p2["same_answer_share"] == 1.0
    o = scores["overall"]
    assert o["accuracy"]["value"] == 0.75 and o["fool_rate"]["value"] == 0.5
    assert o["hype_infinity"]["value"] == pytest.approx(25.0)
    assert o["scored_trials"] == 16 and o["images"] == 8
    lo, hi = o["accuracy"]["ci95"]
    assert 0.0 <= lo < 0.75 < hi <= 1.0  # wide: 2 participants, 8 images
    assert [e["exposure_ms"] for e in scores["by_exposure"]] == [50.0, 100.0]
    assert all(e["scored_trials"] == 8 for e in scores["by_exposure"])
    assert scores["participants"][0]["timing"]["max_abs_error_ms"] == 0.0


def test_attention_exclusion(small_kit, page_json_writer, tmp_path):
    d = small_kit.design
    files = [page_json_writer(d, "P01", correct, tmp_path / "a.json"),
             page_json_writer(d, "P02", always_real, tmp_path / "b.json")]
    scores = score_sessions(read_responses(files, d), d, n_boot=0)
    assert scores["participants_excluded"] == ["P02"] and scores["participants_included"] == 1
    assert scores["overall"]["accuracy"] == {"value": 1.0, "ci95": None}
    reason = scores["participants"][1]["exclusion_reason"]
    assert "attention pass rate 0.50 < 0.75" in reason and "answered 'real' on 100% of trials > 90%" in reason
    with pytest.raises(GandiagError, match="all 1 participants were excluded"):
        score_sessions(read_responses(files[1:], d), d, n_boot=0)


def test_coin_flip_observers_score_near_chance(tmp_path, fake_npz, kit_builder, page_json_writer):
    kit = kit_builder(tmp_path / "big", fake_npz, trials=120, exposures_ms=(100,), practice=0, attention=0,
                      participants=4)
    rng = np.random.default_rng(5)
    files = [page_json_writer(kit.design, f"P0{k}", lambda t: "real" if rng.random() < 0.5 else "fake",
                              tmp_path / f"{k}.json") for k in range(1, 5)]
    scores = score_sessions(read_responses(files, kit.design), kit.design, n_boot=300, seed=1)
    acc = scores["overall"]["accuracy"]
    assert abs(acc["value"] - 0.5) < 0.06 and acc["ci95"][0] < 0.5 < acc["ci95"][1]
    assert abs(scores["overall"]["d_prime"]["value"]) < 0.3
    assert abs(scores["overall"]["hype_infinity"]["value"] - 50) < 6


def test_probe_checks_and_staircase_threshold(tmp_path, fake_npz, kit_builder, page_json_writer):
    kit = kit_builder(tmp_path / "st", fake_npz, trials=12, exposures_ms=(100, 300, 500), staircase=True,
                      attention=2, attention_kind="probe", participants=2)
    d = kit.design
    files = [page_json_writer(d, "P01", correct, tmp_path / "a.json"),
             page_json_writer(d, "P02", correct, tmp_path / "b.json")]
    scores = score_sessions(read_responses(files, d), d, n_boot=100)
    for p in scores["participants"]:
        assert p["attention"] == {"checks": 2, "passed": 2, "pass_rate": 1.0}
        assert p["staircase_threshold_ms"] == 100.0  # the writer records ladder level 0 for every trial
    assert scores["hype_time_ms"]["value"] == 100.0


def test_paper_and_page_together(small_kit, page_json_writer, tmp_path):
    d = small_kit.design
    page = page_json_writer(d, "P01", correct, tmp_path / "a.json")
    lines = ["participant,item,response"] + [f"ann,{it['item']},{'real'}" for it in d["paper"]["items"]]
    (tmp_path / "paper.csv").write_text("\n".join(lines) + "\n")
    scores = score_sessions(read_responses([page, tmp_path / "paper.csv"], d), d, n_boot=50,
                            rules=Rules(min_attention=0, max_same_answer=1))
    labels = [e["label"] for e in scores["by_exposure"]]
    assert labels == ["50", "100", "untimed"]
    untimed = scores["by_exposure"][-1]
    assert untimed["fool_rate"]["value"] == 1.0 and untimed["scored_trials"] == 8


def test_cli_writes_scores_html_png(small_kit, page_json_writer, tmp_path, capsys):
    d = small_kit.design
    files = [str(page_json_writer(d, "P01", correct, tmp_path / "a.json")),
             str(page_json_writer(d, "P03", always_real, tmp_path / "c.json"))]
    out = tmp_path / "scores"
    rc = main(["human-score", *files, "--design", str(small_kit.out / "design.json"), "--out", str(out),
               "--bootstrap", "100", "--min-attention", "0", "--max-same-answer", "1"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "accuracy" in text and "HYPE_inf" in text and "75.0%" in text
    scores = json.loads((out / "scores.json").read_text())
    assert scores["kit_id"] == d["kit_id"] and scores["bootstrap"]["replicates"] == 100
    assert (out / "summary.png").read_bytes().startswith(b"\x89PNG")
    page = (out / "summary.html").read_text()
    assert "data:image/png;base64," in page and "http" not in page.replace("http-equiv", "")
    # Same seed, same CIs.
    rc = main(["human-score", *files, "--design", str(small_kit.out), "--out", str(tmp_path / "again"),
               "--bootstrap", "100", "--min-attention", "0", "--max-same-answer", "1", "--quiet"])
    assert json.loads((tmp_path / "again" / "scores.json").read_text())["overall"] == scores["overall"]


def test_cli_error_is_one_line(small_kit, tmp_path, capsys):
    (tmp_path / "bad.csv").write_text("participant,item,response\nann,1,maybe\n")
    assert main(["human-score", str(tmp_path / "bad.csv"), "--design", str(small_kit.out / "design.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bad.csv:2: response 'maybe'" in err


def test_catch_trials_do_not_exclude_an_honest_observer_at_chance(tmp_path, fake_npz, kit_builder, page_json_writer):
    # The old repeat checks excluded an at-chance observer ~69 % of the time; known-answer checks never do.
    kit = kit_builder(tmp_path / "chance", fake_npz, trials=40, exposures_ms=(100,), practice=0, attention=4,
                      participants=12)
    d = kit.design
    rng = np.random.default_rng(11)

    def chance(t):  # guesses on images, reads the catch trials correctly
        return t["truth"] if t["attention"] else ("real" if rng.random() < 0.5 else "fake")

    files = [page_json_writer(d, p["id"], chance, tmp_path / f"{p['id']}.json") for p in d["participants"]]
    scores = score_sessions(read_responses(files, d), d, n_boot=0)
    assert scores["participants_excluded"] == []
    assert all(p["attention"]["pass_rate"] == 1.0 for p in scores["participants"])


def test_always_fake_fails_probes(small_kit, page_json_writer, tmp_path):
    d = small_kit.design
    f = page_json_writer(d, "P01", lambda t: "fake", tmp_path / "a.json")
    row = score_sessions(read_responses([f], d), d, n_boot=0, rules=Rules(min_attention=0, max_same_answer=1)
                         )["participants"][0]
    assert row["attention"]["passed"] == 1 and row["same_answer_share"] == 1.0  # the "answer REAL" probe


def test_late_frames_flagged_reported_and_excludable(small_kit, page_json_writer, tmp_path, capsys):
    d = small_kit.design
    mains = [t["trial"] for t in d["participants"][0]["trials"] if t["phase"] == "main" and not t["attention"]]
    f = page_json_writer(d, "P01", correct, tmp_path / "a.json", late=mains[:3])
    scores = score_sessions(read_responses([f], d), d, n_boot=0)
    q = scores["quality"]
    assert (q["timing_flagged_scored_trials"], q["timed_scored_trials"]) == (3, 8)
    assert scores["participants"][0]["timing"]["flagged_trials"] == mains[:3]
    assert scores["overall"]["scored_trials"] == 8
    kept = score_sessions(read_responses([f], d), d, n_boot=0, rules=Rules(exclude_late=True))
    assert kept["overall"]["scored_trials"] == 5 and kept["quality"]["timing_flagged_excluded"]
    assert main(["human-score", str(f), "--design", str(small_kit.out), "--bootstrap", "0"]) == 0
    text = capsys.readouterr().out
    assert "timing: 3 of 8 scored trials off by a frame or more" in text and "--exclude-late-trials" in text
    assert main(["human-score", str(f), "--design", str(small_kit.out), "--bootstrap", "0",
                 "--exclude-late-trials", "--out", str(tmp_path / "s")]) == 0
    assert "(excluded from the scores)" in capsys.readouterr().out
    assert "3 of 8 scored trials" in (tmp_path / "s" / "summary.html").read_text()


def test_too_fast_answers_flagged_by_rt_rule(small_kit, page_json_writer, tmp_path, capsys):
    d = small_kit.design
    f = page_json_writer(d, "P01", correct, tmp_path / "a.json", rt=lambda t: 40.0 if t["trial"] % 3 == 0 else 600.0)
    fast = [t["trial"] for t in d["participants"][0]["trials"]
            if t["trial"] % 3 == 0 and t["phase"] == "main" and not t["attention"]]
    scores = score_sessions(read_responses([f], d), d, n_boot=0)
    assert scores["participants"][0]["fast_trials"] == fast and scores["quality"]["fast_trials"] == len(fast)
    dropped = score_sessions(read_responses([f], d), d, n_boot=0, rules=Rules(exclude_fast=True))
    assert dropped["overall"]["scored_trials"] == 8 - len(fast) > 0
    lenient = score_sessions(read_responses([f], d), d, n_boot=0, rules=Rules(min_rt_ms=30))
    assert lenient["quality"]["fast_trials"] == 0
    with pytest.raises(GandiagError, match="--max-same-answer must be in"):
        score_sessions(read_responses([f], d), d, n_boot=0, rules=Rules(max_same_answer=1.5))
