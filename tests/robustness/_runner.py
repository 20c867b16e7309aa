"""Run many CLI cases in one process (one torch import for all) and report each as JSON.

    python tests/robustness/_runner.py CASES.json WORKSPACE RESULTS.json

CASES.json is a list of ``{"id", "entry": "gandiag" | "train", "argv", "cwd", "env", "timeout",
"hold_lock"}``. Each case runs ``gandiag.cli.main(argv)`` (or ``reference_models.train.main``)
exactly as the console script would, with stdout/stderr captured both at the Python level and at
the file-descriptor level (so C++ and logger output is seen too). ``SystemExit`` becomes the exit
status; any other exception escaping ``main`` is recorded as a traceback (exit status 1, the
interpreter's). Before and after each case the workspace tree is hashed, so the caller can tell
which files changed. A per-case alarm bounds the time.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path


class CaseTimeout(BaseException):
    pass


def tree_hashes(root: Path) -> dict:
    """relative path -> sha256 of every file under ``root`` ('<dir>' for folders)."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = "<link>"
        elif path.is_dir():
            out[rel] = "<dir>"
        elif path.is_file():
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@contextlib.contextmanager
def captured():
    """Capture fd 1/2 and sys.stdout/err; yields a dict filled with 'stdout'/'stderr' on exit."""
    result = {}
    saved = [os.dup(1), os.dup(2)]
    files = [tempfile.TemporaryFile(mode="w+b"), tempfile.TemporaryFile(mode="w+b")]
    py_out, py_err = io.StringIO(), io.StringIO()
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(files[0].fileno(), 1)
    os.dup2(files[1].fileno(), 2)
    try:
        with contextlib.redirect_stdout(py_out), contextlib.redirect_stderr(py_err):
            yield result
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        for name, f, py in (("stdout", files[0], py_out), ("stderr", files[1], py_err)):
            f.seek(0)
            result[name] = py.getvalue() + f.read().decode("utf-8", "replace")
            f.close()


def run_case(case: dict, workspace: Path) -> dict:
    env_before = dict(os.environ)
    cwd_before = os.getcwd()
    os.environ.update(case.get("env", {}))
    os.chdir(case.get("cwd") or workspace)
    lock = None
    if case.get("hold_lock"):  # another trainer holds this run folder right now
        import fcntl

        Path(case["hold_lock"]).mkdir(parents=True, exist_ok=True)
        lock = open(Path(case["hold_lock"]) / ".lock", "a+")
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        lock.write("pid 424242\n")
        lock.flush()
    before = tree_hashes(workspace)
    rc, tb = None, None
    start = time.perf_counter()

    def _alarm(signum, frame):
        raise CaseTimeout()

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(int(case.get("timeout", 120)))
    with captured() as io_:
        try:
            if case.get("entry", "gandiag") == "train":
                from reference_models.train import main
            else:
                from gandiag.cli import main
            rc = main(list(case["argv"]))
            rc = 0 if rc is None else int(rc)
        except SystemExit as exc:
            code = exc.code
            rc = 0 if code is None else (code if isinstance(code, int) else 1)
            if not isinstance(code, (int, type(None))):
                print(code, file=sys.stderr)
        except CaseTimeout:
            rc = "timeout"
        except BaseException:  # noqa: BLE001 - exactly what the suite looks for
            rc = 1
            tb = traceback.format_exc()
            sys.stderr.write(tb)
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
    seconds = time.perf_counter() - start
    if lock is not None:
        lock.close()
    after = tree_hashes(workspace)
    os.chdir(cwd_before)
    os.environ.clear()
    os.environ.update(env_before)
    changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
    marker = os.environ.get("H11_MARKER")
    return {"id": case["id"], "rc": rc, "marker": bool(marker and os.path.exists(marker)), "stdout": io_["stdout"][-4000:], "stderr": io_["stderr"][-6000:],
            "traceback": tb, "changed": changed, "seconds": round(seconds, 2)}


def main() -> int:
    cases = json.loads(Path(sys.argv[1]).read_text())
    workspace = Path(sys.argv[2])
    results = []
    for case in cases:
        results.append(run_case(case, workspace))
        Path(sys.argv[3]).write_text(json.dumps(results, indent=1))  # partial results survive a crash
    return 0


if __name__ == "__main__":
    sys.exit(main())
