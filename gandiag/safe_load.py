"""Load user model archives without running code from them.

``torch.export.load`` unpickles several members of a ``.pt2`` archive, and when
its ``weights_only=True`` attempt fails it *retries with* ``weights_only=False``
(``torch._export.serde.serialize.deserialize_torch_artifact``); weights and
constants flagged ``use_pickle`` and custom-object constants are unpickled with
no safety net at all. A hostile ``archive/data/sample_inputs/model.pt`` therefore
runs arbitrary code on ``torch.export.load``. Two independent barriers close this:

1. **Inspection before torch sees the file** (:func:`check_export_archive`): the
   file must be a zip; every member torch would unpickle (``sample_inputs``,
   legacy weight/constant files, ``use_pickle`` payloads, anything that looks
   like a pickle or a nested ``torch.save`` zip) is scanned with
   :mod:`pickletools` without executing it. Each global it references (``GLOBAL``,
   ``STACK_GLOBAL``, ``INST``) must be one of torch's own tensor-rebuild functions
   (:data:`ALLOWED_GLOBALS`); extension opcodes and unresolvable references are
   refused. Custom-object constants (``torch._C._pickle_load_obj`` /
   ``pickle.loads``) are refused.
2. **Forced safe unpickling while torch loads** (:func:`forced_weights_only`):
   ``TORCH_FORCE_WEIGHTS_ONLY_LOAD=1`` makes every ``torch.load`` inside
   ``torch.export.load`` (including the ``weights_only=False`` fallback) use
   torch's restricted unpickler.

Both are skipped only with ``trust_pickle=True`` (``--trust-pickle``).

TorchScript files (``torch.jit.load``) are read by TorchScript's C++ unpickler,
which resolves classes only against the archive's compiled TorchScript code and
torch's tensor types and never imports or calls Python objects; they need no
trust (their *code* is the model the user asked to run).

The ``--trust-pickle`` contract for plain pickles (``.pkl`` / ``.pickle`` written by
``pickle.dump``): without the flag they are refused before a byte is unpickled;
with it they are read once with :func:`pickle.load` (never first by a loader that
expects another format and fails after objects already ran), and the result
must be an ``nn.Module`` or a callable.
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import pickletools
import threading
import zipfile
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Set, Tuple

from .errors import GandiagError

#: (module, name) globals a torch tensor pickle may reference: torch's rebuild helpers,
#: storage and dtype types, OrderedDict. Nothing here runs user-chosen code.
ALLOWED_GLOBALS: Set[Tuple[str, str]] = {
    ("collections", "OrderedDict"),
    ("torch._utils", "_rebuild_tensor"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_tensor_v3"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch._utils", "_rebuild_parameter_with_state"),
    ("torch._utils", "_rebuild_sparse_tensor"),
    ("torch._utils", "_rebuild_nested_tensor"),
    ("torch._utils", "_rebuild_device_tensor_from_numpy"),
    ("torch._utils", "_rebuild_meta_tensor_no_storage"),
    ("torch._utils", "_rebuild_wrapper_subclass"),
    ("torch._utils", "_rebuild_qtensor"),
    ("torch._tensor", "_rebuild_from_type_v2"),
    ("torch.nn.parameter", "Parameter"),
    ("torch.serialization", "_get_layout"),
    ("torch", "Size"),
    ("torch", "device"),
    ("torch", "Tensor"),
    ("torch", "storage"),
}
_STORAGE_SUFFIX = "Storage"
_DTYPE_NAMES = {"float16", "float32", "float64", "bfloat16", "half", "float", "double", "uint8", "int8", "int16",
                "int32", "int64", "long", "int", "short", "bool", "complex64", "complex128", "cfloat", "cdouble",
                "qint8", "quint8", "qint32", "float8_e4m3fn", "float8_e5m2", "strided", "sparse_coo",
                "contiguous_format", "channels_last", "preserve_format"}

_PUSH_STRING = {"STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE",
                "BINUNICODE8", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8"}
_REFUSED_OPS = {"EXT1", "EXT2", "EXT4"}
PICKLE_HINT = ("loading it can run arbitrary code; if you trust its author, pass --trust-pickle "
               "(trust_pickle=True)")


class UnsafeFileError(GandiagError):
    """A user file would run Python code when loaded, and trust was not given."""


def _allowed(module: str, name: str) -> bool:
    if (module, name) in ALLOWED_GLOBALS:
        return True
    if module == "torch" and (name.endswith(_STORAGE_SUFFIX) or name in _DTYPE_NAMES):
        return True
    return False


def pickle_globals(data: bytes) -> List[Tuple[str, str]]:
    """Every global referenced by the pickle stream(s) in ``data``, without executing anything.

    Concatenated pickles (the legacy ``torch.save`` format) are all scanned. Raises
    :class:`ValueError` for a malformed stream, an extension opcode or a ``STACK_GLOBAL``
    whose operands are not literal strings.
    """
    found: List[Tuple[str, str]] = []
    stream = io.BytesIO(data)
    while stream.tell() < len(data):
        pushed: List[Optional[str]] = []
        memo: Dict[int, Optional[str]] = {}
        for op, arg, _pos in pickletools.genops(stream):
            name = op.name
            if name in _REFUSED_OPS:
                raise ValueError(f"extension opcode {name}")
            if name in ("GLOBAL", "INST"):
                module, _, attr = str(arg).partition(" ")
                found.append((module, attr))
                pushed.append(None)
            elif name == "STACK_GLOBAL":
                if len(pushed) < 2 or not isinstance(pushed[-1], str) or not isinstance(pushed[-2], str):
                    raise ValueError("STACK_GLOBAL with computed operands")
                found.append((pushed[-2], pushed[-1]))
                pushed.append(None)
            elif name in _PUSH_STRING:
                pushed.append(arg if isinstance(arg, str) else None)
            elif name == "MEMOIZE":
                memo[len(memo)] = pushed[-1] if pushed else None
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[int(arg)] = pushed[-1] if pushed else None
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                pushed.append(memo.get(int(arg)))
            elif name == "STOP":
                break
            else:
                pushed.append(None)
        if stream.tell() >= len(data) or data[stream.tell():stream.tell() + 1] != b"\x80":
            break
    return found


def check_torch_payload(data: bytes, where: str) -> None:
    """Refuse ``data`` (a ``torch.save`` zip or legacy pickle) if unpickling it could run code."""
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as inner:
                names = [n for n in inner.namelist() if n.endswith(".pkl")]
                payloads = [(n, inner.read(n)) for n in names]
        except (zipfile.BadZipFile, OSError, RuntimeError, EOFError) as exc:
            raise GandiagError(f"{where}: corrupt embedded archive ({exc})") from None
    else:
        payloads = [("", data)]
    for name, blob in payloads:
        label = f"{where}/{name}" if name else where
        try:
            refs = pickle_globals(blob)
        except Exception as exc:  # malformed or deliberately obfuscated stream
            raise UnsafeFileError(f"{label} is a pickle gandiag cannot verify ({exc}); {PICKLE_HINT}") from None
        bad = sorted({f"{m}.{n}" for m, n in refs if not _allowed(m, n)})
        if bad:
            shown = ", ".join(bad[:3]) + (" ..." if len(bad) > 3 else "")
            raise UnsafeFileError(f"{label} pickles Python objects ({shown}); {PICKLE_HINT}")


def _payload_configs(zf: zipfile.ZipFile, names: List[str]) -> Dict[str, dict]:
    """path -> entry of the archive's weights/constants configs (``use_pickle``, ``path_name``)."""
    entries: Dict[str, dict] = {}
    for cfg in names:
        if not (cfg.endswith("_weights_config.json") or cfg.endswith("_constants_config.json")):
            continue
        folder = cfg.rsplit("/", 1)[0]
        try:
            payload = json.loads(zf.read(cfg).decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise GandiagError(f"{cfg} is not valid JSON ({exc}); the archive is corrupt") from None
        config = payload.get("config", {}) if isinstance(payload, dict) else None
        if not isinstance(config, dict):
            raise GandiagError(f"{cfg} has no 'config' object; the archive is corrupt")
        for fqn, entry in config.items():
            if isinstance(entry, dict) and isinstance(entry.get("path_name"), str):
                entries[f"{folder}/{entry['path_name']}"] = {**entry, "fqn": fqn, "config": cfg}
    return entries


def check_export_archive(path, *, trust_pickle: bool = False) -> List[str]:
    """Inspect a ``torch.export`` ``.pt2`` archive; refuse it if loading could run code.

    Returns the member names. Raises :class:`GandiagError` for a file that is empty,
    not a zip or corrupt, and :class:`UnsafeFileError` (naming ``--trust-pickle``)
    when an embedded pickle references anything beyond torch's tensor rebuilders.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise GandiagError(f"cannot read {path}: {exc.strerror or exc}") from None
    if size == 0:
        raise GandiagError(f"{path} is empty (0 bytes); re-export it with torch.export.save")
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if not any(n.endswith("/archive_format") or n == "archive_format" for n in names) and not any(
                    "/models/" in n and n.endswith(".json") for n in names):
                raise GandiagError(f"{path} is a zip but not a torch.export archive (no archive_format or "
                                   "models/*.json); save it with torch.export.save")
            if trust_pickle:
                return names
            configs = _payload_configs(zf, names)
            for name in names:
                entry = configs.get(name)
                folder = name.rsplit("/", 2)[-2] if name.count("/") >= 2 else ""
                if entry is not None:
                    if "/data/constants/" in name and not entry["path_name"].startswith("tensor_"):
                        raise UnsafeFileError(f"{path}: constant {entry['fqn']!r} ({name}) is a pickled Python "
                                              f"object; {PICKLE_HINT}")
                    if not entry.get("use_pickle"):
                        continue  # raw tensor bytes, read with torch.frombuffer
                    check_torch_payload(zf.read(name), f"{path}:{name}")
                    continue
                if name.endswith(".json") or name.rsplit("/", 1)[-1] in (
                        "archive_format", "archive_version", "version", "byteorder", "serialization_id",
                        ".format_version", ".storage_alignment"):
                    continue
                if "/extra/" in name:
                    continue  # extra_files are returned as text, never unpickled
                blob = zf.read(name)
                if folder in ("weights", "constants") and not name.endswith((".pt", ".pkl")) \
                        and blob[:4] != b"PK\x03\x04":
                    # a payload no config names is never read by torch; nothing to unpickle
                    continue
                if name.endswith((".pt", ".pkl", ".pth")) or blob[:4] == b"PK\x03\x04" or blob[:1] == b"\x80":
                    check_torch_payload(blob, f"{path}:{name}")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, RuntimeError, OSError) as exc:
        raise GandiagError(f"{path} is not a valid torch.export archive (corrupt or truncated: {exc})") from None
    return names


_ENV_LOCK = threading.Lock()
_FORCE_VAR = "TORCH_FORCE_WEIGHTS_ONLY_LOAD"


@contextlib.contextmanager
def forced_weights_only(enabled: bool = True) -> Iterator[None]:
    """Within the block every ``torch.load`` uses torch's restricted (weights-only) unpickler,
    even where the caller passes ``weights_only=False``."""
    if not enabled:
        yield
        return
    with _ENV_LOCK:
        before = os.environ.get(_FORCE_VAR)
        os.environ[_FORCE_VAR] = "1"
        try:
            yield
        finally:
            if before is None:
                os.environ.pop(_FORCE_VAR, None)
            else:
                os.environ[_FORCE_VAR] = before


@contextlib.contextmanager
def quiet_torch_loggers() -> Iterator[None]:
    """Silence torch.export's loggers (their fallback warning prints a full traceback)."""
    names = ("torch._export.serde.serialize", "torch.export.pt2_archive._package", "torch._export",
             "torch.export")
    saved = []
    for name in names:
        logger = logging.getLogger(name)
        saved.append((logger, logger.disabled))
        logger.disabled = True
    try:
        yield
    finally:
        for logger, disabled in saved:
            logger.disabled = disabled


def load_export(path, *, trust_pickle: bool = False, extra_files: Optional[Dict[str, str]] = None):
    """``torch.export.load`` behind both barriers of the module doc; errors become one clear line."""
    import torch

    check_export_archive(path, trust_pickle=trust_pickle)
    try:
        with forced_weights_only(not trust_pickle), quiet_torch_loggers():
            return torch.export.load(str(path), extra_files=extra_files)
    except GandiagError:
        raise
    except Exception as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        if not trust_pickle and ("weights_only" in str(exc) or "Unsupported global" in str(exc)):
            raise UnsafeFileError(f"{path}: torch.export.load needs to unpickle Python objects; {PICKLE_HINT}") \
                from None
        raise GandiagError(f"cannot load torch.export program {path}: {type(exc).__name__}"
                           + (f": {text[:300]}" if text else "") + "; re-export it with torch.export.save") from None


def load_torchscript(path, *, map_location="cpu", extra_files: Optional[Dict[str, str]] = None):
    """``torch.jit.load`` (TorchScript's C++ reader: no Python objects are unpickled) with clear errors."""
    import warnings

    import torch

    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise GandiagError(f"{path} is empty (0 bytes); save the module with torch.jit.save")
    try:
        with warnings.catch_warnings():  # torch 2.14 marks jit.load deprecated; it is still the TorchScript reader
            warnings.simplefilter("ignore", FutureWarning)
            kwargs = {} if extra_files is None else {"_extra_files": extra_files}
            return torch.jit.load(str(path), map_location=map_location, **kwargs)
    except Exception as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise GandiagError(f"cannot load TorchScript file {path}: {type(exc).__name__}"
                           + (f": {text[:300]}" if text else "") + "; save it with torch.jit.save") from None


def load_trusted_pickle(path):
    """Read a plain ``pickle.dump`` file in one pass (only call this with ``--trust-pickle``)."""
    import pickle

    try:
        with open(path, "rb") as handle:
            return pickle.load(handle)  # noqa: S301 - the user passed --trust-pickle
    except Exception as exc:
        raise GandiagError(f"cannot unpickle {path}: {type(exc).__name__}: {exc}") from None


def is_plain_pickle(path) -> bool:
    """True for a raw pickle stream that is not a (legacy) ``torch.save`` file."""
    with open(path, "rb") as handle:
        head = handle.read(2)
    if not head or head[:1] != b"\x80":
        return False
    data = Path(path).read_bytes()
    ops = []
    try:
        for op, arg, _pos in pickletools.genops(io.BytesIO(data)):
            ops.append((op.name, arg))
            if op.name == "STOP":
                break
    except Exception:
        return True
    legacy_magic = 0x1950A86A20F9469CFC6C
    return not any(arg == legacy_magic for _name, arg in ops)


__all__ = ["ALLOWED_GLOBALS", "UnsafeFileError", "check_export_archive", "check_torch_payload", "forced_weights_only",
           "is_plain_pickle", "load_export", "load_torchscript", "load_trusted_pickle", "pickle_globals",
           "quiet_torch_loggers", "PICKLE_HINT"]
