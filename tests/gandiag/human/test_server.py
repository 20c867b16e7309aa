"""human-serve: SQLite store, API refusals, 50 concurrent participants, SIGKILL + restart, scoring the DB."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from gandiag.cli import main
from gandiag.errors import GandiagError
from gandiag.human.responses import read_responses
from gandiag.human.server import MAX_BODY, StudyServer, make_server
from gandiag.human.store import Refused, Store


def record(t, response=None):
    """A page trial record for design trial ``t`` (what app.js sends)."""
    ex = t["exposure_ms"]
    return {"trial": t["trial"], "phase": t["phase"], "image": t["image"], "attention": t["attention"],
            "exposure_ms": ex, "exposure_frames": 3, "measured_ms": float(ex), "frames": 3,
            "mask_measured_ms": 100.0, "fixation_measured_ms": 100.0, "late_frames": 0, "max_frame_gap_ms": 16.7,
            "timing_ok": True, "frame_ms": 16.7, "response": response or t["truth"], "rt_ms": 420.0,
            "input": "key:f", "staircase_level": None, "page_hidden": False, "answered_at": "2026-01-01T00:00:00Z"}


def request(base, route, body=None, *, raw=None, headers=None, method=None):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(base + route, data=data, method=method or ("POST" if data is not None else "GET"),
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=90) as res:
            payload = res.read()
            status = res.status
    except urllib.error.HTTPError as exc:
        payload, status = exc.read(), exc.code
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, payload.decode()


@pytest.fixture
def serving(small_kit, tmp_path):
    store = Store(tmp_path / "answers.sqlite")
    study = StudyServer(small_kit.out, store, completion_code="DONE42", status_key="k3y")
    server = make_server(study, "127.0.0.1", 0, quiet=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", study, tmp_path / "answers.sqlite"
    server.shutdown()
    server.server_close()


def test_store_idempotent_replay_refused_and_one_person_once(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    a = store.start("study", "kit", "alice", None, ["P01", "P02"])
    assert a["participant"] == "P01" and not a["resumed"]
    rec = {"trial": 1, "response": "real", "timing_ok": True}
    assert store.add_answer("study", "kit", "P01", 1, rec) == "stored"
    assert store.add_answer("study", "kit", "P01", 1, dict(rec)) == "duplicate"
    with pytest.raises(Refused, match="already stored with a different answer") as exc:
        store.add_answer("study", "kit", "P01", 1, {**rec, "response": "fake"})
    assert exc.value.status == 409
    again = store.start("study", "kit", "alice", a["token"], ["P01", "P02"])
    assert again["resumed"] and again["answered"] == [1]
    with pytest.raises(Refused, match="already started this study in another browser"):
        store.start("study", "kit", "alice", None, ["P01", "P02"])
    assert store.start("study", "kit", "bob", None, ["P01", "P02"])["participant"] == "P02"
    with pytest.raises(Refused, match="the study is full") as full:
        store.start("study", "kit", "carol", None, ["P01", "P02"])
    assert full.value.status == 503
    store.finish("study", "P01")
    with pytest.raises(Refused, match="already completed this study"):
        store.start("study", "kit", "alice", a["token"], ["P01", "P02"])
    (tmp_path / "not.sqlite").write_text("hello")
    with pytest.raises(GandiagError, match="is not an SQLite database"):
        Store(tmp_path / "not.sqlite")


def test_only_the_page_is_served_and_it_carries_no_answer_key(serving, small_kit):
    base, study, _ = serving
    status, page = request(base, "")
    assert status == 200 and "connect-src 'self'" in page and 'id="server-config"' in page
    kit = json.loads(page.split('id="kit-data">', 1)[1].split("</script>", 1)[0])
    for rows in kit["participants"].values():
        assert all("truth" not in r for r in rows if r["ph"] == "main" and r["att"] != "probe")
    for path in ("design.json", "answer_key.csv", "images/img-001.png", "sheets.pdf", "../design.json",
                 "status", "status?key=wrong"):
        assert request(base, path)[0] in (403, 404), path
    status, html = request(base, "status?key=k3y")
    assert status == 200 and "started" in html and small_kit.kit_id in html


def test_refusals_name_the_reason(serving, small_kit):
    base, study, _ = serving
    d = small_kit.design
    ok, start = request(base, "api/start", {"kit_id": d["kit_id"], "external_id": "worker-1"})
    assert ok == 200 and start["participant"] == "P01"
    trials = d["participants"][0]["trials"]
    body = {"kit_id": d["kit_id"], "participant": "P01", "token": start["token"], "record": record(trials[0])}
    assert request(base, "api/answer", body) == (200, {"ok": True, "stored": "stored", "trial": 1})
    assert request(base, "api/answer", body)[1]["stored"] == "duplicate"  # idempotent re-send
    cases = [
        (dict(raw=b"{not json"), 400, "malformed JSON"),
        (dict(raw=b"[1, 2]"), 400, "must be a JSON object"),
        (dict(raw=b"x" * (MAX_BODY + 1)), 413, "over the"),
        (dict(body={**body, "kit_id": "0123456789ab"}), 409, "this server runs kit"),
        (dict(body={**body, "token": "forged"}), 403, "no session 'P01' with this token"),
        (dict(body={**body, "record": {**record(trials[0]), "response": "fake" if trials[0]["truth"] == "real"
                                       else "real"}}), 409, "already stored with a different answer"),
        (dict(body={**body, "record": {**record(trials[1]), "image": "img-999"}}), 400, "shows image 'img-999'"),
        (dict(body={**body, "record": {**record(trials[1]), "trial": 99}}), 400, "has no trial 99"),
        (dict(body={**body, "record": {**record(trials[1]), "evil": 1}}), 400, "unknown fields"),
        (dict(body={**body, "record": {**record(trials[1]), "response": "maybe"}}), 400, "response 'maybe'"),
        (dict(body=body, headers={"Content-Type": "text/plain"}), 415, "application/json"),
    ]
    for kwargs, status, reason in cases:
        got, reply = request(base, "api/answer", **kwargs)
        assert got == status and reason in reply["error"], (kwargs.keys(), got, reply)
    assert request(base, "api/start", {"kit_id": "other", "external_id": "x"})[0] == 409
    assert "participant id must be" in request(base, "api/start", {"kit_id": d["kit_id"],
                                                                   "external_id": "<script>"})[1]["error"]
    got, reply = request(base, "api/finish", {"kit_id": d["kit_id"], "participant": "P01", "token": start["token"]})
    assert got == 409 and "answers not stored yet" in reply["error"]
    assert request(base, "api/nope", {})[0] == 404 and request(base, "api/answer")[0] == 405


def _participant(base, d, external, resend=False):
    status, start = request(base, "api/start", {"kit_id": d["kit_id"], "external_id": external})
    assert status == 200, start
    pid, token = start["participant"], start["token"]
    trials = next(p["trials"] for p in d["participants"] if p["id"] == pid)
    for t in trials:
        body = {"kit_id": d["kit_id"], "participant": pid, "token": token, "record": record(t)}
        for _ in range(2 if resend else 1):
            status, reply = request(base, "api/answer", body)
            assert status == 200, reply
    status, reply = request(base, "api/finish", {"kit_id": d["kit_id"], "participant": pid, "token": token})
    assert status == 200 and reply["completion_code"] == "DONE42"
    return pid, len(trials)


def test_fifty_concurrent_participants_every_answer_stored_once(tmp_path, fake_npz, kit_builder):
    kit = kit_builder(tmp_path / "kit50", fake_npz, participants=50)
    store = Store(tmp_path / "db.sqlite")
    server = make_server(StudyServer(kit.out, store, completion_code="DONE42"), "127.0.0.1", 0, quiet=True)
    assert server.server_address[0] == "127.0.0.1"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    t0 = time.perf_counter()
    try:
        with ThreadPoolExecutor(max_workers=50) as pool:
            done = list(pool.map(lambda k: _participant(base, kit.design, f"w{k:02d}", resend=k % 5 == 0),
                                 range(50)))
    finally:
        server.shutdown()
        server.server_close()
    elapsed = time.perf_counter() - t0
    assert sorted(p for p, _ in done) == sorted(p["id"] for p in kit.design["participants"])
    status = store.status(kit.design["study_id"])[0]
    assert status == {"kit_id": kit.kit_id, "started": 50, "finished": 50, "answers": sum(n for _, n in done)}
    assert elapsed < 150, elapsed  # ~10 s on a loaded 2-core machine; the bound only catches a hang
    sessions = read_responses([tmp_path / "db.sqlite"], kit.design)
    assert len(sessions) == 50 and all(s.complete and all(a.correct for a in s.answers) for s in sessions)


def _spawn(kit, db, port=0):
    proc = subprocess.Popen([sys.executable, "-m", "gandiag", "human-serve", str(kit), "--db", str(db), "--port",
                             str(port), "--quiet", "--completion-code", "DONE42"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.startswith("serving kit"), (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc, int(line.split("http://127.0.0.1:")[1].split("/")[0])


def test_sigkill_mid_study_then_restart_resumes_and_loses_nothing(small_kit, tmp_path, capsys):
    d = small_kit.design
    db = tmp_path / "kill.sqlite"
    proc, port = _spawn(small_kit.out, db)
    base = f"http://127.0.0.1:{port}/"
    try:
        _, start = request(base, "api/start", {"kit_id": d["kit_id"], "external_id": "PROLIFIC_abc"})
        pid, token = start["participant"], start["token"]
        trials = d["participants"][0]["trials"]
        for t in trials[:5]:
            assert request(base, "api/answer", {"kit_id": d["kit_id"], "participant": pid, "token": token,
                                                "record": record(t)})[0] == 200
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    proc, port = _spawn(small_kit.out, db)
    base = f"http://127.0.0.1:{port}/"
    try:
        _, again = request(base, "api/start", {"kit_id": d["kit_id"], "external_id": "PROLIFIC_abc",
                                               "token": token})
        assert again["resumed"] and again["participant"] == pid and again["answered"] == [1, 2, 3, 4, 5]
        # The page re-sends what it had not heard back about (trial 5), then the rest.
        for t in trials[4:]:
            assert request(base, "api/answer", {"kit_id": d["kit_id"], "participant": pid, "token": token,
                                                "record": record(t)})[0] == 200
        assert request(base, "api/finish", {"kit_id": d["kit_id"], "participant": pid, "token": token})[0] == 200
    finally:
        proc.send_signal(signal.SIGTERM if os.name != "nt" else signal.SIGKILL)
        proc.wait(timeout=10)
    assert main(["human-score", str(db), "--design", str(small_kit.out), "--bootstrap", "0"]) == 0
    assert "1 of 1 participants included, 8 scored trials" in capsys.readouterr().out


def test_score_database_errors_name_the_kit(small_kit, tmp_path, fake_npz, kit_builder):
    other = kit_builder(tmp_path / "other", fake_npz, seed=9)
    store = Store(tmp_path / "o.sqlite")
    sid = other.design["study_id"]
    start = store.start(sid, other.kit_id, "x", None, ["P01"])
    store.add_answer(sid, other.kit_id, start["participant"], 1, record(other.design["participants"][0]["trials"][0]))
    with pytest.raises(GandiagError, match=f"no answers for study '{small_kit.design['study_id']}' .*holds studies "
                                           f"\\['{sid}'"):
        read_responses([tmp_path / "o.sqlite"], small_kit.design)


def test_human_serve_cli_errors_are_one_line(small_kit, tmp_path, capsys):
    from gandiag.cli import build_parser

    args = build_parser().parse_args(["human-serve", str(small_kit.out), "--db", "x.sqlite"])
    assert args.host == "127.0.0.1"  # loopback unless asked otherwise
    cases = [
        (["human-serve", str(tmp_path / "nokit"), "--db", str(tmp_path / "a.sqlite")], "file not found"),
        (["human-serve", str(small_kit.out), "--db", str(tmp_path)], "is not an SQLite database"),
        (["human-serve", str(small_kit.out), "--db", str(tmp_path / "b.sqlite"), "--redirect-url", "ftp://x"],
         "must start with https://"),
        (["human-serve", str(small_kit.out), "--db", str(tmp_path / "c.sqlite"), "--port", "70000"], "--port must be"),
        (["human-serve", str(small_kit.out), "--db", str(tmp_path / "d.sqlite"), "--id-param", "a-b"], "--id-param"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and message in err, err
    busy = make_server(StudyServer(small_kit.out, Store(tmp_path / "e.sqlite")), "127.0.0.1", 0, quiet=True)
    try:
        port = busy.server_address[1]
        assert main(["human-serve", str(small_kit.out), "--db", str(tmp_path / "f.sqlite"), "--port",
                     str(port)]) == 2
        assert "choose another --port" in capsys.readouterr().err
    finally:
        busy.server_close()
