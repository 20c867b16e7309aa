"""Name -> object registries (extractors, metrics, sources, commands).

The CLI, ``--help`` texts and the report read these registries instead of
hand-written lists. Registration goes through the same public ``register``
call that users have, which validates names and refuses duplicates.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Generic, Iterator, List, TypeVar

from .errors import GandiagError

T = TypeVar("T")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    obj: T
    description: str


class Registry(Generic[T]):
    """A validated name -> object mapping.

    Args:
        kind: what the entries are ("extractor", "metric", ...), used in messages.
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: Dict[str, Entry[T]] = {}

    def register(self, name: str, obj: T, description: str = "", *, replace: bool = False) -> T:
        if not isinstance(name, str) or not _NAME.match(name):
            raise GandiagError(
                f"invalid {self.kind} name {name!r}: use lower-case letters, digits, '-', '_' or '.'"
            )
        if name in self._entries and not replace:
            raise GandiagError(f"{self.kind} {name!r} is already registered (pass replace=True to override)")
        self._entries[name] = Entry(name, obj, description)
        return obj

    def get(self, name: str) -> T:
        return self.entry(name).obj

    def entry(self, name: str) -> Entry[T]:
        try:
            return self._entries[name]
        except KeyError:
            valid = ", ".join(sorted(self._entries)) or "(none registered)"
            raise GandiagError(f"unknown {self.kind} {name!r}; valid values are: {valid}") from None

    def names(self) -> List[str]:
        return sorted(self._entries)

    def entries(self) -> List[Entry[T]]:
        return [self._entries[n] for n in self.names()]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)
