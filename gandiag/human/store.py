"""The answer database of ``gandiag human-serve``: one row per trial answer, in SQLite or a SQL server.

Two backends share one implementation of the rules (:class:`_SQLStore`; every
statement is plain SQL with named parameters that SQLite and PostgreSQL both run):

* :class:`Store` - an SQLite file (stdlib ``sqlite3``), the default (``--db answers.sqlite``
  or ``--db sqlite:///answers.sqlite``);
* :class:`URLStore` - any database SQLAlchemy reaches by URL, e.g.
  ``--db postgresql://user@127.0.0.1:5432/study`` (``pip install 'gandiag[server]'``: SQLAlchemy +
  psycopg). :func:`open_store` picks the backend from the argument.

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

Every method opens its own connection (SQLite) or takes one from the engine's
pool (URL), so the store can be shared by the threads of a ``ThreadingHTTPServer``.
Writes that read-then-write (slot assignment, an answer) run in one transaction:
``BEGIN IMMEDIATE`` on SQLite; on a server database the same one-writer-at-a-time
rule is the row lock of ``meta``'s schema row, taken first
in every write transaction; should two writers still meet on a primary / unique
key, the loser's transaction is rolled back and re-run, so it sees the winner's row.
"""
from __future__ import annotations

import datetime
import json
import re
import secrets
import sqlite3
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from ..errors import GandiagError

SCHEMA_VERSION = 1
SQLITE_MAGIC = b"SQLite format 3\x00"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS sessions (
    study_id TEXT NOT NULL, kit_id TEXT NOT NULL, participant TEXT NOT NULL, external_id TEXT NOT NULL,
    token TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT, user_agent TEXT, info TEXT,
    PRIMARY KEY (study_id, participant), UNIQUE (study_id, external_id))""",
    """CREATE TABLE IF NOT EXISTS answers (
    study_id TEXT NOT NULL, kit_id TEXT NOT NULL, participant TEXT NOT NULL, trial INTEGER NOT NULL,
    payload TEXT NOT NULL, received_at TEXT NOT NULL, PRIMARY KEY (study_id, participant, trial))""",
)
_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_RETRIES = 8  # re-runs of a write transaction that lost a key race (server databases)


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


def is_url(spec) -> bool:
    """True when ``spec`` is a database URL (``scheme://...``) rather than a file path."""
    return isinstance(spec, str) and bool(_URL_RE.match(spec))


def open_store(spec, *, create: bool = True, flag: str = "--db"):
    """The store for ``spec``: an SQLite path, ``sqlite:///path`` or a SQLAlchemy URL (e.g. ``postgresql://``).

    ``sqlite:///path`` opens the same file as ``path`` with the SQLite backend (WAL,
    ``synchronous=FULL``), so a study can switch between the two spellings.
    """
    if is_url(spec):
        if spec.startswith("sqlite:///"):
            path = spec[len("sqlite:///"):]
            if not path or path.startswith(":memory:"):
                raise GandiagError(f"{flag} {spec}: an in-memory database would lose every answer; name a file "
                                   "(sqlite:///answers.sqlite)")
            return Store(path, create=create, flag=flag)
        if spec.startswith("sqlite:"):
            raise GandiagError(f"{flag} {spec}: write SQLite URLs as sqlite:///relative/path or "
                               "sqlite:////absolute/path")
        return URLStore(spec, create=create, flag=flag)
    return Store(spec, create=create, flag=flag)


class _SQLStore:
    """The store's rules (see module doc), over ``_transact`` / ``_read`` of a backend.

    Backends provide ``_connection(write, serialise)`` (a context manager giving a
    connection in one transaction, committed on exit; ``serialise``: one writer at a time), ``_rows(con, sql, params)`` (all result
    rows as tuples; ``sql`` uses ``:name`` parameters), ``_conflict`` (the
    exception types of a lost key race) and ``busy_errors`` (exceptions the server
    answers with 503 "retry").
    """

    busy_errors: tuple = ()
    _conflict: tuple = ()
    label = ""

    def _transact(self, fn, *, serialise: bool = True):
        for attempt in range(_RETRIES):
            try:
                with self._connection(write=True, serialise=serialise) as con:
                    return fn(lambda sql, **params: self._rows(con, sql, params))
            except self._conflict:
                if attempt == _RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _read(self, fn):
        with self._connection(write=False) as con:
            return fn(lambda sql, **params: self._rows(con, sql, params))

    def _create_schema(self, q) -> None:
        for statement in _SCHEMA:
            q(statement)
        row = q("SELECT value FROM meta WHERE key='schema_version'")
        if not row:
            q("INSERT INTO meta (key, value) VALUES ('schema_version', :v)", v=str(SCHEMA_VERSION))
        elif int(row[0][0]) != SCHEMA_VERSION:
            raise GandiagError(f"--db {self.label}: schema version {row[0][0]} is not supported "
                               f"(this gandiag writes {SCHEMA_VERSION})")

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
        def run(q):
            row = q("SELECT participant, token, finished_at FROM sessions WHERE study_id=:s AND external_id=:e",
                    s=study_id, e=external_id)
            if row:
                participant, known_token, finished = row[0]
                if finished is not None:
                    raise Refused(409, f"participant id {external_id!r} has already completed this study; "
                                       "each person may take part only once")
                if not token or not secrets.compare_digest(str(token), known_token):
                    raise Refused(409, f"participant id {external_id!r} has already started this study in "
                                       "another browser; continue there (or ask the organiser)")
                answered = [r[0] for r in q("SELECT trial FROM answers WHERE study_id=:s AND participant=:p "
                                            "ORDER BY trial", s=study_id, p=participant)]
                return {"participant": participant, "token": known_token, "answered": answered, "resumed": True}
            used = {r[0] for r in q("SELECT participant FROM sessions WHERE study_id=:s", s=study_id)}
            free = [s for s in slots if s not in used]
            if not free:
                raise Refused(503, f"the study is full: all {len(slots)} trial orders of kit {kit_id} are taken; "
                                   "the organiser can grow it with more participants")
            participant, new_token = free[0], secrets.token_urlsafe(18)
            q("INSERT INTO sessions (study_id, kit_id, participant, external_id, token, started_at, user_agent, "
              "info) VALUES (:s, :k, :p, :e, :t, :at, :ua, :info)", s=study_id, k=kit_id, p=participant,
              e=external_id, t=new_token, at=_now(), ua=user_agent[:400], info=canonical(info or {}))
            return {"participant": participant, "token": new_token, "answered": [], "resumed": False}

        return self._transact(run)

    def check_token(self, study_id: str, participant: str, token: str) -> Dict:
        row = self._read(lambda q: q("SELECT token, finished_at FROM sessions WHERE study_id=:s AND "
                                     "participant=:p", s=study_id, p=participant))
        if not row or not token or not secrets.compare_digest(row[0][0], str(token)):
            raise Refused(403, f"no session {participant!r} with this token in study {study_id}; start the study "
                               "from its first page")
        return {"finished": row[0][1] is not None}

    def add_answer(self, study_id: str, kit_id: str, participant: str, trial: int, payload: Dict) -> str:
        """Store one answer; ``"stored"``, or ``"duplicate"`` for an identical re-send.

        Raises:
            Refused: 409 when the trial was already stored with a different answer (a replay).
        """
        text = canonical(payload)
        key = dict(s=study_id, p=participant, n=int(trial))

        def run(q):
            row = q("SELECT payload FROM answers WHERE study_id=:s AND participant=:p AND trial=:n", **key)
            if row:
                if row[0][0] == text:
                    return "duplicate"
                old = json.loads(row[0][0])
                if old.get("response") == payload.get("response") and old.get("timing_ok") is False:
                    # The same answer with the page's final timing after a provisional record: keep the final one.
                    q("UPDATE answers SET payload=:x WHERE study_id=:s AND participant=:p AND trial=:n", x=text, **key)
                    return "stored"
                raise Refused(409, f"trial {trial} of {participant} is already stored with a different answer; "
                                   "a stored answer cannot be replaced")
            q("INSERT INTO answers (study_id, kit_id, participant, trial, payload, received_at) "
              "VALUES (:s, :k, :p, :n, :x, :at)", k=kit_id, x=text, at=_now(), **key)
            return "stored"

        return self._transact(run)

    def answered(self, study_id: str, participant: str) -> List[int]:
        rows = self._read(lambda q: q("SELECT trial FROM answers WHERE study_id=:s AND participant=:p "
                                      "ORDER BY trial", s=study_id, p=participant))
        return [r[0] for r in rows]

    def finish(self, study_id: str, participant: str, info: Optional[Dict] = None) -> None:
        """Mark the session finished; ``info`` (e.g. optional demographics) is merged into its info."""
        def run(q):
            if info:
                row = q("SELECT info FROM sessions WHERE study_id=:s AND participant=:p", s=study_id, p=participant)
                merged = {**json.loads((row[0][0] if row else None) or "{}"), **info}
                q("UPDATE sessions SET info=:i WHERE study_id=:s AND participant=:p", i=canonical(merged),
                  s=study_id, p=participant)
            q("UPDATE sessions SET finished_at=:at WHERE study_id=:s AND participant=:p AND finished_at IS NULL",
              at=_now(), s=study_id, p=participant)

        self._transact(run)

    # ---------- reading ----------
    def status(self, study_id: str) -> List[Dict]:
        """Per kit of the study: participants started / finished and answers stored (no answers themselves)."""
        def run(q):
            rows = q("SELECT kit_id, COUNT(*), COUNT(finished_at) FROM sessions WHERE study_id=:s GROUP BY kit_id "
                     "ORDER BY MIN(started_at)", s=study_id)
            answers = dict(q("SELECT kit_id, COUNT(*) FROM answers WHERE study_id=:s GROUP BY kit_id", s=study_id))
            return rows, answers

        rows, answers = self._read(run)
        return [{"kit_id": kit, "started": started, "finished": finished, "answers": answers.get(kit, 0)}
                for kit, started, finished in rows]

    def studies(self) -> List[str]:
        rows = self._read(lambda q: q("SELECT study_id FROM sessions UNION SELECT study_id FROM answers"))
        return sorted(r[0] for r in rows)

    def sessions(self, study_id: str) -> List[Dict]:
        """Every session of ``study_id`` with its answers (``payload`` dicts), in participant order."""
        def run(q):
            heads = q("SELECT participant, started_at, finished_at, info FROM sessions WHERE study_id=:s "
                      "ORDER BY participant", s=study_id)
            out = []
            for participant, started, finished, info in heads:
                rows = q("SELECT trial, payload FROM answers WHERE study_id=:s AND participant=:p ORDER BY trial",
                         s=study_id, p=participant)
                out.append({"participant": participant, "started_at": started, "finished_at": finished,
                            "info": json.loads(info or "{}"), "answers": [(t, json.loads(p)) for t, p in rows]})
            return out

        return self._read(run)


class Store(_SQLStore):
    """SQLite answer store (see module doc)."""

    busy_errors = (sqlite3.OperationalError,)
    _conflict = ()  # BEGIN IMMEDIATE serialises writers: no key race to retry

    def __init__(self, path, *, create: bool = True, flag: str = "--db"):
        self.path = Path(path)
        self.label = str(self.path)
        self._read_only = not create
        if not create:
            if not self.path.is_file():
                raise GandiagError(f"{self.path}: database not found")
        elif self.path.is_dir() or (self.path.exists() and not is_database(self.path) and self.path.stat().st_size > 0):
            raise GandiagError(f"{flag} {self.path} exists and is not an SQLite database; choose another {flag}")
        if create:
            try:
                with closing(self._connect()) as con:
                    con.execute("PRAGMA journal_mode=WAL")
                self._transact(self._create_schema, serialise=False)
            except sqlite3.Error as exc:
                raise GandiagError(f"{flag} {self.path}: cannot open or create the database ({exc}); check the "
                                   "path and its permissions") from None

    def _connect(self) -> sqlite3.Connection:
        if self._read_only:
            con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        else:
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            con.execute("PRAGMA synchronous=FULL")
        con.execute("PRAGMA busy_timeout=30000")
        return con

    @contextmanager
    def _connection(self, write: bool, serialise: bool = True):
        con = self._connect()
        try:
            if write:
                con.execute("BEGIN IMMEDIATE")
                yield con
                con.execute("COMMIT")
            else:
                yield con
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    @staticmethod
    def _rows(con, sql, params):
        return con.execute(sql, params).fetchall()


class URLStore(_SQLStore):
    """The same store in a server database reached by a SQLAlchemy URL (PostgreSQL, MySQL, ...)."""

    def __init__(self, url: str, *, create: bool = True, flag: str = "--db"):
        try:
            import sqlalchemy
            from sqlalchemy import exc as sa_exc
        except ImportError:
            raise GandiagError(f"{flag} {url.split('://')[0]}://...: a database URL needs SQLAlchemy and a driver; "
                               "pip install 'gandiag[server]' (SQLAlchemy + psycopg for postgresql://)") from None
        self._sa = sqlalchemy
        try:
            parsed = sqlalchemy.engine.make_url(url)
        except sa_exc.ArgumentError as exc:
            raise GandiagError(f"{flag} {url!r} is not a database URL ({exc}); e.g. "
                               "postgresql://user@127.0.0.1:5432/study") from None
        if parsed.drivername == "postgresql":  # psycopg 3 (the [server] extra), not SQLAlchemy's psycopg2 default
            parsed = parsed.set(drivername="postgresql+psycopg")
        self.label = parsed.render_as_string(hide_password=True)
        self.busy_errors = (sa_exc.OperationalError,)
        self._conflict = (sa_exc.IntegrityError,)
        try:
            self._engine = sqlalchemy.create_engine(parsed, pool_pre_ping=True, pool_size=8, max_overflow=24,
                                                    pool_timeout=60)
        except (ImportError, sa_exc.NoSuchModuleError) as exc:
            raise GandiagError(f"{flag} {self.label}: no driver for {parsed.drivername} ({exc}); pip install "
                               "'gandiag[server]' (psycopg for postgresql://) or the driver of your database") from None
        try:
            if create:
                self._transact(self._create_schema, serialise=False)
            else:
                self._read(lambda q: q("SELECT value FROM meta WHERE key='schema_version'"))
        except sa_exc.SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", exc) or exc).strip().splitlines()[0]
            raise GandiagError(f"{flag} {self.label}: cannot open the database ({reason}); check the URL, that "
                               "the server runs and that the user may create tables") from None

    @contextmanager
    def _connection(self, write: bool, serialise: bool = True):
        with self._engine.begin() as con:  # one transaction, committed on exit, rolled back on an exception
            if write and serialise:
                # Like SQLite's BEGIN IMMEDIATE: the meta row's lock admits one writer at a time, so
                # read-then-write (the next free trial order) cannot race; READ COMMITTED then sees
                # every earlier writer's rows. Portable SQL (PostgreSQL, MySQL, ...), held until commit.
                con.execute(self._sa.text("UPDATE meta SET value=value WHERE key='schema_version'"))
            yield con

    def _rows(self, con, sql, params):
        result = con.execute(self._sa.text(sql), params)
        return [tuple(r) for r in result] if result.returns_rows else []

    def close(self) -> None:
        self._engine.dispose()
