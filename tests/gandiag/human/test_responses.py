"""Reading page JSON/CSV exports and paper CSVs; every mismatch names file and line."""
import json

import pytest

from gandiag.errors import GandiagError
from gandiag.human.responses import read_responses


def _truth(t):
    return t["truth"]


def test_page_json_roundtrip(small_kit, page_json_writer, tmp_path):
    d = small_kit.design
    path = page_json_writer(d, "P02", _truth, tmp_path / "p2.json")
    (s,) = read_responses([path], d)
    assert s.participant == "P02" and s.mode == "page" and s.complete
    assert len(s.answers) == len(d["participants"][1]["trials"]) == 12
    assert all(a.correct for a in s.answers)
    # "{", 13 header lines, '"trials": [', then one trial per line from line 16.
    assert [a.line for a in s.answers[:5]] == [16, 17, 18, 19, 20]


def test_page_csv_and_paper_csv(small_kit, tmp_path):
    d = small_kit.design
    trials = d["participants"][0]["trials"]
    cols = ("kit_id,participant,trial,phase,image,attention,exposure_ms,measured_ms,frames,late_frames,timing_ok,"
            "frame_ms,response,rt_ms,input,staircase_level,page_hidden,answered_at")
    lines = [cols] + [f"{d['kit_id']},P01,{t['trial']},{t['phase']},{t['image']},{t['attention'] or ''},"
                      f"{t['exposure_ms']},{t['exposure_ms']},3,0,true,16.7,{t['truth']},400,key:f,,false,x"
                      for t in trials]
    (tmp_path / "p1.csv").write_text("\n".join(lines) + "\n")
    items = d["paper"]["items"]
    paper = ["participant,item,response,notes"] + [f"ann,{it['item']},{it['truth'][0].upper()}," for it in items]
    paper[3] = "ann,3,,left blank"
    (tmp_path / "paper.csv").write_text("\n".join(paper) + "\n")
    page, sheet = read_responses([tmp_path / "p1.csv", tmp_path / "paper.csv"], d)
    assert len(page.answers) == 12 and all(a.correct for a in page.answers) and page.frame_ms == 16.7
    assert sheet.mode == "paper" and sheet.skipped == 1 and len(sheet.answers) == len(items) - 1
    assert all(a.exposure_ms is None and a.correct for a in sheet.answers)


def _lines(path):
    return path.read_text().splitlines()


def test_mismatched_image_names_file_and_line(small_kit, page_json_writer, tmp_path):
    d = small_kit.design
    path = page_json_writer(d, "P01", _truth, tmp_path / "r.json")
    lines = _lines(path)
    row = json.loads(lines[19].rstrip(","))
    other = next(e["id"] for e in d["images"] if e["id"] != row["image"])
    lines[19] = lines[19].replace(row["image"], other)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(GandiagError, match=rf"r\.json:20: trial {row['trial']} shows image '{other}' but the design has"):
        read_responses([path], d)


@pytest.mark.parametrize("edit, match", [
    (lambda L: [L.__setitem__(k, L[k].replace('_id": "', '_id": "zz')) for k in (3, 4)], r"r\.json:1: responses belong to kit 'zz"),
    (lambda L: L.__setitem__(6, L[6].replace('"P01"', '"P99"')), r"participant 'P99' is not in the design"),
    (lambda L: L.__setitem__(17, L[17].replace('"response": "real"', '"response": "maybe"').replace('"response": "fake"', '"response": "maybe"')), r"r\.json:18: response 'maybe' is not one of"),
    (lambda L: L.__setitem__(17, L[17][:-12]), r"r\.json:18: invalid JSON"),
    (lambda L: L.__setitem__(18, L[17]), r"r\.json:19: participant P01 answered trial \d+ twice \(first on line 18\)"),
])
def test_malformed_page_json(small_kit, page_json_writer, tmp_path, edit, match):
    path = page_json_writer(small_kit.design, "P01", _truth, tmp_path / "r.json")
    lines = _lines(path)
    edit(lines)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(GandiagError, match=match):
        read_responses([path], small_kit.design)


def test_wrong_exposure_is_rejected(small_kit, page_json_writer, tmp_path):
    path = page_json_writer(small_kit.design, "P01", _truth, tmp_path / "r.json")
    lines = _lines(path)
    lines[17] = lines[17].replace('"exposure_ms": 50,', '"exposure_ms": 77,').replace('"exposure_ms": 100,', '"exposure_ms": 77,')
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(GandiagError, match=r"r\.json:18: trial \d+ has exposure_ms 77.0 but the design shows it for"):
        read_responses([path], small_kit.design)


@pytest.mark.parametrize("text, match", [
    ("participant,item,answer\nann,1,R\n", r"paper\.csv:1: paper CSV header: missing \['response'\], unknown \['answer'\]"),
    ("participant,item,response\nann,1,R\nann,999,F\n", r"paper\.csv:3: item 999 is not on the sheets"),
    ("participant,item,response\nann,1,R\nann,1,F\n", r"paper\.csv:3: participant ann answered item 1 twice"),
    ("participant,item,response\nann,x,R\n", r"paper\.csv:2: item 'x' is not a number"),
    ("participant,item,response\nann,1,R,extra\n", r"paper\.csv:2: 4 fields but the header has 3"),
    ("participant,item,response\nann,2,yes\n", r"paper\.csv:2: response 'yes'"),
    ("who,what\n1,2\n", r"paper\.csv:1: CSV header has neither 'trial'"),
])
def test_malformed_paper_csv(small_kit, tmp_path, text, match):
    (tmp_path / "paper.csv").write_text(text)
    with pytest.raises(GandiagError, match=match):
        read_responses([tmp_path / "paper.csv"], small_kit.design)


def test_same_participant_twice_and_missing_file(small_kit, page_json_writer, tmp_path):
    a = page_json_writer(small_kit.design, "P01", _truth, tmp_path / "a.json")
    b = page_json_writer(small_kit.design, "P01", _truth, tmp_path / "b.json")
    with pytest.raises(GandiagError, match=r"b\.json: participant P01 also appears in .*a\.json"):
        read_responses([a, b], small_kit.design)
    with pytest.raises(GandiagError, match="response file not found"):
        read_responses([tmp_path / "none.json"], small_kit.design)
    with pytest.raises(GandiagError, match="no response files"):
        read_responses([], small_kit.design)


def test_incomplete_session_is_accepted_and_flagged(small_kit, page_json_writer, tmp_path):
    path = page_json_writer(small_kit.design, "P03", _truth, tmp_path / "r.json", drop={11, 12})
    (s,) = read_responses([path], small_kit.design)
    assert len(s.answers) == 10 and not s.complete


def test_staircase_exposure_must_be_on_the_ladder(tmp_path, fake_npz, kit_builder, page_json_writer):
    kit = kit_builder(tmp_path / "st", fake_npz, trials=4, exposures_ms=(100, 300), staircase=True, practice=0,
                      attention=0, participants=1)
    path = page_json_writer(kit.design, "P01", lambda t: t["truth"], tmp_path / "r.json")
    assert len(read_responses([path], kit.design)[0].answers) == 4
    lines = _lines(path)
    lines[16] = lines[16].replace('"exposure_ms": 100,', '"exposure_ms": 200,')
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(GandiagError, match=r"r\.json:17: trial 2 is a staircase trial; its exposure_ms 200.0 is not on"):
        read_responses([path], kit.design)
