"""Atomic file writes and content hashing.

Nothing a user produced is ever lost: every file gandiag writes goes to a
temporary name in the destination folder and is renamed into place with
``os.replace`` (atomic on POSIX and Windows), so an interrupted write leaves the
old file or no file, never half a file.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator, Mapping, Union

import numpy as np

from .errors import GandiagError

PathLike = Union[str, os.PathLike]


@contextlib.contextmanager
def atomic_open(path: PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file next to ``path``; on success rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the mode open() would
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def atomic_write_bytes(path: PathLike, data: bytes) -> Path:
    with atomic_open(path, "wb") as handle:
        handle.write(data)
    return Path(path)


def atomic_write_text(path: PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n")


def atomic_save_npz(path: PathLike, arrays: Mapping[str, np.ndarray], compressed: bool = False) -> Path:
    """Write arrays to ``path`` as ``.npz`` atomically (no pickled objects)."""
    buffer = io.BytesIO()
    saver = np.savez_compressed if compressed else np.savez
    saver(buffer, **{k: np.asarray(v) for k, v in arrays.items()})
    return atomic_write_bytes(path, buffer.getvalue())


def sha256_file(path: PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------
# output checks: every writing command calls these BEFORE its computation


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _input_paths(inputs) -> list:
    """Existing filesystem paths among ``inputs`` (data specs like ``mnist-subset`` are skipped)."""
    paths = []
    for item in inputs or ():
        if item is None:
            continue
        text = str(item)
        for candidate in (text, text.split(":", 1)[-1] if ":" in text else None):
            if candidate and os.path.exists(candidate):
                paths.append(Path(candidate))
                break
    return paths


def _probe_folder(folder: Path, flag: str) -> None:
    """Create ``folder`` (and parents) and prove a file can be written there."""
    for parent in [folder, *folder.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise GandiagError(f"{flag} {folder}: {parent} is a file, not a folder; choose another path")
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".gandiag-write-test.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise GandiagError(f"{flag} {folder}: cannot write there ({exc.strerror or exc}); choose a writable "
                           "folder") from None


def check_output_file(path: PathLike, *, inputs=(), force: bool = False, flag: str = "--out") -> Path:
    """Validate one output file before any computation.

    Refuses (:class:`GandiagError`) a path that is a folder, is (the same inode as) an
    input, already exists without ``force``, or lies in a folder that cannot be
    written (probed by creating a temporary file). Creates missing parent folders.
    """
    path = Path(path).expanduser()
    for source in _input_paths(inputs):
        if _same_file(path, source):
            raise GandiagError(f"{flag} {path} is also an input ({source}); gandiag never writes over its "
                               "inputs: choose another output path")
    if path.is_dir():
        raise GandiagError(f"{flag} {path} is a folder; pass a file name")
    if path.exists() and not force:
        raise GandiagError(f"{flag} {path} already exists; pass --force to overwrite it, or choose another name")
    _probe_folder(path.parent if str(path.parent) else Path("."), flag)
    return path


def check_output_dir(folder: PathLike, names=(), *, inputs=(), force: bool = False, flag: str = "--out") -> Path:
    """Validate an output folder and the files ``names`` that will be written into it.

    Refuses a folder that is a file or an input, any of ``folder/name`` that exists
    (unless ``force``) or is an input, and an unwritable location. Creates the folder.
    """
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise GandiagError(f"{flag} {folder} is a file, not a folder; choose a folder name")
    sources = _input_paths(inputs)
    for source in sources:
        if _same_file(folder, source):
            raise GandiagError(f"{flag} {folder} is also an input ({source}); choose another output folder")
    existing = []
    for name in names:
        target = folder / name
        for source in sources:
            if _same_file(target, source):
                raise GandiagError(f"{flag}: {target} would overwrite the input {source}; choose another folder")
        if target.is_dir():
            raise GandiagError(f"{flag}: {target} is a folder where gandiag writes a file; choose another folder")
        if target.exists():
            existing.append(target)
    if existing and not force:
        shown = ", ".join(str(p) for p in existing[:3]) + (" ..." if len(existing) > 3 else "")
        raise GandiagError(f"{flag} {folder} already holds {shown}; pass --force to overwrite, or choose another "
                           "folder")
    _probe_folder(folder, flag)
    return folder


def usable_cache_dir(folder: PathLike) -> bool:
    """True when ``folder`` can be created and written (probed); never raises."""
    try:
        _probe_folder(Path(folder).expanduser(), "cache")
    except GandiagError:
        return False
    return True
