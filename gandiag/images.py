"""The one canonical in-memory image format, and checked conversion into it.

**Canonical images** are a ``numpy.ndarray`` of dtype ``float32``, shape
``(N, C, H, W)`` (NCHW), ``C`` in ``{1, 3}``, with every value in ``[0, 1]``.
Every module boundary in gandiag (sources -> extractors -> metrics, reports,
human-study kits) passes images in this form. Conversion happens once, at the
source, through :func:`to_canonical`; nothing downstream re-guesses ranges.

Rules of :func:`to_canonical` (nothing is guessed silently):

* ``uint8`` input is ``0..255`` and is divided by 255 (exact).
* Floating-point input is taken to be in ``[0, 1]`` unless ``value_range`` says
  ``"-1,1"`` (tanh generators) or ``"0,255"``. Values outside the declared range
  are an error that names the flag (``value_range=`` / ``--output-range``).
  Other integer dtypes need an explicit ``value_range``.
* 4-D input is NCHW or NHWC. When the channel axis is evident (size 1 or 3 on
  exactly one side) it is used; when both ends could be channels (e.g.
  ``(N, 3, 3, 3)``) the call fails and asks for ``layout=``.
* 3-D input ``(N, H, W)`` is a stack of grayscale images; 2-D input
  ``(N, k*k)`` is a stack of flattened square grayscale images (MNIST's 784).
* NaN or Inf anywhere is an error.
"""
from __future__ import annotations

import math
from typing import Optional, Tuple, Union

import numpy as np

from .errors import GandiagError

ArrayLike = Union[np.ndarray, "torch.Tensor"]  # noqa: F821 (torch is optional here)

RANGES = {"0,1": (0.0, 1.0), "-1,1": (-1.0, 1.0), "0,255": (0.0, 255.0)}
LAYOUTS = ("NCHW", "NHWC")
# Float tolerance for values a hair outside the declared range (e.g. 1.0000001
# from a sigmoid in float32); such values are clipped, anything larger is an error.
_RANGE_TOL = 1e-4


def parse_range(value_range: Union[None, str, Tuple[float, float]]) -> Optional[Tuple[float, float]]:
    """Parse ``"-1,1"``-style strings (CLI) or pairs into ``(lo, hi)``."""
    if value_range is None:
        return None
    if isinstance(value_range, str):
        key = value_range.replace(" ", "")
        if key in RANGES:
            return RANGES[key]
        try:
            lo, hi = (float(p) for p in key.split(","))
        except ValueError:
            raise GandiagError(
                f"invalid value range {value_range!r}: expected 'LO,HI', e.g. '0,1', '-1,1' or '0,255'"
            ) from None
    else:
        try:
            lo, hi = (float(v) for v in value_range)
        except (TypeError, ValueError):
            raise GandiagError(f"invalid value range {value_range!r}: expected a pair (lo, hi)") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise GandiagError(f"invalid value range {value_range!r}: need finite LO < HI")
    return lo, hi


def _as_numpy(x: ArrayLike, name: str) -> np.ndarray:
    if type(x).__module__.startswith("torch"):
        x = x.detach().cpu()
        if str(x.dtype) in ("torch.bfloat16", "torch.float16"):
            x = x.float()
        x = x.numpy()
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except Exception as exc:  # pragma: no cover - exotic inputs
            raise GandiagError(f"{name}: cannot convert {type(x).__name__} to an array ({exc})") from None
    return x


def _to_nchw(x: np.ndarray, layout: Optional[str], name: str) -> np.ndarray:
    if x.ndim == 2:
        side = int(round(math.sqrt(x.shape[1])))
        if side * side != x.shape[1]:
            raise GandiagError(
                f"{name}: 2-D input of shape {x.shape} is not a stack of flattened square grayscale "
                "images; reshape it to (N, C, H, W) or (N, H, W, C) first"
            )
        return x.reshape(x.shape[0], 1, side, side)
    if x.ndim == 3:
        if x.shape[-1] in (3, 4) and x.shape[1] > 4:
            raise GandiagError(
                f"{name}: 3-D input of shape {x.shape} looks like one (H, W, C) image; 3-D arrays are "
                "read as (N, H, W) grayscale stacks, so add a batch axis: x[None]"
            )
        return x[:, None, :, :]
    if x.ndim != 4:
        raise GandiagError(
            f"{name}: expected images of shape (N, C, H, W) or (N, H, W, C), got {x.ndim}-D shape {x.shape}"
        )
    if layout is not None:
        layout = layout.upper()
        if layout not in LAYOUTS:
            raise GandiagError(f"{name}: layout must be one of {LAYOUTS}, got {layout!r}")
    else:
        first, last = x.shape[1] in (1, 3, 4), x.shape[3] in (1, 3, 4)
        if first and not last:
            layout = "NCHW"
        elif last and not first:
            layout = "NHWC"
        elif not (first or last):
            raise GandiagError(
                f"{name}: expected 1 or 3 channels on axis 1 (NCHW) or axis 3 (NHWC), got shape {x.shape}"
            )
        else:
            raise GandiagError(
                f"{name}: cannot tell whether shape {x.shape} is NCHW or NHWC; pass layout='NCHW' or "
                "'NHWC' (CLI: --layout)"
            )
    if layout == "NHWC":
        x = x.transpose(0, 3, 1, 2)
    return x


def to_canonical(
    x: ArrayLike,
    *,
    value_range: Union[None, str, Tuple[float, float]] = None,
    layout: Optional[str] = None,
    name: str = "images",
) -> np.ndarray:
    """Convert images to canonical float32 NCHW in ``[0, 1]`` with checks.

    Args:
        x: array or tensor, uint8 or float, 2-D/3-D/4-D as described in the module doc.
        value_range: ``"0,1"`` (default for floats), ``"-1,1"``, ``"0,255"`` or a pair.
            uint8 input is always 0..255 and rejects any other declared range.
        layout: ``"NCHW"`` or ``"NHWC"`` when the shape alone is ambiguous.
        name: what the images are, used in error messages.

    Returns:
        ``float32`` array ``(N, C, H, W)`` with ``C`` in ``{1, 3}`` and values in ``[0, 1]``.

    Raises:
        GandiagError: on empty input, unsupported dtype/shape/channel count, NaN/Inf,
            values outside the declared range, or an ambiguous layout.
    """
    x = _as_numpy(x, name)
    if x.dtype == np.bool_ or x.dtype.kind not in "uif":
        raise GandiagError(f"{name}: unsupported dtype {x.dtype}; use uint8 (0..255) or float images")
    if x.size == 0 or x.shape[0] == 0:
        raise GandiagError(f"{name}: got no images (shape {x.shape})")
    declared = parse_range(value_range)
    if x.dtype == np.uint8:
        if declared not in (None, (0.0, 255.0)):
            raise GandiagError(
                f"{name}: uint8 images are always 0..255, but value range {value_range!r} was declared"
            )
        declared = (0.0, 255.0)
    elif x.dtype.kind in "iu" and declared is None:
        raise GandiagError(
            f"{name}: integer dtype {x.dtype} has no standard range; convert to uint8 or pass "
            "value_range='0,255' (CLI: --output-range 0,255)"
        )
    elif declared is None:
        declared = (0.0, 1.0)
    x = _to_nchw(x, layout, name)
    channels = x.shape[1]
    if channels not in (1, 3):
        hint = " (RGBA: drop the alpha channel first)" if channels == 4 else ""
        raise GandiagError(f"{name}: expected 1 or 3 channels, got {channels} in shape {x.shape}{hint}")
    x = x.astype(np.float32, copy=False) if x.dtype.kind == "f" else x.astype(np.float32)
    if not np.isfinite(x).all():
        bad = int((~np.isfinite(x)).reshape(x.shape[0], -1).any(axis=1).sum())
        raise GandiagError(f"{name}: {bad} of {x.shape[0]} images contain NaN or Inf values")
    lo, hi = declared
    xmin, xmax = float(x.min()), float(x.max())
    tol = _RANGE_TOL * (hi - lo)
    if xmin < lo - tol or xmax > hi + tol:
        hint = ""
        if xmin < 0 and declared == (0.0, 1.0):
            hint = "; a tanh generator needs value_range='-1,1' (CLI: --output-range -1,1)"
        elif xmax > 1 and declared[1] <= 1:
            hint = "; for 0..255 floats pass value_range='0,255' (CLI: --output-range 0,255)"
        raise GandiagError(
            f"{name}: values span [{xmin:.4g}, {xmax:.4g}], outside the declared range "
            f"[{lo:g}, {hi:g}]{hint}"
        )
    if (lo, hi) != (0.0, 1.0):
        x = (x - lo) / (hi - lo)
    return np.ascontiguousarray(np.clip(x, 0.0, 1.0, out=x if x.flags.writeable else None), dtype=np.float32)


def check_canonical(x: np.ndarray, name: str = "images") -> np.ndarray:
    """Verify ``x`` already is canonical (cheap checks); return it unchanged."""
    if not isinstance(x, np.ndarray) or x.dtype != np.float32 or x.ndim != 4 or x.shape[1] not in (1, 3):
        shape = getattr(x, "shape", None)
        dtype = getattr(x, "dtype", type(x).__name__)
        raise GandiagError(
            f"{name}: expected canonical float32 (N, C, H, W) images with C in {{1, 3}}, got "
            f"{dtype} {shape}; convert with gandiag.images.to_canonical"
        )
    return x


def to_uint8(x: np.ndarray) -> np.ndarray:
    """Canonical images -> uint8 NCHW, rounding to nearest (what saving a PNG does)."""
    check_canonical(x)
    return np.rint(x * 255.0).astype(np.uint8)


def to_rgb(x: np.ndarray) -> np.ndarray:
    """Canonical images -> 3 channels (grayscale is repeated; RGB returned as is)."""
    check_canonical(x)
    return np.repeat(x, 3, axis=1) if x.shape[1] == 1 else x


def flatten(x: np.ndarray) -> np.ndarray:
    """Canonical images -> ``(N, C*H*W)`` float32 rows (pixel-space features)."""
    check_canonical(x)
    return x.reshape(x.shape[0], -1)
