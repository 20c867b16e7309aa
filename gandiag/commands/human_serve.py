"""``gandiag human-serve``: run a human-study kit online and store every answer in a database."""
from __future__ import annotations

import argparse

from ._common import add_quiet

NAME = "human-serve"
HELP = "serve a human-study kit over HTTP and store every answer in SQLite or a SQL server as it is given"
ORDER = 62
DESCRIPTION = """Serve the page of a `gandiag human-kit` kit and store each answer in an SQLite database
the moment the participant gives it (WAL, one row per trial; a re-sent answer is stored once).
--db also takes a database URL: sqlite:///answers.sqlite (the same SQLite file) or a server
database via SQLAlchemy, e.g. postgresql://user@127.0.0.1:5432/study (pip install 'gandiag[server]');
the same tables and rules there.
Nothing else is served: not the answer key, not design.json, not other participants' answers.

Participants open http://HOST:PORT/ . Their id comes from the URL (?PROLIFIC_PID=..., ?workerId=...,
or a name given with --id-param) or is typed on the start page; each new id gets the next free
trial order (P01, P02, ...), and an id that has finished, or has started in another browser, is
refused. At the end the page shows --completion-code and/or sends the participant to
--redirect-url. The organiser's status page (counts only) is /status?key=KEY, KEY printed at start.

The server binds 127.0.0.1 by default; put it behind your lab's HTTPS reverse proxy to run it
online (docs/human-study.md). Score with `gandiag human-score DB --design KIT`.

examples:
  gandiag human-serve kit/ --db answers.sqlite
  gandiag human-serve kit/ --db postgresql://lab@127.0.0.1:5432/study
  gandiag human-serve kit/ --db answers.sqlite --port 8080 --completion-code C1A2B3 \\
      --redirect-url 'https://app.prolific.com/submissions/complete?cc=C1A2B3'
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kit", metavar="KIT", help="the kit folder (from gandiag human-kit)")
    parser.add_argument("--db", "--database", dest="db", required=True, metavar="FILE|URL",
                        help="SQLite file for the answers (created if missing; reused to resume), or a database "
                             "URL: sqlite:///FILE, postgresql://USER[:PASS]@HOST:PORT/DB (needs gandiag[server]; "
                             "tables created if missing)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (0.0.0.0 = every interface: only behind a firewall/proxy)")
    parser.add_argument("--port", type=int, default=8000, help="TCP port (0 = any free port, printed)")
    parser.add_argument("--id-param", action="append", default=None, metavar="NAME",
                        help="URL parameter holding the participant id (repeatable; default PROLIFIC_PID, "
                             "workerId, participant)")
    parser.add_argument("--completion-code", default=None, help="code shown to participants who finish")
    parser.add_argument("--redirect-url", default=None, metavar="URL",
                        help="send participants here after the last answer is stored (e.g. Prolific's "
                             "completion link)")
    parser.add_argument("--status-key", default=None,
                        help="key of the organiser status page /status?key=KEY (default: random, printed)")
    add_quiet(parser)


def run(args: argparse.Namespace) -> int:
    import sys

    from ..errors import GandiagError
    from ..human.server import DEFAULT_ID_PARAMS, StudyServer, make_server
    from ..human.store import open_store

    if not 0 <= args.port <= 65535:
        raise GandiagError(f"--port must be 0..65535, got {args.port}")
    store = open_store(args.db)
    study = StudyServer(args.kit, store, id_params=tuple(args.id_param or DEFAULT_ID_PARAMS),
                        completion_code=args.completion_code, redirect_url=args.redirect_url,
                        status_key=args.status_key)
    server = make_server(study, args.host, args.port, quiet=args.quiet)
    host, port = server.server_address[:2]
    # First line is machine-readable (tests and scripts read the port from it).
    print(f"serving kit {study.kit_id} on http://{host}:{port}/ (answers -> {store.label})", flush=True)
    print(f"  status page: http://{host}:{port}/status?key={study.status_key}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        server.server_close()
    return 0
