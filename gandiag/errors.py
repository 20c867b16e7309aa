"""The one exception type users can cause.

Every error that bad input, a missing file or a wrong option can produce is a
:class:`GandiagError` whose message says what was wrong and what to do about it.
The CLI prints it as one line on stderr and exits with status 2. ``assert`` is
reserved for internal invariants.
"""
from __future__ import annotations


class GandiagError(Exception):
    """A problem the user can fix: bad input, missing file, invalid option."""


def check(condition: bool, message: str) -> None:
    """Raise :class:`GandiagError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise GandiagError(message)
