"""human-serve --db URL: the same store rules in a REAL PostgreSQL server (a throw-away cluster) and sqlite:///.

The PostgreSQL cluster is made with the Debian ``postgresql`` binaries (initdb / pg_ctl) in a temporary
folder, listening on 127.0.0.1 only on a free port, and stopped at the end. Missing binaries skip the
PostgreSQL tests locally but fail them under CI (env CI set), which installs the package (.ci/run).
"""
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from gandiag.cli import main
from gandiag.errors import GandiagError
from gandiag.human.responses import read_responses
from gandiag.human.server import StudyServer, make_server
from gandiag.human.store import Refused, Store, URLStore, open_store

from .test_server import _participant, record, request


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres():
    """URL of a fresh PostgreSQL database ``study`` (user ``lab``, trust auth on 127.0.0.1)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        message = "PostgreSQL binaries not found (apt-get install postgresql); the --db postgresql:// test cannot run"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    bindir = os.path.dirname(found[-1])
    root = tempfile.mkdtemp(prefix="gandiag-pg-")
    data, port = os.path.join(root, "data"), _free_port()
    prefix = []
    if os.geteuid() == 0:  # initdb refuses root: run the server as nobody, in a folder nobody owns
        os.chmod(root, 0o755)
        shutil.chown(root, "nobody", "nogroup")
        prefix = ["runuser", "-u", "nobody", "--"]

    def pg(*cmd):
        subprocess.run(prefix + list(cmd), check=True, capture_output=True, timeout=60, cwd=root)

    pg(f"{bindir}/initdb", "-D", data, "-U", "lab", "--auth=trust", "-E", "UTF8", "--no-sync")
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} -c fsync=off"
    pg(f"{bindir}/pg_ctl", "-D", data, "-o", options, "-l", os.path.join(root, "log"), "-w", "-t", "30", "start")
    try:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={port} user=lab dbname=postgres", autocommit=True) as con:
            con.execute("CREATE DATABASE study")
        yield f"postgresql://lab:s3cret@127.0.0.1:{port}/study"
    finally:
        pg(f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["postgresql", "sqlite-url"])
def store_spec(request, tmp_path):
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres")
        return url, "rules"  # the module shares one database: each test its own study id
    return f"sqlite:///{tmp_path / 'u.sqlite'}", "study"


def test_same_rules_as_the_sqlite_store(store_spec):
    spec, study = store_spec
    store = open_store(spec)
    assert isinstance(store, URLStore if spec.startswith("postgresql") else Store)
    slots = ["P01", "P02"]
    a = store.start(study, "kit", "alice", None, slots)
    assert a["participant"] == "P01" and not a["resumed"]
    rec = {"trial": 1, "response": "real", "timing_ok": True}
    assert store.add_answer(study, "kit", "P01", 1, rec) == "stored"
    assert store.add_answer(study, "kit", "P01", 1, dict(rec)) == "duplicate"
    with pytest.raises(Refused, match="already stored with a different answer") as exc:
        store.add_answer(study, "kit", "P01", 1, {**rec, "response": "fake"})
    assert exc.value.status == 409
    # a provisional record (timing_ok false) is replaced by the final one with the same answer
    assert store.add_answer(study, "kit", "P01", 2, {"trial": 2, "response": "fake", "timing_ok": False}) == "stored"
    assert store.add_answer(study, "kit", "P01", 2, {"trial": 2, "response": "fake", "timing_ok": True}) == "stored"
    again = store.start(study, "kit", "alice", a["token"], slots)
    assert again["resumed"] and again["answered"] == [1, 2]
    with pytest.raises(Refused, match="already started this study in another browser"):
        store.start(study, "kit", "alice", None, slots)
    assert store.start(study, "kit2", "bob", None, slots)["participant"] == "P02"
    with pytest.raises(Refused, match="the study is full") as full:
        store.start(study, "kit", "carol", None, slots)
    assert full.value.status == 503
    store.finish(study, "P01", {"demographics": {"age": "30"}})
    with pytest.raises(Refused, match="already completed this study"):
        store.start(study, "kit", "alice", a["token"], slots)
    with pytest.raises(Refused, match="with this token"):
        store.check_token(study, "P02", "forged")
    assert store.status(study) == [{"kit_id": "kit", "started": 1, "finished": 1, "answers": 2},
                                   {"kit_id": "kit2", "started": 1, "finished": 0, "answers": 0}]
    heads = store.sessions(study)
    assert [h["participant"] for h in heads] == ["P01", "P02"] and heads[0]["info"] == {"demographics": {"age": "30"}}
    assert heads[0]["answers"] == [(1, rec), (2, {"trial": 2, "response": "fake", "timing_ok": True})]
    assert study in store.studies()
    reopened = open_store(spec, create=False)  # read-only reopen sees the same rows
    assert reopened.answered(study, "P01") == [1, 2]


def test_postgres_racing_writers_one_row_each(postgres):
    """Concurrent first starts take distinct trial orders; concurrent re-sends store one row (key races retried)."""
    store = open_store(postgres)
    slots = [f"P{i:02d}" for i in range(1, 25)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        got = list(pool.map(lambda k: store.start("race", "kit", f"w{k}", None, slots)["participant"], range(24)))
        assert sorted(got) == slots
        sent = list(pool.map(lambda _: store.add_answer("race", "kit", "P01", 1, {"trial": 1, "response": "real"}),
                             range(16)))
    assert sent.count("stored") == 1 and sent.count("duplicate") == 15
    assert store.status("race")[0]["answers"] == 1


def test_serve_and_score_through_postgres(postgres, small_kit, capsys):
    d = small_kit.design
    store = open_store(postgres)
    assert "s3cret" not in store.label and "***" in store.label
    study = StudyServer(small_kit.out, store, completion_code="DONE42", status_key="k")
    server = make_server(study, "127.0.0.1", 0, quiet=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        done = [_participant(base, d, f"pg-{k}", resend=k == 0) for k in range(2)]
        _, start = request(base, "api/start", {"kit_id": d["kit_id"], "external_id": "pg-0"})
        assert "already completed" in start["error"]
        trials = d["participants"][0]["trials"]
        got, reply = request(base, "api/answer", {"kit_id": d["kit_id"], "participant": "P01", "token": "x",
                                                  "record": record(trials[0])})
        assert got == 403
    finally:
        server.shutdown()
        server.server_close()
    sessions = read_responses([postgres], d)
    assert sorted(s.participant for s in sessions) == sorted(p for p, _ in done)
    assert all(s.complete and len(s.answers) == n for s, (_, n) in zip(sorted(sessions, key=lambda s: s.participant),
                                                                         sorted(done)))
    assert main(["human-score", postgres, "--design", str(small_kit.out), "--bootstrap", "0"]) == 0
    out = capsys.readouterr().out
    assert "2 of 2 participants included" in out and "s3cret" not in out


def test_url_errors_are_one_line(tmp_path, capsys):
    cases = [
        ("sqlite:///:memory:", "in-memory database would lose every answer"),
        ("sqlite://relative.db", "write SQLite URLs as sqlite:///"),
        ("nosuchdb://u@h/x", "no driver for nosuchdb"),
        (f"postgresql://lab:pw@127.0.0.1:{_free_port()}/study", "cannot open the database"),
    ]
    for spec, reason in cases:
        with pytest.raises(GandiagError, match=reason) as exc:
            open_store(spec)
        assert "pw@" not in str(exc.value)
    assert main(["human-serve", str(tmp_path), "--db", "nosuchdb://h/x"]) == 2
    assert "no driver for nosuchdb" in capsys.readouterr().err
