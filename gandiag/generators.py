"""Load a generator from any framework and sample canonical images from it.

Generator kinds are registered in the source registry (:mod:`gandiag.data.kinds`): the
built-in ones (``torchscript``, ``export``, ``callable``, ``pickle``) in :mod:`gandiag.sources`,
which calls the ``open_*`` loaders below; plug-ins such as the reference trainer's
``checkpoint`` kind and ``onnx`` through the ``gandiag.sources`` entry points.
:func:`load_generator` resolves a spec through that registry. Pickles load only with
``trust_pickle=True`` (``--trust-pickle``): unpickling runs arbitrary code.

Calling convention: ``G(z)`` with ``z`` float32 ``(B, z_dim)`` drawn from the prior
(``normal``: N(0, 1), or ``uniform``: U(-1, 1)); conditional generators are called as
``G(z, y)`` with balanced int64 labels ``y``. Outputs must be ``(B, C, H, W)`` (or NHWC
with ``layout``) in the declared output range. ``z_dim`` and ``output_range`` come from
the file's metadata when it has them, else from the caller (``--z-dim``,
``--output-range``); they are never guessed. A missing ``--output-range`` means
``0,1``, and outputs outside it are an error that names the flag.
"""
from __future__ import annotations

import importlib
import inspect
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Optional, Tuple

import numpy as np

from .errors import GandiagError
from .images import parse_range, to_canonical

META_FILE = "gandiag.json"
PRIORS = ("normal", "uniform")


@dataclass
class GeneratorSource:
    """A loaded generator plus what is needed to sample from it.

    Attributes:
        fn: callable ``fn(z)`` or ``fn(z, y)`` returning a batch of images.
        z_dim: latent size.
        output_range: ``(lo, hi)`` of the raw outputs.
        num_classes: number of conditioning classes, or ``None`` for unconditional.
        prior: ``"normal"`` or ``"uniform"``.
        kind: how it was loaded (``torchscript``, ``export``, ``checkpoint``, ``callable``, ``pickle``).
        meta: everything the file said about itself (recorded as provenance).
    """

    fn: Callable
    z_dim: int
    output_range: Optional[Tuple[float, float]] = None  # None: uint8 is 0..255, floats 0..1
    num_classes: Optional[int] = None
    prior: str = "normal"
    kind: str = "callable"
    layout: Optional[str] = None
    meta: Dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"

    def latents(self, n: int, seed: int):
        """Seeded latents ``(n, z_dim)`` and, for conditional generators, balanced labels."""
        import torch

        gen = torch.Generator().manual_seed(int(seed))
        if self.prior == "uniform":
            z = torch.rand(n, self.z_dim, generator=gen) * 2 - 1
        else:
            z = torch.randn(n, self.z_dim, generator=gen)
        y = None
        if self.num_classes:
            y = torch.arange(n) % self.num_classes
            y = y[torch.randperm(n, generator=gen)]
        return z, y

    def batches(self, n: int, *, batch_size: int = 250, seed: int = 0) -> Iterator[Tuple[np.ndarray, Optional[np.ndarray]]]:
        """Yield ``(canonical_images, labels_or_None)`` batches, ``n`` images in all.

        The latents of the whole run are drawn first from ``seed``, so the images do not
        depend on ``batch_size``.
        """
        import torch

        if n <= 0:
            raise GandiagError(f"num_samples must be positive, got {n}")
        if batch_size <= 0:
            raise GandiagError(f"batch_size must be positive, got {batch_size}")
        z_all, y_all = self.latents(n, seed)
        for start in range(0, n, batch_size):
            z = z_all[start:start + batch_size].to(self.device)
            y = None if y_all is None else y_all[start:start + batch_size].to(self.device)
            with torch.no_grad():
                try:
                    out = self.fn(z) if y is None else self.fn(z, y)
                except GandiagError:
                    raise
                except SystemExit as exc:
                    raise GandiagError(f"the generator called sys.exit({exc.code!r}) instead of returning "
                                       "images") from None
                except Exception as exc:
                    raise GandiagError(
                        f"the generator failed on a batch of latents of shape {tuple(z.shape)}"
                        f"{' with labels' if y is not None else ''}: {type(exc).__name__}: {exc}. "
                        "Check --z-dim (and that the generator takes (z) or (z, y))"
                    ) from None
            if isinstance(out, (tuple, list)) and out:
                out = out[0]
            if not hasattr(out, "shape"):
                raise GandiagError(f"the generator returned {type(out).__name__}, expected an image tensor")
            if out.shape[0] != z.shape[0]:
                raise GandiagError(
                    f"the generator returned {out.shape[0]} images for {z.shape[0]} latents (shape {tuple(out.shape)})"
                )
            if out.ndim != 4:
                raise GandiagError(
                    f"the generator returned shape {tuple(out.shape)}; expected images (B, C, H, W) or (B, H, W, C)"
                )
            images = to_canonical(out, value_range=self.output_range, layout=self.layout, name="generator output")
            yield images, (None if y is None else y.cpu().numpy().astype(np.int64))

    def sample(self, n: int, *, batch_size: int = 250, seed: int = 0, progress: bool = False):
        """All ``n`` samples as one :class:`~gandiag.data.ImageSet`."""
        from .data import ImageSet
        from .progress import progress_bar

        parts, labels = [], []
        with progress_bar(total=n, desc="sampling", unit="img", disable=not progress) as bar:
            for images, y in self.batches(n, batch_size=batch_size, seed=seed):
                parts.append(images)
                if y is not None:
                    labels.append(y)
                bar.update(len(images))
        return ImageSet(np.concatenate(parts), np.concatenate(labels) if labels else None,
                        f"{self.kind}:{self.meta.get('source', '')} ({n} samples, seed {seed})")

    def provenance(self) -> Dict[str, Any]:
        return {"kind": self.kind, "z_dim": self.z_dim, "output_range": None if self.output_range is None else list(self.output_range),
                "num_classes": self.num_classes, "prior": self.prior,
                **{k: v for k, v in self.meta.items() if isinstance(v, (str, int, float, bool, list, type(None)))}}


# --------------------------------------------------------------------------------------
# recognising sources


def is_generator_spec(spec: str) -> bool:
    """True when a registered generator kind recognises ``spec``."""
    from .data.kinds import matching_kinds

    return bool(matching_kinds(str(spec), generator=True))


def _read_meta_json(text: Optional[str], where: str) -> Dict[str, Any]:
    if not text:
        return {}
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GandiagError(f"{where}: the embedded {META_FILE} is not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise GandiagError(f"{where}: the embedded {META_FILE} must be a JSON object")
    return meta


def _finish(fn, meta: Dict[str, Any], kind: str, *, z_dim, output_range, num_classes, prior, layout, device,
            where: str) -> GeneratorSource:
    """Combine file metadata with caller options; disagreements are errors, not overrides."""
    file_z = _meta_count(meta, "z_dim", where)
    if z_dim is not None and (isinstance(z_dim, bool) or not isinstance(z_dim, int) or z_dim <= 0):
        raise GandiagError(f"{where}: --z-dim must be a positive whole number, got {z_dim!r}")
    if z_dim is not None and file_z is not None and int(z_dim) != int(file_z):
        raise GandiagError(f"{where}: --z-dim {z_dim} contradicts the file's metadata z_dim={file_z}")
    z = z_dim if z_dim is not None else file_z
    if z is None:
        raise GandiagError(f"{where}: the latent size is not recorded in the file; pass --z-dim (z_dim=...)")
    declared = parse_range(output_range)
    file_range = meta.get("output_range")
    if file_range is not None:
        try:
            file_range = parse_range(file_range)
        except GandiagError as exc:
            raise GandiagError(f"{where}: metadata output_range: {exc}") from None
    if declared is not None and file_range is not None and file_range != declared:
        raise GandiagError(
            f"{where}: --output-range {output_range} contradicts the file's metadata output_range={list(file_range)}"
        )
    rng = declared or file_range
    classes = num_classes if num_classes is not None else _meta_count(meta, "num_classes", where)
    pri = prior or meta.get("prior") or "normal"
    if pri not in PRIORS:
        raise GandiagError(f"{where}: unknown latent prior {pri!r}; valid values are: {', '.join(PRIORS)}")
    return GeneratorSource(fn=fn, z_dim=int(z), output_range=rng, num_classes=int(classes) if classes else None,
                           prior=pri, kind=kind, layout=layout, meta={**meta, "source": where}, device=device)


def _meta_count(meta: Dict[str, Any], key: str, where: str) -> Optional[int]:
    """A positive whole number from the file's metadata (``None`` when absent); anything else is an error."""
    value = meta.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise GandiagError(f"{where}: metadata {key}={value!r} must be a positive whole number; fix the file's "
                           f"{META_FILE}" + (" or pass --z-dim" if key == "z_dim" else ""))
    return value


def load_generator(
    spec: str,
    *,
    z_dim: Optional[int] = None,
    output_range=None,
    num_classes: Optional[int] = None,
    prior: Optional[str] = None,
    layout: Optional[str] = None,
    device: str = "cpu",
    trust_pickle: bool = False,
) -> GeneratorSource:
    """Load a generator from ``spec`` through the source registry (see the module doc)."""
    from .data.kinds import SourceOptions, resolve_kind

    options = SourceOptions(z_dim=z_dim, value_range=output_range, num_classes=num_classes, prior=prior,
                            layout=layout, device=device, trust_pickle=trust_pickle)
    return resolve_kind(str(spec), generator=True).open(str(spec), options)


def _opts(o) -> Dict[str, Any]:
    return dict(z_dim=o.z_dim, output_range=o.value_range, num_classes=o.num_classes, prior=o.prior,
                layout=o.layout, device=o.device)


def open_callable(spec: str, o) -> GeneratorSource:
    """``package.module:attr``: an ``nn.Module``, a zero-argument factory, or ``f(z) -> images``."""
    fn, meta = _load_callable(spec, o.device)
    return _finish(fn, meta, "callable", where=spec, **_opts(o))


def open_export(spec: str, o) -> GeneratorSource:
    """A ``torch.export`` program (``.pt2``), inspected before torch reads it (:mod:`gandiag.safe_load`)."""
    path = Path(spec)
    return _finish(*_load_export(path, o.device, o.trust_pickle), "export", where=str(path), **_opts(o))


def open_torchscript(spec: str, o) -> GeneratorSource:
    """A TorchScript file; metadata from its extra file ``gandiag.json``."""
    from .safe_load import load_torchscript

    path = Path(spec)
    extra = {META_FILE: ""}
    module = load_torchscript(path, map_location=o.device, extra_files=extra)
    module.eval()
    return _finish(module, _read_meta_json(extra[META_FILE], str(path)), "torchscript", where=str(path), **_opts(o))


def open_pickle(spec: str, o) -> GeneratorSource:
    """A pickled module or callable: refused unless ``trust_pickle``."""
    return _load_torch_file(Path(spec), trust_pickle=o.trust_pickle, opts=_opts(o))


def _load_export(path: Path, device: str, trust_pickle: bool = False):
    from .safe_load import load_export

    extra = {META_FILE: ""}
    program = load_export(path, trust_pickle=trust_pickle, extra_files=extra)  # inspected first: no code runs
    module = program.module()
    if device != "cpu":
        module = module.to(device)
    return module, _read_meta_json(extra[META_FILE], str(path))


def _load_torch_file(path: Path, *, trust_pickle: bool, opts) -> GeneratorSource:
    import pickle

    import torch

    from .safe_load import PICKLE_HINT, UnsafeFileError, is_plain_pickle, load_trusted_pickle

    if is_plain_pickle(path):
        # A pickle.dump file: refused before a byte is unpickled, or read once with pickle.load
        # (torch.load would run its first object and then fail on the missing magic number).
        if not trust_pickle:
            raise UnsafeFileError(f"{path} is a Python pickle; {PICKLE_HINT}")
        return _trusted_object(load_trusted_pickle(path), path, opts)
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        if not trust_pickle:
            raise GandiagError(
                f"{path} is a pickle with Python objects beyond tensors; loading it can run arbitrary code. "
                "If you trust its author, pass --trust-pickle (trust_pickle=True)"
            ) from None
        try:
            obj = torch.load(str(path), map_location="cpu", weights_only=False)
        except Exception as exc2:
            raise GandiagError(f"cannot load {path}: {exc2}") from None
        return _trusted_object(obj, path, opts)
    except Exception as exc:
        raise GandiagError(f"cannot load {path}: corrupt or not a torch file ({type(exc).__name__}: {exc})") from None
    raise GandiagError(
        f"{path} holds a {type(obj).__name__} of tensors, not a generator: gandiag cannot rebuild a network from "
        "weights; export the generator with torch.jit.save, torch.export or ONNX, or pass a package.module:callable"
    )


def _trusted_object(obj, path: Path, opts) -> GeneratorSource:
    import torch

    if isinstance(obj, torch.nn.Module):
        obj.eval().to(opts["device"])
        meta = getattr(obj, "gandiag_meta", {}) or {}
        if not isinstance(meta, dict):
            raise GandiagError(f"{path}: attribute gandiag_meta must be a dict")
        return _finish(obj, dict(meta), "pickle", where=str(path), **opts)
    if callable(obj):
        return _finish(obj, {}, "pickle", where=str(path), **opts)
    raise GandiagError(f"{path} unpickled to a {type(obj).__name__}, not a generator module")


def _load_callable(spec: str, device: str):
    import torch

    mod_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(mod_name)
    except ImportError as exc:
        raise GandiagError(f"cannot import {mod_name!r} for {spec!r}: {exc} (is it on PYTHONPATH?)") from None
    except SystemExit as exc:
        raise GandiagError(f"importing {mod_name!r} called sys.exit({exc.code!r}); a generator module must not "
                           "exit the process") from None
    except Exception as exc:
        raise GandiagError(f"importing {mod_name!r} for {spec!r} failed: {type(exc).__name__}: {exc}") from None
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise GandiagError(f"{mod_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not isinstance(obj, torch.nn.Module) and callable(obj) and _takes_no_arguments(obj):
        try:
            obj = obj()  # a factory that returns the generator
        except GandiagError:
            raise
        except SystemExit as exc:
            raise GandiagError(f"the factory {spec}() called sys.exit({exc.code!r}); it must return a "
                               "generator") from None
        except Exception as exc:
            raise GandiagError(f"the factory {spec}() raised {type(exc).__name__}: {exc}") from None
    if isinstance(obj, torch.nn.Module):
        obj = obj.to(device).eval()
    elif not callable(obj):
        raise GandiagError(f"{spec} is a {type(obj).__name__}, not a generator or callable")
    meta = getattr(obj, "gandiag_meta", None) or {}
    if not isinstance(meta, dict):
        raise GandiagError(f"{spec}: attribute gandiag_meta must be a dict")
    return obj, dict(meta)


def _takes_no_arguments(fn) -> bool:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    return all(p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
               for p in sig.parameters.values())


__all__ = ["GeneratorSource", "load_generator", "is_generator_spec", "open_callable", "open_export",
           "open_torchscript", "open_pickle", "META_FILE"]

