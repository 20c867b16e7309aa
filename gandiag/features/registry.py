"""The extractor registry: every feature extractor has a name.

Built-ins (registered below through the same :func:`register_extractor` users call):

* ``inception-v3-fid``: FID InceptionV3, pool3 2048-d + 1008 logits (FID, IS, KID, PRDC);
* ``mnist-classifier``: shipped MNIST CNN, 128-d penultimate layer + 10 logits;
* ``pixels``: flattened canonical pixels.

:func:`get_extractor` also accepts an ``nn.Module``, a TorchScript file path or a
``package.module:callable`` spec (see :mod:`gandiag.features.custom`), and an
already-built :class:`~gandiag.features.base.Extractor` (returned unchanged).

Example::

    from gandiag.features import get_extractor
    ext = get_extractor("mnist-classifier")
    out = ext.extract(images, outputs=("features", "logits"))   # images: canonical float32 NCHW
"""
from __future__ import annotations

import re
from typing import Callable, Dict, List, Optional

from ..errors import GandiagError
from ..registry import Registry
from .base import Extractor

Factory = Callable[..., Extractor]
EXTRACTORS: Registry[Factory] = Registry("extractor")
# Options every extractor accepts on top of its own (handled by Extractor.configure).
EXECUTION_OPTIONS = ("channels_last", "amp", "compile")


def register_extractor(name: str, factory: Factory, description: str = "", *, replace: bool = False) -> Factory:
    """Register ``factory(device=..., weights=..., allow_download=..., **opts) -> Extractor`` under ``name``.

    Names are lower-case (``[a-z0-9][a-z0-9_.-]*``); registering an existing name is an
    error unless ``replace=True``.
    """
    if not callable(factory):
        raise GandiagError(f"extractor factory for {name!r} must be callable, got {type(factory).__name__}")
    return EXTRACTORS.register(name, factory, description, replace=replace)


def list_extractors() -> List[Dict[str, str]]:
    """``[{"name": ..., "description": ...}, ...]`` sorted by name."""
    return [{"name": e.name, "description": e.description} for e in EXTRACTORS.entries()]


def get_extractor(name, *, device: str = "cpu", weights=None, allow_download: bool = False,
                  channels_last: Optional[bool] = None, amp: Optional[str] = None, compile: bool = False,
                  **opts) -> Extractor:
    """Build an extractor by name (or wrap a user network).

    Args:
        name: a registered name, an ``nn.Module``, a TorchScript file path, a
            ``package.module:callable`` spec, or an :class:`Extractor`.
        device: torch device (``"cpu"``, ``"cuda"``, ``"cuda:1"``).
        weights: explicit weights file (registered extractors that have weights).
        allow_download: permit downloading published weights (hash-checked).
        channels_last, amp, compile: execution options, see :meth:`Extractor.configure`
            (``channels_last=None`` keeps the extractor's default).
        **opts: extractor-specific options (e.g. ``protocol="clean"`` for Inception);
            unknown options are an error, never ignored.

    Raises:
        GandiagError: unknown name (listing the valid ones), bad options, missing weights.
    """
    import torch.nn as nn

    from . import custom

    if isinstance(name, Extractor):
        ext = name
    elif isinstance(name, nn.Module):
        ext = custom.ModuleExtractor(name, name=f"module:{type(name).__name__}", device=device, **opts)
    elif isinstance(name, str) and name in EXTRACTORS:
        factory = EXTRACTORS.get(name)
        try:
            ext = factory(device=device, weights=weights, allow_download=allow_download, **opts)
        except TypeError as exc:
            bad = re.search(r"unexpected keyword argument '(\w+)'", str(exc))
            if bad:
                raise GandiagError(
                    f"extractor {name!r} has no option {bad.group(1)!r}; see gandiag.features.list_extractors() "
                    "or `gandiag extractors` for its options"
                ) from None
            raise
    elif isinstance(name, str) and custom.is_module_callable(name) and not _is_windows_path(name):
        ext = custom.from_module_callable(name, device=device, **opts)
    elif isinstance(name, str) and custom.looks_like_torchscript(name):
        ext = custom.from_torchscript(name, device=device, **opts)
    else:
        EXTRACTORS.get(str(name))  # raises "unknown extractor ...; valid values are: ..."
        raise AssertionError("unreachable")
    if channels_last is not None or amp is not None or compile:
        ext.configure(channels_last=channels_last, amp=amp, compile=compile)
    return ext


def _is_windows_path(spec: str) -> bool:
    return len(spec) > 2 and spec[1] == ":" and spec[0].isalpha() and spec[2] in "\\/"


def _inception_factory(**kwargs) -> Extractor:
    from .inception import InceptionExtractor

    return InceptionExtractor(**kwargs)


def _mnist_factory(**kwargs) -> Extractor:
    from .mnist_classifier import MnistClassifierExtractor

    return MnistClassifierExtractor(**kwargs)


def _fashion_factory(**kwargs) -> Extractor:
    from .fashion_classifier import FashionClassifierExtractor

    return FashionClassifierExtractor(**kwargs)


def _pixels_factory(device: str = "cpu", weights=None, allow_download: bool = False) -> Extractor:
    from .pixels import PixelsExtractor

    if weights is not None:
        raise GandiagError("extractor 'pixels' has no weights; drop weights=/--weights")
    return PixelsExtractor(device=device)


register_extractor(
    "inception-v3-fid", _inception_factory,
    "FID InceptionV3 (TF 2015-12-05, pytorch-fid weights): pool3 2048-d features, 1008 logits. "
    "Options: protocol=pytorch-fid|clean|torch-fidelity, logits_bias",
)
register_extractor(
    "mnist-classifier", _mnist_factory,
    "shipped MNIST CNN: 128-d penultimate features, 10 logits (MNIST-FID/IS, modes, Stacked MNIST)",
)
register_extractor(
    "fashion-classifier", _fashion_factory,
    "shipped Fashion-MNIST CNN (same network): 128-d features, 10 logits (Fashion-FID/IS, modes with class names)",
)
register_extractor("pixels", _pixels_factory, "flattened canonical pixels in [0,1] (C*H*W features, no logits)")
