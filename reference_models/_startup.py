"""Ctrl-C during a command-line start-up (importing torch, loading data) is one line, not a traceback.

Installed by ``reference_models/__init__.py`` only when the package starts as ``python -m
reference_models.X``; the trainer replaces the handler with its own (checkpoint and stop) once
training begins, and restores this one after.
"""
from __future__ import annotations

import os
import signal
import sys


def _interrupted(signum, frame) -> None:  # pragma: no cover - exercised in a subprocess
    sys.stderr.write("interrupted during start-up; no training step ran\n")
    sys.stderr.flush()
    os._exit(130)


def quiet_interrupts_until_ready() -> None:
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupted)
