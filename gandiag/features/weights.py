"""Finding, verifying and loading pretrained weights (never a silent download).

Resolution order for a published weights file (:func:`resolve_weights`):

1. an explicit path (``weights=PATH`` / ``--weights PATH``);
2. the environment variable named by the spec (e.g. ``GANDIAG_INCEPTION_WEIGHTS``);
3. the torch hub cache, ``$TORCH_HOME/hub/checkpoints/<file>`` (``TORCH_HOME``
   defaults to ``~/.cache/torch``), where pytorch-fid and torch-fidelity put it too;
4. a download from the published URL, **only** with ``allow_download=True``
   (``--allow-download``); the file is checked against the published sha256 before use.

Offline, the error names the file, its sha256, the URL and where to put it.
Files are loaded with ``torch.load(weights_only=True)`` (no pickled code runs).

One rule for files the *user* names (1 and 2 alike): any file under any name is used, and its
provenance says whether its bytes are the published ones (``published``). Numbers computed with
other bytes (fine-tuned, retrained, random) are marked "unpublished weights" wherever they are
printed or reported, because they cannot be compared with published tables. A user file that
carries the published *name* but other bytes gets a :attr:`ResolvedWeights.note` saying so (rename
it to make the intent plain, or download the published file again if that is what it should be).
Only the torch hub cache (3), which holds downloads, insists on the published hash.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Mapping, Optional, Tuple

from ..errors import GandiagError
from ..fileio import sha256_file


@dataclass(frozen=True)
class WeightsSpec:
    """A published weights file.

    Attributes:
        filename: file name in the torch hub cache.
        url: where the publisher serves it.
        sha256: full sha256 of the published bytes.
        env_var: environment variable that may point at a local copy.
        aliases: other file names with the same bytes that peers cache.
    """

    filename: str
    url: str
    sha256: str
    env_var: str
    aliases: Tuple[str, ...] = ()


@dataclass(frozen=True)
class ResolvedWeights:
    """A weights file on disk with its hash and how it was found."""

    path: Path
    sha256: str
    found_by: str  # "argument", "env:NAME", "torch-hub-cache", "download"
    published: bool  # True when the bytes are the published file
    note: str = ""  # why a user's file is unpublished although its name says otherwise

    @property
    def marker(self) -> str:
        """``""`` for the published file, else the label every number computed with it carries."""
        return "" if self.published else UNPUBLISHED_MARKER


UNPUBLISHED_MARKER = "unpublished weights"


def torch_hub_checkpoints() -> Path:
    """``$TORCH_HOME/hub/checkpoints`` (``torch.hub.get_dir()`` honours ``TORCH_HOME``)."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def _verify_published(path: Path, spec: WeightsSpec, found_by: str) -> ResolvedWeights:
    digest = sha256_file(path)
    if digest != spec.sha256:
        raise GandiagError(
            f"weights file {path} (found via {found_by}) has sha256 {digest}, but the published "
            f"{spec.filename} has sha256 {spec.sha256}: an interrupted download or a different network. "
            f"If it is your own network, pass it with --weights PATH (or {spec.env_var}=PATH) and its numbers "
            f"are marked '{UNPUBLISHED_MARKER}'; otherwise delete it and download {spec.url} again"
        )
    return ResolvedWeights(path, digest, found_by, True)


def _user_file(path: Path, spec: WeightsSpec, found_by: str) -> ResolvedWeights:
    """A file the user named: used whatever its name; ``published`` only when the bytes are."""
    digest = sha256_file(path)
    published = digest == spec.sha256
    note = ""
    if not published and path.name in (spec.filename,) + spec.aliases:
        note = (f"{path} is named like the published {spec.filename} but has sha256 {digest[:12]}... "
                f"(published: {spec.sha256[:12]}...); it is used as {UNPUBLISHED_MARKER}. Rename it if it is "
                f"your own network, or download {spec.url} again if it should be the published file")
    return ResolvedWeights(path, digest, found_by, published, note)


def resolve_weights(spec: WeightsSpec, weights: Optional[os.PathLike] = None, *,
                    allow_download: bool = False) -> ResolvedWeights:
    """Find ``spec``'s weights following the module's resolution order.

    A file the user names (``weights`` or the environment variable: one rule) is used as
    given under any name; its provenance says ``published=False`` unless its bytes hash to
    the published sha256, so its numbers are marked and never mistaken for comparable ones
    (see the module doc). Only a file in the torch hub cache must have the published hash.

    Raises:
        GandiagError: a named file missing, a cached file with another hash, or no copy found offline.
    """
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise GandiagError(f"weights file {path} does not exist (from weights=/--weights)")
        return _user_file(path, spec, "argument")
    env = os.environ.get(spec.env_var)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise GandiagError(f"{spec.env_var}={env} does not name an existing file; fix or unset it")
        return _user_file(path, spec, f"env:{spec.env_var}")
    cache = torch_hub_checkpoints()
    for name in (spec.filename,) + spec.aliases:
        if (cache / name).is_file():
            return _verify_published(cache / name, spec, "torch-hub-cache")
    target = cache / spec.filename
    if not allow_download:
        raise GandiagError(
            f"pretrained weights {spec.filename} (sha256 {spec.sha256}) not found. Download {spec.url} "
            f"and put it at {target} (or anywhere, then set {spec.env_var}=PATH or pass --weights PATH), "
            "or allow the download with --allow-download (allow_download=True)"
        )
    return _download(spec, target)


def _download(spec: WeightsSpec, target: Path) -> ResolvedWeights:
    import torch

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    try:
        # torch.hub downloads to a temp file and moves it to `partial`; we check the
        # full hash (not only torch.hub's 8-hex prefix) before renaming into place.
        torch.hub.download_url_to_file(spec.url, str(partial), hash_prefix=None, progress=True)
    except Exception as exc:  # network errors come in many types
        partial.unlink(missing_ok=True)
        raise GandiagError(
            f"could not download {spec.url} ({type(exc).__name__}: {exc}); download it by hand and put it "
            f"at {target}, or set {spec.env_var}=PATH"
        ) from None
    digest = sha256_file(partial)
    if digest != spec.sha256:
        partial.unlink(missing_ok=True)
        raise GandiagError(
            f"downloaded {spec.url} has sha256 {digest}, expected {spec.sha256}; refusing to use it"
        )
    os.replace(partial, target)
    return ResolvedWeights(target, digest, "download", True)


def load_state_dict(path: os.PathLike, what: str) -> Dict[str, "object"]:
    """``torch.load(path, weights_only=True)`` returning a flat name -> tensor dict.

    Accepts a bare state dict or a checkpoint dict with a ``"state_dict"`` entry.
    """
    import torch

    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise GandiagError(
            f"cannot read {what} weights from {path} ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); "
            "expected a state dict saved with torch.save"
        ) from None
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(torch.is_tensor(v) for v in obj.values()):
        raise GandiagError(f"{path} is not a state dict of tensors (expected {what} weights)")
    return dict(obj)


def check_state_dict(state: Mapping[str, "object"], expected: Mapping[str, "object"], path, what: str,
                     optional_suffixes: Tuple[str, ...] = ("num_batches_tracked",)) -> Dict[str, "object"]:
    """Compare keys and shapes against a module's ``state_dict()``; return a loadable dict.

    Keys ending in ``optional_suffixes`` (BatchNorm's ``num_batches_tracked``, absent
    from files written by old torch versions) are filled from ``expected`` if missing.

    Raises:
        GandiagError: naming up to five missing / unexpected / mis-shaped keys.
    """
    state = dict(state)
    missing = [k for k in expected if k not in state and not k.endswith(optional_suffixes)]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {', '.join(missing[:5])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:5])})")
        raise GandiagError(
            f"{path} does not hold {what} weights: keys do not match ({'; '.join(parts)})"
        )
    for k, ref in expected.items():
        if k not in state:
            state[k] = ref.clone()
        elif tuple(state[k].shape) != tuple(ref.shape):
            raise GandiagError(
                f"{path} does not hold {what} weights: {k} has shape {tuple(state[k].shape)}, "
                f"expected {tuple(ref.shape)}"
            )
    return state
