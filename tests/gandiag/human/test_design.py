"""Trial design: balance, counterbalancing, seeded orders, practice, attention checks, staircase."""
from collections import Counter

import pytest

from gandiag.errors import GandiagError
from gandiag.human.design import StudyConfig, build_design, image_counts, participant_ids


def _main(trials):
    return [t for t in trials if t["phase"] == "main" and t["attention"] is None]


def test_balanced_real_fake_and_exposures_per_participant():
    cfg = StudyConfig(trials=24, exposures_ms=(250, 500, 1000), participants=5, seed=1)
    d = build_design(cfg)
    for p in d["participants"]:
        main = _main(p["trials"])
        assert len(main) == 24
        cells = Counter((t["truth"], t["exposure_ms"]) for t in main)
        assert cells == {(tr, e): 4 for tr in ("real", "fake") for e in (250, 500, 1000)}
        assert len({t["image"] for t in main}) == 24  # every main image once


def test_latin_square_rotation_shows_each_image_at_every_exposure():
    cfg = StudyConfig(trials=12, exposures_ms=(100, 200, 300), participants=3, practice=0, attention=0)
    d = build_design(cfg)
    seen = {}
    for p in d["participants"]:
        for t in p["trials"]:
            seen.setdefault(t["image"], set()).add(t["exposure_ms"])
    assert all(v == {100, 200, 300} for v in seen.values())


def test_orders_differ_between_participants_and_are_reproducible():
    cfg = StudyConfig(trials=12, exposures_ms=(250, 500), participants=4, seed=7)
    a, b = build_design(cfg), build_design(cfg)
    assert a == b
    orders = [tuple(t["image"] for t in p["trials"]) for p in a["participants"]]
    assert len(set(orders)) == 4
    other = build_design(StudyConfig(trials=12, exposures_ms=(250, 500), participants=4, seed=8))
    assert [t["image"] for t in other["participants"][0]["trials"]] != list(orders[0])


def test_practice_first_with_separate_images_and_longest_exposures():
    cfg = StudyConfig(trials=8, exposures_ms=(50, 100, 400, 800), practice=4, attention=0, participants=1)
    trials = build_design(cfg)["participants"][0]["trials"]
    practice = trials[:4]
    assert [t["phase"] for t in practice] == ["practice"] * 4
    assert Counter(t["truth"] for t in practice) == {"real": 2, "fake": 2}
    assert [t["exposure_ms"] for t in practice] == [800, 400, 100, 50]
    assert not {t["image"] for t in practice} & {t["image"] for t in trials[4:]}
    assert [t["trial"] for t in trials] == list(range(1, len(trials) + 1))


def test_noise_attention_checks_spread_over_block_at_longest_exposure():
    cfg = StudyConfig(trials=24, exposures_ms=(250, 500, 1000), attention=4, attention_kind="noise", practice=2,
                      participants=3)
    d = build_design(cfg)
    noise_ids = {e["id"] for e in d["images"] if e["role"] == "attention"}
    assert len(noise_ids) == 4 and image_counts(cfg)["noise"] == 4
    for p in d["participants"]:
        checks = [k for k, t in enumerate(p["trials"]) if t["attention"]]
        assert len(checks) == 4
        assert all(p["trials"][k]["image"] in noise_ids for k in checks)
        assert all(p["trials"][k]["truth"] == "fake" and p["trials"][k]["exposure_ms"] == 1000 for k in checks)
        assert checks[0] > 2  # never the first main trial
        gaps = [b - a for a, b in zip(checks, checks[1:])]
        assert min(gaps) >= 1


@pytest.mark.parametrize("kind, expected", [("mixed", {("noise", "fake"): 2, ("probe", "real"): 2}),
                                            ("probe", {("probe", "real"): 2, ("probe", "fake"): 2})])
def test_known_answer_checks_have_both_answers(kind, expected):
    cfg = StudyConfig(trials=24, exposures_ms=(250, 500), attention=4, attention_kind=kind, participants=4)
    d = build_design(cfg)
    firsts = set()
    for p in d["participants"]:
        checks = [t for t in p["trials"] if t["attention"]]
        assert Counter((t["attention"], t["truth"]) for t in checks) == expected
        assert all(t["exposure_ms"] == 500 for t in checks)
        for t in checks:
            if t["attention"] == "probe":
                assert t["image"] == f"probe-{t['truth']}"
        firsts.add((checks[0]["attention"], checks[0]["truth"]))
    assert len(firsts) == 2  # which kind comes first alternates between participants
    items = d["paper"]["items"]
    assert Counter((it["attention"], it["truth"]) for it in items if it["attention"]) == expected
    probes = [e for e in d["images"] if e["source"] == "probe"]
    assert all(e["role"] == "attention" for e in probes)


def test_image_ids_do_not_reveal_truth():
    d = build_design(StudyConfig(trials=40, exposures_ms=(250, 500), participants=1))
    ids = sorted(e["id"] for e in d["images"] if e["source"] != "probe")
    assert ids == [f"img-{k:03d}" for k in range(1, len(ids) + 1)]
    # Real and fake ids interleave after the seeded shuffle (not one block each).
    truths = [e["truth"] for e in sorted(d["images"], key=lambda e: e["id"])]
    assert truths[:20].count("real") not in (0, 20)


def test_staircase_design_has_no_fixed_main_exposures():
    cfg = StudyConfig(trials=10, exposures_ms=(100, 300, 500, 700), staircase=True, participants=2)
    d = build_design(cfg)
    assert d["staircase"]["start_ms"] == 500 and d["staircase"]["ladder_ms"] == [100, 300, 500, 700]
    main = _main(d["participants"][0]["trials"])
    assert all(t["exposure_ms"] is None for t in main)
    assert StudyConfig(exposures_ms=(100, 450, 550), staircase=True).start_ms == 450


def test_paper_items_cover_main_images_and_noise_checks_once():
    d = build_design(StudyConfig(trials=12, exposures_ms=(250, 500), attention=2, participants=1))
    items = d["paper"]["items"]
    assert [it["item"] for it in items] == list(range(1, 15))
    main_ids = {e["id"] for e in d["images"] if e["role"] == "main"}
    assert {it["image"] for it in items if not it["attention"]} == main_ids
    assert sum(it["attention"] == "noise" for it in items) == 1 and sum(it["attention"] == "probe" for it in items) == 1


def test_participant_ids():
    assert participant_ids(3) == ["P01", "P02", "P03"]
    assert participant_ids(120)[-1] == "P120"


@pytest.mark.parametrize("kwargs, match", [
    (dict(trials=10, exposures_ms=(250, 500, 1000)), r"--trials 10 cannot be split .* multiple of 6 \(e.g. 6 or 12\)"),
    (dict(exposures_ms=()), "--exposures"),
    (dict(exposures_ms=(250, 250)), "distinct"),
    (dict(practice=3), "--practice must be an even"),
    (dict(attention_kind="blink"), "--attention-kind must be one of mixed, noise, probe"),
    (dict(attention_kind="repeat"), "repeat is no longer offered"),
    (dict(exposures_ms=(5, 100)), r"--exposures \[5\] ms: shorter than one screen frame"),
    (dict(trials=4, exposures_ms=(250,), attention=5), "--attention 5 is more than --trials 4"),
    (dict(participants=0), "--participants must be at least 1"),
    (dict(staircase=True, exposures_ms=(500,)), "at least two --exposures"),
    (dict(staircase=True, exposures_ms=(100, 200), staircase_start_ms=150), "--staircase-start 150"),
    (dict(display_px=4), "--display-px"),
])
def test_invalid_config_names_the_option(kwargs, match):
    with pytest.raises(GandiagError, match=match):
        StudyConfig(**kwargs)


def test_config_roundtrip_and_unknown_keys():
    cfg = StudyConfig(trials=12, exposures_ms=(100, 200))
    assert StudyConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(GandiagError, match="unknown keys"):
        StudyConfig.from_dict({**cfg.to_dict(), "trails": 3})


def test_protocol_options():
    d = build_design(StudyConfig(trials=8, untimed=True, participants=2, practice=2, attention=2))
    assert all(t["exposure_ms"] is None for p in d["participants"] for t in p["trials"])
    assert [p["keys"] for p in d["participants"]] == [{"left": "real", "right": "fake"},
                                                      {"left": "fake", "right": "real"}]
    same = build_design(StudyConfig(trials=12, exposures_ms=(250, 500), participants=2, counterbalance_keys=False))
    assert all(p["keys"] == {"left": "real", "right": "fake"} for p in same["participants"])
    with pytest.raises(GandiagError, match="exclude each other"):
        StudyConfig(trials=8, untimed=True, staircase=True, exposures_ms=(100, 200))
    with pytest.raises(GandiagError, match="--feedback must be practice or all"):
        StudyConfig(feedback="sometimes")
    with pytest.raises(GandiagError, match=r"--trials 7 cannot be split evenly into real/fake x 1 model"):
        StudyConfig(trials=7, untimed=True)
