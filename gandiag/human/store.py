"""The answer database of ``gandiag human-serve``: SQLite (stdlib ``sqlite3``), one row per trial answer.

Tables (created on first use; ``meta`` records the schema version)::

    sessions(study_id, kit_id, participant, external_id, token, started_at, finished_at, user_agent, info)
        PRIMARY KEY (study_id, participant)   -- one trial order (P01, ...) per person
        UNIQUE (study_id, external_id)        -- one person cannot take the same study twice
    answers(study_id, kit_id, participant, trial, payload, received_at)
        PRIMARY KEY (study_id, participant, trial)   -- a re-sent answer is recognised, never stored twice

Rows are keyed by the *study* id, not the kit id: a kit grown with more
participants (same study id, P01..PN unchanged) keeps its sessions and answers.

``payload`` is the page's trial record as canonical JSON (sorted keys). The
database runs in WAL mode with ``synchronous=FULL``: every acknowledged answer
is on disk before the page hears "stored", so killing the server loses nothing
it has confirmed (the page re-sends whatever was not confirmed).

Every method opens its own connection, so the store can be shared by the
threads of a ``ThreadingHTTPServer``; writes that read-then-write (slot
assignment) run in ``BEGIN IMMEDIATE`` transactions.
"""
from __future__ import annotations

import datetime
import json
import secrets
import sqlite3
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from ..errors import GandiagError

SCHEMA_VERSION = 1
SQLITE_MAGIC = b"SQLite format 3\x00"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    study_id TEXT NOT NULL, kit_id TEXT NOT NULL, participant TEXT NOT NULL, external_id TEXT NOT NULL,
    token TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT, user_agent TEXT, info TEXT,
    PRIMARY KEY (study_id, participant), UNIQUE (study_id, external_id));
CREATE TABLE IF NOT EXISTS answers (
    study_id TEXT NOT NULL, kit_id TEXT NOT NULL, participant TEXT NOT NULL, trial INTEGER NOT NULL,
    payload TEXT NOT NULL, received_at TEXT NOT NULL, PRIMARY KEY (study_id, participant, trial));
"""


class Refused(Exception):
    """A request the store will not carry out; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def canonical(payload: Dict) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)


def is_database(path) -> bool:
    """True when ``path`` starts with the SQLite header."""
    try:
        with open(path, "rb") as f:
            return f.read(16) == SQLITE_MAGIC
    except OSError:
        return False


class Store:
    """SQLite answer store (see module doc)."""

    def __init__(self, path, *, create: bool = True):
        self.path = Path(path)
        self._read_only = not create
        if not create:
            if not self.path.is_file():
                raise GandiagError(f"{self.path}: database not found")
        elif self.path.is_dir() or (self.path.exists() and not is_database(self.path) and self.path.stat().st_size > 0):
            raise GandiagError(f"--db {self.path} exists and is not an SQLite database; choose another --db")
        if create:
            try:
                self._create()
            except sqlite3.Error as exc:
                raise GandiagError(f"--db {self.path}: cannot open or create the database ({exc}); check the "
                                   "path and its permissions") from None

    def _create(self) -> None:
        with closing(self._connect()) as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)
            row = con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None:
                con.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) != SCHEMA_VERSION:
                raise GandiagError(f"--db {self.path}: schema version {row[0]} is not supported "
                                   f"(this gandiag writes {SCHEMA_VERSION})")
            con.commit()

    def _connect(self) -> sqlite3.Connection:
        if self._read_only:
            con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        else:
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            con.execute("PRAGMA synchronous=FULL")
        con.execute("PRAGMA busy_timeout=30000")
        return con

    @contextmanager
    def _write(self):
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            yield con
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    # ---------- participants ----------
    def start(self, study_id: str, kit_id: str, external_id: str, token: Optional[str], slots: Sequence[str],
              user_agent: str = "", info: Optional[Dict] = None) -> Dict:
        """Begin or resume the session of ``external_id``.

        A new id gets the first trial order (``slots``, e.g. P01..P10) nobody has
        started yet. A known id resumes only with the token its first start got
        (the page keeps it); a finished id, or a known id without its token (a
        second browser, a second person), is refused.

        Returns:
            ``{"participant", "token", "answered": [trial numbers], "resumed"}``.
        """
        with self._write() as con:
            row = con.execute("SELECT participant, token, finished_at FROM sessions "
                              "WHERE study_id=? AND external_id=?", (study_id, external_id)).fetchone()
            if row is not None:
                participant, known_token, finished = row
                if finished is not None:
                    raise Refused(409, f"participant id {external_id!r} has already completed this study; "
                                       "each person may take part only once")
                if not token or not secrets.compare_digest(str(token), known_token):
                    raise Refused(409, f"participant id {external_id!r} has already started this study in "
                                       "another browser; continue there (or ask the organiser)")
                answered = [r[0] for r in con.execute(
                    "SELECT trial FROM answers WHERE study_id=? AND participant=? ORDER BY trial",
                    (study_id, participant))]
                return {"participant": participant, "token": known_token, "answered": answered, "resumed": True}
            used = {r[0] for r in con.execute("SELECT participant FROM sessions WHERE study_id=?", (study_id,))}
            free = [s for s in slots if s not in used]
            if not free:
                raise Refused(503, f"the study is full: all {len(slots)} trial orders of kit {kit_id} are taken; "
                                   "the organiser can grow it with more participants")
            participant, new_token = free[0], secrets.token_urlsafe(18)
            con.execute("INSERT INTO sessions (study_id, kit_id, participant, external_id, token, started_at, "
                        "user_agent, info) VALUES (?,?,?,?,?,?,?,?)",
                        (study_id, kit_id, participant, external_id, new_token, _now(), user_agent[:400],
                         canonical(info or {})))
            return {"participant": participant, "token": new_token, "answered": [], "resumed": False}

    def check_token(self, study_id: str, participant: str, token: str) -> Dict:
        with closing(self._connect()) as con:
            row = con.execute("SELECT token, finished_at FROM sessions WHERE study_id=? AND participant=?",
                              (study_id, participant)).fetchone()
        if row is None or not token or not secrets.compare_digest(row[0], str(token)):
            raise Refused(403, f"no session {participant!r} with this token in study {study_id}; start the study "
                               "from its first page")
        return {"finished": row[1] is not None}

    def add_answer(self, study_id: str, kit_id: str, participant: str, trial: int, payload: Dict) -> str:
        """Store one answer; ``"stored"``, or ``"duplicate"`` for an identical re-send.

        Raises:
            Refused: 409 when the trial was already stored with a different answer (a replay).
        """
        text = canonical(payload)
        with self._write() as con:
            row = con.execute("SELECT payload FROM answers WHERE study_id=? AND participant=? AND trial=?",
                              (study_id, participant, trial)).fetchone()
            if row is not None:
                if row[0] == text:
                    return "duplicate"
                old = json.loads(row[0])
                if old.get("response") == payload.get("response") and old.get("timing_ok") is False:
                    # The same answer with the page's final timing after a provisional record: keep the final one.
                    con.execute("UPDATE answers SET payload=? WHERE study_id=? AND participant=? AND trial=?",
                                (text, study_id, participant, trial))
                    return "stored"
                raise Refused(409, f"trial {trial} of {participant} is already stored with a different answer; "
                                   "a stored answer cannot be replaced")
            con.execute("INSERT INTO answers VALUES (?,?,?,?,?,?)",
                        (study_id, kit_id, participant, trial, text, _now()))
        return "stored"

    def answered(self, study_id: str, participant: str) -> List[int]:
        with closing(self._connect()) as con:
            return [r[0] for r in con.execute("SELECT trial FROM answers WHERE study_id=? AND participant=? "
                                              "ORDER BY trial", (study_id, participant))]

    def finish(self, study_id: str, participant: str, info: Optional[Dict] = None) -> None:
        """Mark the session finished; ``info`` (e.g. optional demographics) is merged into its info."""
        with self._write() as con:
            if info:
                row = con.execute("SELECT info FROM sessions WHERE study_id=? AND participant=?",
                                  (study_id, participant)).fetchone()
                merged = {**json.loads((row[0] if row else None) or "{}"), **info}
                con.execute("UPDATE sessions SET info=? WHERE study_id=? AND participant=?",
                            (canonical(merged), study_id, participant))
            con.execute("UPDATE sessions SET finished_at=? WHERE study_id=? AND participant=? AND finished_at IS NULL",
                        (_now(), study_id, participant))

    # ---------- reading ----------
    def status(self, study_id: str) -> List[Dict]:
        """Per kit of the study: participants started / finished and answers stored (no answers themselves)."""
        with closing(self._connect()) as con:
            rows = con.execute(
                "SELECT kit_id, COUNT(*), COUNT(finished_at) FROM sessions WHERE study_id=? GROUP BY kit_id "
                "ORDER BY MIN(started_at)", (study_id,)).fetchall()
            answers = dict(con.execute("SELECT kit_id, COUNT(*) FROM answers WHERE study_id=? GROUP BY kit_id",
                                       (study_id,)).fetchall())
        return [{"kit_id": kit, "started": started, "finished": finished, "answers": answers.get(kit, 0)}
                for kit, started, finished in rows]

    def studies(self) -> List[str]:
        with closing(self._connect()) as con:
            rows = con.execute("SELECT study_id FROM sessions UNION SELECT study_id FROM answers").fetchall()
        return sorted(r[0] for r in rows)

    def sessions(self, study_id: str) -> List[Dict]:
        """Every session of ``study_id`` with its answers (``payload`` dicts), in participant order."""
        with closing(self._connect()) as con:
            heads = con.execute("SELECT participant, started_at, finished_at, info FROM sessions WHERE study_id=? "
                                "ORDER BY participant", (study_id,)).fetchall()
            out = []
            for participant, started, finished, info in heads:
                rows = con.execute("SELECT trial, payload FROM answers WHERE study_id=? AND participant=? "
                                   "ORDER BY trial", (study_id, participant)).fetchall()
                out.append({"participant": participant, "started_at": started, "finished_at": finished,
                            "info": json.loads(info or "{}"), "answers": [(t, json.loads(p)) for t, p in rows]})
        return out
