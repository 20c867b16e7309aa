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


def torch_hub_checkpoints() -> Path:
    """``$TORCH_HOME/hub/checkpoints`` (``torch.hub.get_dir()`` honours ``TORCH_HOME``)."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def _verify_published(path: Path, spec: WeightsSpec, found_by: str) -> ResolvedWeights:
    digest = sha256_file(path)
    if digest != spec.sha256:
        raise GandiagError(
            f"weights file {path} (found via {found_by}) has sha256 {digest}, but the published "
            f"{spec.filename} has sha256 {spec.sha256}: the file is damaged or a different network. "
            f"Delete it and download {spec.url} again"
        )
    return ResolvedWeights(path, digest, found_by, True)


def resolve_weights(spec: WeightsSpec, weights: Optional[os.PathLike] = None, *,
                    allow_download: bool = False) -> ResolvedWeights:
    """Find ``spec``'s weights following the module's resolution order.

    An explicit ``weights`` path is used as given: if its name is the published file
    name it must have the published hash; any other file (fine-tuned or random
    weights) is accepted and marked ``published=False`` in the provenance, so its
    numbers are never mistaken for comparable ones.

    Raises:
        GandiagError: explicit path missing, hash mismatch, or no copy found offline.
    """
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise GandiagError(f"weights file {path} does not exist (from weights=/--weights)")
        if path.name in (spec.filename,) + spec.aliases:
            return _verify_published(path, spec, "argument")
        digest = sha256_file(path)
        return ResolvedWeights(path, digest, "argument", digest == spec.sha256)
    env = os.environ.get(spec.env_var)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise GandiagError(f"{spec.env_var}={env} does not name an existing file; fix or unset it")
        return _verify_published(path, spec, f"env:{spec.env_var}")
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
