"""``gandiag human-serve``: serve a kit's page and store every answer as it is given.

A stdlib :class:`~http.server.ThreadingHTTPServer` with these routes and nothing else
(the answer key, ``design.json``, the images folder and other participants'
answers are never served)::

    GET  /                 the kit's index.html, with connect-src 'self' and a server block
    POST /api/start        {"kit_id", "external_id", "token"?}  -> {"participant", "token", "answered"}
    POST /api/answer       {"kit_id", "participant", "token", "record"}  -> {"stored": "stored"|"duplicate"}
    POST /api/finish       {"kit_id", "participant", "token"}  -> {"completion_code", "redirect_url"}
    GET  /status?key=KEY   organiser page: participants started / finished, answers per kit

Every POST body must be JSON (``Content-Type: application/json``) of at most
:data:`MAX_BODY` bytes with a ``Content-Length``; anything else is refused with a
4xx status and ``{"ok": false, "error": reason}``. Answers are checked against the
design (participant, trial, image, exposure) before they are stored; an identical
re-send is acknowledged as ``duplicate`` and a different answer for a stored
trial is refused (409). See :mod:`gandiag.human.store` for the database.
"""
from __future__ import annotations

import html
import json
import re
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, List, Optional, Sequence
from urllib.parse import parse_qs, urlsplit

from ..errors import GandiagError
from .responses import page_answer
from .store import Refused, _SQLStore

MAX_BODY = 16 * 1024  # one trial record is ~600 bytes; anything much larger is not from the page
DEFAULT_ID_PARAMS = ("PROLIFIC_PID", "workerId", "participant")
_ID_RE = re.compile(r"^[A-Za-z0-9_.@:-]{1,80}$")
_RECORD_KEYS = {"trial", "phase", "image", "attention", "exposure_ms", "exposure_frames", "measured_ms", "frames",
                "mask_measured_ms", "fixation_measured_ms", "late_frames", "max_frame_gap_ms", "timing_ok",
                "frame_ms", "response", "rt_ms", "input", "staircase_level", "page_hidden", "answered_at",
                "correct", "key_map"}


class StudyServer:
    """Everything the request handler needs: the kit page, the design, the store and the options."""

    def __init__(self, kit_dir, store: _SQLStore, *, id_params: Sequence[str] = DEFAULT_ID_PARAMS,
                 completion_code: Optional[str] = None, redirect_url: Optional[str] = None,
                 status_key: Optional[str] = None):
        from .kit import read_design

        kit_dir = Path(kit_dir)
        self.design = read_design(kit_dir)
        self.kit_id = self.design["kit_id"]
        self.study_id = self.design.get("study_id") or self.kit_id
        page_path = kit_dir / self.design["files"]["page"]
        if not page_path.is_file():
            raise GandiagError(f"{page_path}: the kit's page is missing; rebuild the kit with gandiag human-kit")
        page = page_path.read_text(encoding="utf-8")
        if f'"kit_id":"{self.kit_id}"' not in page:
            raise GandiagError(f"{page_path} is not the page of kit {self.kit_id} (rebuilt separately?); rebuild "
                               "the kit with gandiag human-kit")
        for name in id_params:
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]{0,40}$", name):
                raise GandiagError(f"--id-param {name!r}: use a URL parameter name (letters, digits, _)")
        if redirect_url is not None and not re.match(r"^https?://", redirect_url):
            raise GandiagError(f"--redirect-url {redirect_url!r} must start with https:// or http://")
        self.store = store
        self.completion_code = completion_code
        self.redirect_url = redirect_url
        self.status_key = status_key or secrets.token_urlsafe(12)
        self.slots = [p["id"] for p in self.design["participants"]]
        self.trials = {p["id"]: {t["trial"]: t for t in p["trials"]} for p in self.design["participants"]}
        self.page = self._server_page(page, list(id_params)).encode("utf-8")
        self.lock = threading.Lock()

    def _server_page(self, page: str, id_params: List[str]) -> str:
        before = "connect-src 'none'"
        if page.count(before) != 1 or page.count('<script type="application/json" id="kit-data">') != 1:
            raise GandiagError("the kit's index.html is not a gandiag page this server can serve; rebuild the kit")
        page = page.replace(before, "connect-src 'self'")
        config = json.dumps({"api": "api/", "id_params": id_params}).replace("<", "\\u003c")
        marker = '<script type="application/json" id="kit-data">'
        return page.replace(marker, f'<script type="application/json" id="server-config">{config}</script>\n'
                                    + marker)

    # ---------- API ----------
    def _session(self, body: Dict) -> str:
        if body.get("kit_id") != self.kit_id:
            raise Refused(409, f"this server runs kit {self.kit_id}, not {body.get('kit_id')!r}; reload the page")
        participant = body.get("participant")
        if participant not in self.trials:
            raise Refused(400, f"unknown participant {participant!r}")
        self.store.check_token(self.study_id, participant, body.get("token") or "")
        return participant

    def api_start(self, body: Dict, user_agent: str) -> Dict:
        if body.get("kit_id") != self.kit_id:
            raise Refused(409, f"this server runs kit {self.kit_id}, not {body.get('kit_id')!r}; reload the page")
        external = body.get("external_id")
        if not isinstance(external, str) or not _ID_RE.match(external.strip()):
            raise Refused(400, "participant id must be 1-80 letters, digits or _ . @ : - characters")
        token = body.get("token")
        if token is not None and not isinstance(token, str):
            raise Refused(400, "token must be a string")
        info = body.get("info") if isinstance(body.get("info"), dict) else {}
        return self.store.start(self.study_id, self.kit_id, external.strip(), token, self.slots,
                                user_agent=user_agent, info={k: info[k] for k in list(info)[:20]})

    def api_answer(self, body: Dict) -> Dict:
        participant = self._session(body)
        record = body.get("record")
        if not isinstance(record, dict):
            raise Refused(400, "record must be a JSON object (one trial of the page)")
        unknown = set(record) - _RECORD_KEYS
        if unknown:
            raise Refused(400, f"record has unknown fields {sorted(unknown)}")
        try:
            answer = page_answer(record, self.trials[participant], participant, "answer", 0,
                                 self.design.get("staircase"))
        except GandiagError as exc:
            raise Refused(400, str(exc).removeprefix("answer: ")) from None
        result = self.store.add_answer(self.study_id, self.kit_id, participant, answer.number, record)
        return {"stored": result, "trial": answer.number}

    def api_finish(self, body: Dict) -> Dict:
        participant = self._session(body)
        stored = set(self.store.answered(self.study_id, participant))
        missing = sorted(set(self.trials[participant]) - stored)
        if missing:
            raise Refused(409, f"{len(missing)} answers not stored yet (trials {missing[:5]}...); the page "
                               "re-sends them and finishes afterwards")
        demographics = body.get("demographics")
        if demographics is not None:
            if (not isinstance(demographics, dict) or set(demographics) - {"age", "gender", "vision"}
                    or not all(isinstance(v, str) and len(v) <= 40 for v in demographics.values())):
                raise Refused(400, "demographics must be an object with short text fields age, gender, vision")
        self.store.finish(self.study_id, participant, {"demographics": demographics} if demographics else None)
        return {"completion_code": self.completion_code, "redirect_url": self.redirect_url}

    def status_html(self) -> str:
        esc = html.escape
        rows = self.store.status(self.study_id) or [{"kit_id": self.kit_id, "started": 0, "finished": 0,
                                                     "answers": 0}]
        cells = "".join(f"<tr><td><code>{esc(r['kit_id'])}</code>{' (served)' if r['kit_id'] == self.kit_id else ''}"
                        f"</td><td>{len(self.slots)}</td><td>{r['started']}</td>"
                        f"<td>{r['finished']}</td><td>{r['answers']}</td></tr>" for r in rows)
        return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Study status</title>"
                "<style>body{font-family:system-ui,'DejaVu Sans',sans-serif;margin:24px}td,th{border:1px solid "
                "#bbb;padding:4px 10px}table{border-collapse:collapse}</style></head><body>"
                f"<h1>Study status: {esc(str(self.design.get('title') or ''))}</h1>"
                f"<p>Study <code>{esc(self.study_id)}</code>. Counts only: answers stay in the database "
                "(score them with <code>gandiag human-score DB --design KIT</code>).</p>"
                "<table><tr><th>kit</th><th>trial orders</th><th>started</th><th>finished</th><th>answers stored"
                f"</th></tr>{cells}</table></body></html>")


class _Handler(BaseHTTPRequestHandler):
    server_version = "gandiag-human-serve"
    sys_version = ""
    timeout = 30  # seconds a connection may stay silent (a stalled client cannot hold a thread forever)
    study: StudyServer = None  # set on the subclass made by make_server
    quiet = False

    def log_message(self, fmt, *args):  # noqa: D401 - http.server hook
        if not self.quiet:
            super().log_message(fmt, *args)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj: Dict) -> None:
        self._send(status, json.dumps(obj).encode("utf-8"), "application/json")

    def do_GET(self):  # noqa: N802 - http.server hook
        url = urlsplit(self.path)
        if url.path in ("/", "/index.html"):
            return self._send(200, self.study.page, "text/html; charset=utf-8")
        if url.path == "/status":
            key = parse_qs(url.query).get("key", [""])[0]
            if not secrets.compare_digest(key, self.study.status_key):
                return self._send(403, b"status page: wrong or missing ?key= (printed when the server started)\n",
                                  "text/plain; charset=utf-8")
            return self._send(200, self.study.status_html().encode("utf-8"), "text/html; charset=utf-8")
        if url.path.startswith("/api/"):
            return self._json(405, {"ok": False, "error": "use POST for the API"})
        return self._send(404, b"not found\n", "text/plain; charset=utf-8")

    def do_POST(self):  # noqa: N802 - http.server hook
        routes = {"/api/start": lambda b: self.study.api_start(b, self.headers.get("User-Agent", "")),
                  "/api/answer": self.study.api_answer, "/api/finish": self.study.api_finish}
        route = routes.get(urlsplit(self.path).path)
        if route is None:
            return self._json(404, {"ok": False, "error": "unknown API route"})
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            return self._json(411, {"ok": False, "error": "Content-Length required"})
        if int(length) > MAX_BODY:
            # Read nothing: the connection is closed after this answer.
            self.close_connection = True
            return self._json(413, {"ok": False, "error": f"body of {length} bytes is over the {MAX_BODY}-byte limit"})
        if (self.headers.get("Content-Type") or "").split(";")[0].strip() != "application/json":
            return self._json(415, {"ok": False, "error": "Content-Type must be application/json"})
        raw = self.rfile.read(int(length))
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            return self._json(400, {"ok": False, "error": f"malformed JSON ({exc})"})
        if not isinstance(body, dict):
            return self._json(400, {"ok": False, "error": "body must be a JSON object"})
        try:
            result = route(body)
        except Refused as exc:
            return self._json(exc.status, {"ok": False, "error": exc.reason})
        except self.study.store.busy_errors as exc:  # locked / server down: the page keeps the answer and retries
            return self._json(503, {"ok": False, "error": f"database busy ({exc}); retry"})
        return self._json(200, {"ok": True, **result})


class _Server(ThreadingHTTPServer):
    # The default listen backlog (5) refuses connections when dozens of participants answer at once.
    request_queue_size = 128
    daemon_threads = True


def make_server(study: StudyServer, host: str = "127.0.0.1", port: int = 8000, *, quiet: bool = False):
    """A ready (not yet serving) ThreadingHTTPServer for ``study``."""
    handler = type("Handler", (_Handler,), {"study": study, "quiet": quiet})
    try:
        server = _Server((host, port), handler)
    except OSError as exc:
        raise GandiagError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port") from None
    return server
