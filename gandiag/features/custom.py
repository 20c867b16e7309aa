"""User-supplied extractors: an ``nn.Module``, a TorchScript / ``torch.export`` file or ``module:callable``.

The network receives the canonical batch as a float32 tensor ``(N, C, H, W)`` in
``[0, 1]`` on the extractor's device, unchanged (no resizing: the network owns its
input transform), and returns one of

* a tensor ``(N, ...)``: the features (flattened to ``(N, D)``);
* a tuple ``(features, logits)``;
* a dict with ``"features"`` and optionally ``"logits"``.

The weights hash recorded in the provenance (and in cache keys) is the sha256 of
the TorchScript file, or of the module's state-dict tensors (names, dtypes, shapes
and bytes) for in-memory modules, so retraining the network invalidates caches.
"""
from __future__ import annotations

import hashlib
import importlib
import re
from pathlib import Path
from typing import Optional

import torch
import torch.nn as nn

from ..errors import GandiagError
from .base import Extractor

_MODULE_CALLABLE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
TORCHSCRIPT_SUFFIXES = (".pt", ".pth", ".pt2", ".ts", ".torchscript", ".jit")


def state_dict_sha256(module: nn.Module) -> str:
    """sha256 over a module's state dict (sorted names, dtype, shape, bytes)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


class _Adapter(nn.Module):
    """Normalise the user's return value to ``(features, logits | None)``."""

    def __init__(self, inner, label: str):
        super().__init__()
        self.inner = inner
        self.label = label

    def forward(self, x):
        out = self.inner(x)
        if isinstance(out, dict):
            if "features" not in out:
                raise GandiagError(f"{self.label} returned a dict without 'features' (keys: {sorted(out)})")
            return out["features"], out.get("logits")
        if isinstance(out, (tuple, list)):
            if len(out) != 2:
                raise GandiagError(f"{self.label} returned {len(out)} outputs; return features or (features, logits)")
            return out[0], out[1]
        if not torch.is_tensor(out):
            raise GandiagError(f"{self.label} returned {type(out).__name__}; return a tensor (N, D)")
        return out, None


class ModuleExtractor(Extractor):
    """Wrap a user network (see module doc) as an :class:`~gandiag.features.base.Extractor`.

    Args:
        module: ``nn.Module`` / ``torch.jit.ScriptModule`` / plain callable on tensors.
        name: name recorded in the provenance.
        weights_path, weights_sha256: where the weights came from (TorchScript file).
        num_classes: size of the logits if the network returns them, else ``None``.
        min_size: smallest accepted image side (default 1).
        channels: accepted channel counts (default both 1 and 3).
    """

    protocol = "user network on canonical [0,1] NCHW input (no resize)"

    def __init__(self, module, *, name: str = "custom", device: str = "cpu", weights_path: Optional[str] = None,
                 weights_sha256: Optional[str] = None, num_classes: Optional[int] = None,
                 feature_dim: Optional[int] = None, min_size: int = 1, channels=(1, 3)):
        super().__init__(device)
        if not callable(module):
            raise GandiagError(f"extractor {name!r}: {type(module).__name__} is not callable; pass an nn.Module")
        self.name = name
        self.num_classes = num_classes
        self.feature_dim = feature_dim
        self.min_size = int(min_size)
        self.channels = tuple(channels)
        if isinstance(module, nn.Module):
            try:
                module = module.eval()
            except NotImplementedError:  # torch.export modules are frozen in the mode they were exported in
                pass
            module = module.to(self.device)
            for param in module.parameters():  # ScriptModules refuse requires_grad_()
                param.requires_grad_(False)
            if weights_sha256 is None:
                weights_sha256 = state_dict_sha256(module)
        self.weights_path, self.weights_sha256 = weights_path, weights_sha256
        self.network = _Adapter(module, f"extractor {name!r}")
        self._runnable = self.network

    def weights_info(self):
        return {"path": self.weights_path, "sha256": self.weights_sha256}

    def _check_shape(self, shape) -> None:
        if shape[1] not in self.channels:
            raise GandiagError(f"{self.name}: expects {self.channels} channels, got {shape[1]} in shape {tuple(shape)}")
        if min(shape[2], shape[3]) < self.min_size:
            raise GandiagError(f"{self.name}: images are {shape[2]}x{shape[3]}, smaller than {self.min_size} pixels")

    def check_outputs(self, outputs):
        if self.num_classes is None and "logits" in (outputs if not isinstance(outputs, str) else (outputs,)):
            # Unknown until the network has run once; a network without logits fails in extract_batch.
            self.num_classes = -1
            try:
                return super().check_outputs(outputs)
            finally:
                self.num_classes = None
        return super().check_outputs(outputs)

    def forward_tensor(self, x):
        out = super().forward_tensor(x)
        if "logits" in out and self.num_classes is None:
            self.num_classes = int(out["logits"].shape[1])
        return out


def is_module_callable(spec: str) -> bool:
    return bool(_MODULE_CALLABLE.match(spec))


def looks_like_torchscript(spec: str) -> bool:
    return spec.lower().endswith(TORCHSCRIPT_SUFFIXES) or Path(spec).is_file()


def from_torchscript(path, *, device: str = "cpu", trust_pickle: bool = False, **opts) -> ModuleExtractor:
    """Load a TorchScript file (``torch.jit.save``) or a ``torch.export`` ``.pt2`` program as an extractor.

    The file's sha256 is recorded as the weights hash.
    """
    from ..fileio import sha256_file
    from ..safe_load import load_export, load_torchscript

    path = Path(path).expanduser()
    if not path.is_file():
        raise GandiagError(f"extractor file {path} does not exist; pass a registered name or a TorchScript file")
    if path.suffix.lower() == ".pt2":  # inspected before torch sees it: no pickled code runs
        module = load_export(path, trust_pickle=trust_pickle).module().to(device)
    else:
        module = None
    try:
        if module is None:
            module = load_torchscript(path, map_location=device)
    except Exception as exc:
        why = str(exc).split(": ", 2)[-1].split(";")[0][:200] if isinstance(exc, GandiagError) else type(exc).__name__
        raise GandiagError(
            f"cannot load {path} as TorchScript or torch.export program ({why}); save the network "
            "with torch.jit.save(torch.jit.script(net), path) or torch.export.save(program, 'net.pt2'), "
            "or use 'package.module:callable'"
        ) from None
    kind = "export" if path.suffix.lower() == ".pt2" else "torchscript"
    return ModuleExtractor(module, name=f"{kind}:{path.name}", device=device, weights_path=str(path),
                           weights_sha256=sha256_file(path), **opts)


def from_module_callable(spec: str, *, device: str = "cpu", **opts) -> ModuleExtractor:
    """Import ``package.module:attr``.

    ``attr`` may be an ``nn.Module`` instance (used as is) or a zero-argument factory
    (class or function) returning an ``nn.Module`` or a callable on tensors.
    """
    mod_name, _, attr = spec.partition(":")
    try:
        obj = importlib.import_module(mod_name)
    except ImportError as exc:
        raise GandiagError(f"extractor {spec!r}: cannot import module {mod_name!r} ({exc})") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise GandiagError(f"extractor {spec!r}: module {mod_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not isinstance(obj, nn.Module):
        if not callable(obj):
            raise GandiagError(f"extractor {spec!r}: {attr} is a {type(obj).__name__}, not a module or factory")
        try:
            obj = obj()
        except TypeError as exc:
            raise GandiagError(
                f"extractor {spec!r}: calling the factory {attr}() failed ({exc}); point at an nn.Module instance "
                "or a function taking no arguments that returns one"
            ) from None
    return ModuleExtractor(obj, name=spec, device=device, **opts)
