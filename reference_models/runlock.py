"""One trainer per run folder, and a clean folder on every start.

* :func:`lock_run_folder` takes an exclusive ``fcntl.flock`` on ``OUT/.lock`` for the life of the
  process (the kernel drops it when the process dies, even on SIGKILL, so a crash never leaves a
  stale lock). A second trainer on the same ``--out`` fails at once with a clear message instead
  of interleaving logs and checkpoints with the first; the "already holds a run" check runs
  *after* the lock is held, so two simultaneous starts cannot both pass it.
* :func:`remove_stale_temporaries` deletes the ``.NAME.*.tmp`` files an atomic write leaves when the
  process is killed mid-write (2-6 MB each; they would pile up over crashes). Only safe under the
  lock: no other process can be writing them.
* :func:`check_config_values` refuses non-finite numbers (``--set g_lr=inf``) before training.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import IO, Any, List, Mapping

from gandiag.errors import GandiagError

LOCK_NAME = ".lock"


def lock_run_folder(out) -> IO:
    """Create ``out`` if needed and hold an exclusive lock on it; returns the open lock file.

    Keep the returned handle referenced for as long as the run uses the folder.
    """
    import fcntl

    out = Path(out)
    for parent in [out, *out.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise GandiagError(f"--out {out}: {parent} is a file, not a folder; choose a folder for the run")
            break
    try:
        out.mkdir(parents=True, exist_ok=True)
        handle = open(out / LOCK_NAME, "a+", encoding="utf-8")
    except OSError as exc:
        raise GandiagError(f"--out {out}: cannot create the run folder there ({exc.strerror or exc})") from None
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise GandiagError(f"--out {out} is in use by another trainer ({holder}); wait for it to finish or "
                           "choose another --out") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}\n")
    handle.flush()
    return handle


def remove_stale_temporaries(out) -> List[Path]:
    """Delete ``.*.tmp`` leftovers of interrupted atomic writes under ``out`` (call with the lock held)."""
    removed = []
    out = Path(out)
    for folder in (out, out / "checkpoints", out / "export", out / "samples"):
        if not folder.is_dir():
            continue
        for tmp in folder.glob(".*.tmp"):
            try:
                tmp.unlink()
                removed.append(tmp)
            except OSError:
                pass
    return removed


def remove_checkpoints_after(out, step: int) -> List[Path]:
    """Delete ``checkpoints/step_N.pt`` with ``N > step``: written after the last complete
    ``last.pt`` by a killed run, they would be rewritten (identically) by the resumed run."""
    import re

    removed = []
    for path in (Path(out) / "checkpoints").glob("step_*.pt"):
        match = re.fullmatch(r"step_(\d+)\.pt", path.name)
        if match and int(match.group(1)) > step:
            path.unlink()
            removed.append(path)
    return removed


def check_config_values(values: Mapping[str, Any]) -> None:
    """Every number in the config must be finite (``inf``/``nan`` learning rates train garbage)."""
    for key, value in values.items():
        items = value if isinstance(value, (list, tuple)) else [value]
        for item in items:
            if isinstance(item, float) and not math.isfinite(item):
                raise GandiagError(f"config {key}={value!r} is not a finite number; pass e.g. --set {key}=0.0002")


__all__ = ["lock_run_folder", "remove_stale_temporaries", "remove_checkpoints_after", "check_config_values",
           "LOCK_NAME"]
