"""Report figures: matplotlib drawings of evaluation and diagnosis results, as PNG bytes.

Every function takes plain data (canonical images or the dicts that
:func:`gandiag.evaluation.evaluate` and the collapse diagnosis produce) and returns
the bytes of one PNG, ready to embed in the HTML report as a ``data:`` URI.

No global matplotlib state is touched: figures are built with
:class:`matplotlib.figure.Figure` and drawn by :class:`FigureCanvasAgg` (never
``pyplot``), and the report's font sizes are applied with ``rc_context``, which
restores the previous settings on exit. Image grids are drawn pixel-exact
(integer upscaling, ``interpolation="nearest"``), so digits are never blurred.
PNG metadata carries no software version, so the same input gives the same bytes.
"""
from __future__ import annotations

import io
import math
from typing import List, Mapping, Optional, Sequence

import numpy as np
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter

from ..errors import GandiagError
from ..images import check_canonical

# One look for every figure: readable sizes at the width the HTML page shows them (~760 px).
_STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 11,
    "axes.titlesize": 13,
    "axes.titleweight": "bold",
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.dpi": 100,
    "savefig.dpi": 100,
}
# Above this many classes, per-class labels and cell annotations would be unreadable.
MANY_CLASSES = 40
GENERATED = "#1f6fb4"
REFERENCE = "#a0a0a0"
BAD = "#c62828"
GOOD = "#2e7d32"
ACCENT = "#ef6c00"


def _png(fig: Figure) -> bytes:
    """Draw ``fig`` with Agg and return PNG bytes (no software/version metadata)."""
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _finite(values) -> np.ndarray:
    """Float64 array with JSON ``None`` (non-finite values in metrics.json) turned into NaN."""
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def _require(mapping: Mapping, keys: Sequence[str], what: str) -> None:
    if not isinstance(mapping, Mapping):
        raise GandiagError(f"{what}: expected a dict, got {type(mapping).__name__}")
    missing = [k for k in keys if k not in mapping]
    if missing:
        raise GandiagError(f"{what}: missing key(s) {', '.join(missing)}; pass the dict from metrics.json as is")


_LEGEND_ABOVE = dict(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=3, frameon=False, borderaxespad=0.2)


def _percent_fn(value, _pos=None) -> str:
    whole = abs(value * 100 - round(value * 100)) < 1e-9
    return f"{value:.0%}" if whole else f"{value:.1%}"


_percent = FuncFormatter(_percent_fn)


def _fmt(value: float) -> str:
    """A number with precision that suits its size (1077.2, 12.34, 0.0123)."""
    a = abs(value)
    return f"{value:.1f}" if a >= 100 else f"{value:.2f}" if a >= 1 else f"{value:.3g}"


# ----------------------------------------------------------------------------------------- images
def _tile(images: np.ndarray, nrow: int, pad: int, pad_value: float) -> np.ndarray:
    """Canonical ``(N, C, H, W)`` -> one ``(rows*(H+pad)+pad, cols*(W+pad)+pad, C)`` mosaic."""
    n, c, h, w = images.shape
    cols = min(nrow, n)
    rows = int(math.ceil(n / cols))
    mosaic = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), pad_value, dtype=np.float32)
    for i in range(n):
        r, q = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + q * (w + pad)
        mosaic[y:y + h, x:x + w] = images[i].transpose(1, 2, 0)
    return mosaic


def _box_downsample(images: np.ndarray, factor: int) -> np.ndarray:
    """Average non-overlapping ``factor x factor`` blocks (edges cropped): an area downscale, no ringing."""
    n, c, h, w = images.shape
    h2, w2 = max(1, h // factor), max(1, w // factor)
    factor_h, factor_w = h // h2, w // w2
    crop = images[:, :, :h2 * factor_h, :w2 * factor_w]
    return crop.reshape(n, c, h2, factor_h, w2, factor_w).mean(axis=(3, 5), dtype=np.float64).astype(np.float32)


def _show(ax, image_hwc: np.ndarray) -> None:
    """imshow of one ``(H, W, C)`` canonical image: gray colormap for C=1, no smoothing."""
    if image_hwc.shape[2] == 1:
        ax.imshow(image_hwc[:, :, 0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    else:
        ax.imshow(np.clip(image_hwc, 0.0, 1.0), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)


def sample_grid(images: np.ndarray, nrow: int = 8, *, title: Optional[str] = None,
                target_width: int = 760) -> bytes:
    """A grid of images, pixel-exact (each image pixel becomes an integer block of pixels).

    Args:
        images: canonical float32 ``(N, C, H, W)`` in ``[0, 1]``, N >= 1.
        nrow: images per row (torchvision's ``make_grid`` convention).
        title: optional heading drawn above the grid.
        target_width: approximate output width in pixels; the upscale factor is the
            largest integer that keeps the grid at most this wide (at least 1).

    Returns:
        PNG bytes.
    """
    check_canonical(images, "sample_grid(images)")
    if len(images) == 0:
        raise GandiagError("sample_grid(images): no images to draw")
    if not isinstance(nrow, (int, np.integer)) or nrow < 1:
        raise GandiagError(f"sample_grid(nrow): must be a positive integer (images per row), got {nrow!r}")
    cols = min(int(nrow), len(images))
    shrink = int(math.ceil(cols * (images.shape[3] + 2) / max(target_width, 1)))
    if shrink > 1:  # large images (e.g. 256x256): box-average down so the page stays small
        images = _box_downsample(images, shrink)
    # Light-gray gutters separate white-on-black digits without merging them into one block.
    mosaic = _tile(images, int(nrow), pad=2, pad_value=0.75)
    scale = max(1, target_width // mosaic.shape[1])
    big = np.repeat(np.repeat(mosaic, scale, axis=0), scale, axis=1)
    head = 34 if title else 0
    height, width = big.shape[0] + head, big.shape[1]
    # uint8 RGB is drawn as is: the same rounding as gandiag.images.to_uint8, no colormap quantization.
    rgb = np.rint((np.repeat(big, 3, axis=2) if big.shape[2] == 1 else big) * 255.0).astype(np.uint8)
    with rc_context(_STYLE):
        fig = Figure(figsize=(width / 100, height / 100), dpi=100)
        fig.figimage(rgb, xo=0, yo=0, origin="upper")
        if title:
            fig.text(0.5, 1 - 17 / height, title, ha="center", va="center", fontsize=13, fontweight="bold")
        return _png(fig)


def _ordinal(i: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(i, f"{i}th")


def neighbour_grid(queries: np.ndarray, neighbours: np.ndarray, title: str = "Nearest training images", *,
                   distances=None, threshold: Optional[float] = None, distance_name: str = "d") -> bytes:
    """One row per query: the generated image, then its k nearest training images.

    Args:
        queries: canonical ``(Q, C, H, W)`` generated images.
        neighbours: ``(Q, k, C, H, W)`` training images, nearest first.
        title: figure title (e.g. "Pixel space (L2)").
        distances: optional ``(Q, k)`` distances, printed under each neighbour.
        threshold: optional copy threshold (tau): neighbours closer than it are framed
            and labelled in red ("closer than 95 % of held-out real images are").
        distance_name: symbol printed before each distance.

    Returns:
        PNG bytes.
    """
    check_canonical(queries, "neighbour_grid(queries)")
    neighbours = np.asarray(neighbours)
    if neighbours.ndim != 5 or neighbours.shape[0] != queries.shape[0] or neighbours.shape[2:] != queries.shape[1:]:
        raise GandiagError(f"neighbour_grid(neighbours): expected shape (Q, k, C, H, W) = ({queries.shape[0]}, k, "
                           f"{', '.join(map(str, queries.shape[1:]))}), got {neighbours.shape}")
    q, k = neighbours.shape[:2]
    if distances is not None:
        distances = np.asarray(distances, dtype=np.float64)
        if distances.shape != (q, k):
            raise GandiagError(f"neighbour_grid(distances): expected shape ({q}, {k}), got {distances.shape}")
    cell, label_h = 0.9, (0.26 if distances is not None else 0.0)
    gap = 0.35  # inches between the query column and the neighbours
    width = (k + 1) * cell + gap + 0.3
    height = q * (cell + label_h) + 0.75
    with rc_context(_STYLE):
        fig = Figure(figsize=(width, height))
        fig.suptitle(title, fontsize=13, fontweight="bold", y=1 - 0.18 / height)
        top = 1 - 0.62 / height
        for r in range(q):
            y = top - (r + 1) * (cell + label_h) / height + label_h / height
            for c in range(k + 1):
                x = (0.15 + c * cell + (gap if c else 0)) / width
                ax = fig.add_axes((x, y, (cell - 0.06) / width, (cell - 0.06) / height))
                img = np.asarray(queries[r] if c == 0 else neighbours[r, c - 1], dtype=np.float32)
                if img.shape[-1] > 96:  # keep the embedded PNG small; the cell is ~90 px anyway
                    img = _box_downsample(img[None], int(math.ceil(img.shape[-1] / 96)))[0]
                _show(ax, img.transpose(1, 2, 0))
                close = (c > 0 and distances is not None and threshold is not None
                         and distances[r, c - 1] < threshold)
                colour = GENERATED if c == 0 else (BAD if close else "#555555")
                for side in ax.spines.values():
                    side.set_visible(True)
                    side.set_color(colour)
                    side.set_linewidth(2.5 if (c == 0 or close) else 0.8)
                if r == 0:
                    ax.set_title("generated" if c == 0 else _ordinal(c), fontsize=10, fontweight="normal",
                                 color=GENERATED if c == 0 else "black", pad=3)
                if c > 0 and distances is not None:
                    ax.set_xlabel(f"{distance_name}={distances[r, c - 1]:.2f}", fontsize=9, labelpad=2,
                                  color=BAD if close else "black")
        return _png(fig)


# ------------------------------------------------------------------------------------- metric plots
def class_histogram(modes: Mapping) -> bytes:
    """Share of generated samples per class next to the reference data's share.

    Missing classes (fewer than ``threshold`` samples) get red bars, a red tick
    label and a "missing" label; the dashed line is the coverage threshold as a share.

    Args:
        modes: the ``"modes"`` dict of metrics.json (``fractions``, ``missing``,
            ``num_classes``, ``num_samples``, ``threshold``; ``reference_fractions`` optional).

    Returns:
        PNG bytes.
    """
    _require(modes, ("fractions", "num_classes", "missing"), "class_histogram(modes)")
    fractions = _finite(modes["fractions"])
    k = int(modes["num_classes"])
    if len(fractions) != k:
        raise GandiagError(f"class_histogram(modes): {len(fractions)} fractions for num_classes={k}")
    reference = modes.get("reference_fractions")
    missing = set(int(c) for c in modes["missing"])
    x = np.arange(k)
    many = k > MANY_CLASSES  # e.g. Stacked MNIST's 1000 modes: no per-class labels, missing as a red rug
    with rc_context(_STYLE):
        fig = Figure(figsize=(min(12.0, max(7.6, 0.5 * k + 2)), 3.9))
        ax = fig.add_axes((0.1, 0.15, 0.87, 0.72))
        width = 0.4 if reference is not None and not many else (1.0 if many else 0.7)
        offset = width / 2 if reference is not None and not many else 0.0
        colours = [BAD if c in missing else GENERATED for c in range(k)]
        ax.bar(x - offset, fractions, width, color=colours, label="generated", zorder=3)
        if reference is not None and many:
            ax.step(x, _finite(reference), where="mid", color=REFERENCE, linewidth=1.2, label="reference data",
                    zorder=4)
        elif reference is not None:
            ax.bar(x + offset, _finite(reference), width, color=REFERENCE, label="reference data", zorder=3)
        if modes.get("threshold") and modes.get("num_samples"):
            share = float(modes["threshold"]) / float(modes["num_samples"])
            ax.axhline(share, color=BAD, linestyle="--", linewidth=1.2, zorder=4,
                       label=f"coverage threshold ({share * 100:.2g}%)")
        top = max(np.nanmax(fractions), np.nanmax(_finite(reference)) if reference is not None else 0.0, 0.05)
        ax.set_ylim(0, top * 1.22)
        if many:
            if missing:
                ax.plot(sorted(missing), np.full(len(missing), top * 0.02), "|", color=BAD, markersize=12,
                        zorder=5, label=f"missing ({len(missing)})")
            ax.set_xlim(-1, k)
        else:
            for c in sorted(missing):
                ax.text(c - offset, top * 0.05, "missing", rotation=90, ha="center", va="bottom", color=BAD,
                        fontsize=10, fontweight="bold", zorder=5)
            ax.set_xticks(x)
            ax.set_xticklabels([str(c) for c in x])
            for c, tick in enumerate(ax.get_xticklabels()):
                if c in missing:
                    tick.set_color(BAD)
                    tick.set_fontweight("bold")
        ax.yaxis.set_major_formatter(_percent)
        ax.set_xlabel("class (classifier's label)")
        ax.set_ylabel("share of samples")
        covered = modes.get("covered", k - len(missing))
        ax.set_title(f"Class histogram: {covered}/{k} classes covered")
        ax.grid(axis="x", visible=False)
        ax.legend(loc="upper right", ncol=4, frameon=False)
        return _png(fig)


def parzen_curve(parzen: Mapping) -> bytes:
    """Validation log-likelihood against the Parzen window width sigma (log x axis).

    The chosen sigma (best on the validation half) is marked; when it sits at the edge
    of the searched grid the figure says so, because the true optimum may lie outside.

    Args:
        parzen: the ``"parzen"`` dict of metrics.json (``sigmas``,
            ``validation_log_likelihoods``, ``sigma``, ``mean``, ``stderr``).

    Returns:
        PNG bytes.
    """
    _require(parzen, ("sigmas", "validation_log_likelihoods", "sigma"), "parzen_curve(parzen)")
    sigmas, lls = _finite(parzen["sigmas"]), _finite(parzen["validation_log_likelihoods"])
    if len(sigmas) != len(lls) or len(sigmas) == 0:
        raise GandiagError(f"parzen_curve(parzen): {len(sigmas)} sigmas but {len(lls)} log-likelihoods")
    chosen = float(parzen["sigma"])
    with rc_context(_STYLE):
        fig = Figure(figsize=(7.6, 3.9))
        ax = fig.add_axes((0.12, 0.15, 0.84, 0.72))
        ok = np.isfinite(lls)
        ax.plot(sigmas[ok], lls[ok], "o-", color=GENERATED, label="validation log-likelihood", zorder=3)
        ax.set_xscale("log")
        ax.axvline(chosen, color=ACCENT, linestyle="--", linewidth=1.5, zorder=2)
        at = np.argmin(np.abs(np.log(sigmas) - math.log(chosen))) if chosen > 0 else 0
        label = f"chosen σ = {chosen:.3g}"
        if parzen.get("mean") is not None:
            label += f"\ntest LL = {float(parzen['mean']):.4g}"
            if parzen.get("stderr") is not None:
                label += f" ± {float(parzen['stderr']):.2g} (s.e.)"
        ax.plot([chosen], [lls[at]], "*", color=ACCENT, markersize=16, zorder=4, label=label)
        if at in (0, len(sigmas) - 1) and len(sigmas) > 1:
            ax.text(0.5, 0.04, "chosen σ is at the edge of the searched grid: widen it (parzen_sigmas)",
                    transform=ax.transAxes, ha="center", va="bottom", color=BAD, fontsize=10)
        ax.set_xlabel("window width σ (log scale)")
        ax.set_ylabel("mean log-likelihood (nats)")
        ax.set_title("Parzen window: σ chosen on validation data")
        ax.legend(loc="best", frameon=False)
        return _png(fig)


def fid_curve(fid_inf: Mapping) -> bytes:
    """FID on random subsets against 1/N, the fitted line, and its intercept FID∞.

    Args:
        fid_inf: the ``"fid_inf"`` dict of metrics.json (``ns``, ``fids``, ``fid_inf``, ``slope``).

    Returns:
        PNG bytes.
    """
    _require(fid_inf, ("ns", "fids", "fid_inf", "slope"), "fid_curve(fid_inf)")
    ns, fids = _finite(fid_inf["ns"]), _finite(fid_inf["fids"])
    if len(ns) != len(fids) or len(ns) == 0 or np.any(ns <= 0):
        raise GandiagError(f"fid_curve(fid_inf): need matching positive ns and fids, got {len(ns)} and {len(fids)}")
    intercept, slope = float(fid_inf["fid_inf"]), float(fid_inf["slope"])
    inv = 1.0 / ns
    with rc_context(_STYLE):
        fig = Figure(figsize=(7.6, 3.9))
        ax = fig.add_axes((0.12, 0.15, 0.84, 0.72))
        line_x = np.linspace(0.0, inv.max() * 1.08, 50)
        ax.plot(line_x, intercept + slope * line_x, "-", color=REFERENCE, linewidth=1.5,
                label=f"fit: FID = {intercept:.4g} + {slope:.4g} / N", zorder=2)
        ax.plot(inv, fids, "o", color=GENERATED, label="FID on N random samples", zorder=3)
        ax.plot([0.0], [intercept], "*", color=ACCENT, markersize=16, label=f"FID∞ = {intercept:.4g}", zorder=4)
        for n, x, y in zip(ns, inv, fids):
            if np.isfinite(y):
                ax.annotate(f"N={int(n)}", (x, y), textcoords="offset points", xytext=(0, 8), ha="center",
                            fontsize=9)
        ax.set_xlim(left=-inv.max() * 0.03)
        ax.set_xlabel("1 / N  (N = number of generated samples)")
        ax.set_ylabel("FID")
        ax.set_title("FID against sample size, extrapolated to N → ∞")
        ax.legend(loc="upper left", frameon=False)
        return _png(fig)


# ------------------------------------------------------------------------------------ diagnosis plots
def _checkpoints(checkpoints: Sequence[Mapping], what: str) -> List[Mapping]:
    if not isinstance(checkpoints, Sequence) or len(checkpoints) == 0:
        raise GandiagError(f"{what}: expected a non-empty list of checkpoint dicts, got {checkpoints!r:.80}")
    for i, ckpt in enumerate(checkpoints):
        _require(ckpt, ("label", "step"), f"{what}[{i}]")
    return list(checkpoints)


def _steps(checkpoints: Sequence[Mapping]) -> np.ndarray:
    steps = [c.get("step") for c in checkpoints]
    if all(isinstance(s, (int, float, np.integer, np.floating)) for s in steps):
        return np.asarray(steps, dtype=np.float64)
    return np.arange(len(checkpoints), dtype=np.float64)  # unknown steps: checkpoint order


def coverage_over_steps(checkpoints: Sequence[Mapping]) -> bytes:
    """Classes covered (top) and KL to the reference class histogram (bottom) per checkpoint.

    Args:
        checkpoints: the diagnosis ``"checkpoints"`` list (``step``, ``covered``,
            ``num_classes``, ``kl_to_reference``).

    Returns:
        PNG bytes.
    """
    checkpoints = _checkpoints(checkpoints, "coverage_over_steps(checkpoints)")
    for i, c in enumerate(checkpoints):
        _require(c, ("covered", "num_classes"), f"coverage_over_steps(checkpoints)[{i}]")
    steps = _steps(checkpoints)
    covered = _finite([c["covered"] for c in checkpoints])
    k = int(checkpoints[-1]["num_classes"])
    kl = _finite([c.get("kl_to_reference") for c in checkpoints])
    with rc_context(_STYLE):
        fig = Figure(figsize=(7.6, 5.0))
        fig.suptitle("Mode coverage over training", fontsize=13, fontweight="bold", y=0.975)
        ax = fig.add_axes((0.12, 0.47, 0.84, 0.36))
        ax.axhline(k, color=GOOD, linestyle="--", linewidth=1.2, label=f"all {k} classes")
        ax.plot(steps, covered, "o-", color=GENERATED, label="classes covered", zorder=3)
        bad = covered < k
        ax.plot(steps[bad], covered[bad], "o", color=BAD, zorder=4, label="some class missing")
        ax.set_ylim(0, k + 0.8)
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_ylabel("classes covered")
        ax.legend(**_LEGEND_ABOVE)  # above the axes: the curve can be anywhere inside
        ax.tick_params(labelbottom=False)
        bx = fig.add_axes((0.12, 0.1, 0.84, 0.3), sharex=ax)
        if np.isfinite(kl).any():
            bx.plot(steps, kl, "s-", color=ACCENT, zorder=3)
            bx.set_ylim(bottom=0)
        else:
            bx.text(0.5, 0.5, "no reference histogram: KL not computed", transform=bx.transAxes, ha="center")
        bx.set_ylabel("KL to data (nats)")
        bx.set_xlabel("training step")
        return _png(fig)


def class_share_over_steps(checkpoints: Sequence[Mapping], *, vanished: Sequence[Mapping] = (),
                           reference_fractions: Optional[Sequence[float]] = None) -> bytes:
    """Heat map of each class's share of samples at each checkpoint.

    Rows are classes, columns checkpoints (plus the reference data's share as the
    last column when given). Uncovered cells carry a red ×; classes that vanished
    get a red row label saying at which step they disappeared.

    Args:
        checkpoints: the diagnosis ``"checkpoints"`` list (``fractions``, ``missing``, ``step``).
        vanished: the verdict's ``"vanished"`` list (``class``, ``vanished_at_step``).
        reference_fractions: optional (K,) class shares of the real data.

    Returns:
        PNG bytes.
    """
    checkpoints = _checkpoints(checkpoints, "class_share_over_steps(checkpoints)")
    for i, c in enumerate(checkpoints):
        _require(c, ("fractions",), f"class_share_over_steps(checkpoints)[{i}]")
    k = len(checkpoints[-1]["fractions"])
    if any(len(c["fractions"]) != k for c in checkpoints):
        raise GandiagError("class_share_over_steps(checkpoints): every checkpoint needs the same number of fractions")
    shares = np.stack([_finite(c["fractions"]) for c in checkpoints], axis=1)  # (K, T)
    columns = [f"{int(c['step'])}" if isinstance(c["step"], (int, np.integer)) else str(c["label"])
               for c in checkpoints]
    if reference_fractions is not None:
        if len(reference_fractions) != k:
            raise GandiagError(f"class_share_over_steps(reference_fractions): expected {k} values, "
                               f"got {len(reference_fractions)}")
        shares = np.concatenate([shares, _finite(reference_fractions)[:, None]], axis=1)
        columns.append("data")
    t = shares.shape[1]
    gone = {int(v["class"]): v for v in vanished}
    with rc_context(_STYLE):
        # Constrained layout sizes the margins to fit the "vanished" notes right of the map.
        many = k > MANY_CLASSES
        label_gone = bool(gone) and len(gone) <= 12 and not many  # else: red boxes and a count in the title
        fig = Figure(figsize=(min(13.0, max(7.6, 0.55 * t + 3.8)), min(6.0, max(3.8, 0.36 * k + 1.8))),
                     layout="constrained")
        ax = fig.add_subplot()
        vmax = max(2.0 / k, float(np.nanmax(shares)))  # 20 % for 10 classes: a fair share sits mid-scale
        im = ax.imshow(shares, aspect="auto", cmap="Blues", vmin=0.0, vmax=vmax, interpolation="nearest")
        ax.grid(False)
        for side in ax.spines.values():
            side.set_visible(True)
        missing_at = [set(int(m) for m in c.get("missing", ())) for c in checkpoints]
        if not many:
            for ci, cells in enumerate(missing_at):
                for cls in cells:
                    ax.text(ci, cls, "×", ha="center", va="center", color=BAD, fontsize=14 if t <= 20 else 8,
                            fontweight="bold")
        if t <= 14 and k <= 12:  # numbers fit in the cells
            for cls in range(k):
                for ci in range(t):
                    if np.isfinite(shares[cls, ci]) and not (ci < len(checkpoints) and cls in missing_at[ci]):
                        ax.text(ci, cls, f"{shares[cls, ci]:.0%}", ha="center", va="center", fontsize=8,
                                color="white" if shares[cls, ci] > 0.6 * vmax else "#222222")
        if reference_fractions is not None:
            ax.axvline(t - 1.5, color="black", linewidth=2)
        every = int(math.ceil(t / 20))  # at most ~20 step labels
        ticks = sorted(set(range(0, t, every)) | ({t - 1} if reference_fractions is not None else set()))
        ax.set_xticks(ticks)
        ax.set_xticklabels([columns[i] for i in ticks], rotation=45 if len(ticks) > 12 else 0,
                           ha="right" if len(ticks) > 12 else "center")
        if not many:
            ax.set_yticks(range(k))
            ax.set_yticklabels([str(c) for c in range(k)])
            for cls, tick in enumerate(ax.get_yticklabels()):
                if cls in gone:
                    tick.set_color(BAD)
                    tick.set_fontweight("bold")
        for cls, v in gone.items():
            col = next((i for i, c in enumerate(checkpoints) if c.get("step") == v.get("vanished_at_step")), None)
            if col is not None:
                ax.add_patch(_cell_box(col, cls))
            if not label_gone:
                continue
            ax.annotate(f"class {cls} vanished\nat step {v.get('vanished_at_step')}", xy=(1.0, cls),
                        xycoords=("axes fraction", "data"), xytext=(6, 0), textcoords="offset points",
                        va="center", ha="left", color=BAD, fontsize=9, annotation_clip=False)
        ax.set_xlabel("training step" + (" (last column: real data)" if reference_fractions is not None else ""))
        ax.set_ylabel("class")
        title = "Share of samples per class" + ("" if many else " (× = not covered)")
        if gone and not label_gone:
            title += f"; {len(gone)} classes vanished (red boxes)"
        ax.set_title(title)
        bar = fig.colorbar(im, ax=ax, pad=0.1 if label_gone else 0.02, fraction=0.025, aspect=30)
        bar.ax.yaxis.set_major_formatter(_percent)
        bar.set_label("share of samples")
        return _png(fig)


def _cell_box(col: int, row: int) -> Rectangle:
    return Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, edgecolor=BAD, linewidth=2.2, zorder=5)


def fid_over_steps(checkpoints: Sequence[Mapping]) -> bytes:
    """Classifier-feature FID per checkpoint (best marked) and, when measured, the copy fraction.

    Args:
        checkpoints: the diagnosis ``"checkpoints"`` list (``step``, ``label``, ``fid``,
            optional ``copy_fraction`` / ``copying``).

    Returns:
        PNG bytes.

    Raises:
        GandiagError: when no checkpoint has an FID (the report then shows a note instead).
    """
    checkpoints = _checkpoints(checkpoints, "fid_over_steps(checkpoints)")
    steps = _steps(checkpoints)
    fids = _finite([c.get("fid") for c in checkpoints])
    if not np.isfinite(fids).any():
        raise GandiagError("fid_over_steps(checkpoints): no checkpoint has an FID value")
    copy = _finite([c.get("copy_fraction") for c in checkpoints])
    has_copy = bool(np.isfinite(copy).any())
    with rc_context(_STYLE):
        fig = Figure(figsize=(7.6, 5.0 if has_copy else 4.2))
        fig.suptitle("Sample quality over training", fontsize=13, fontweight="bold", y=0.975)
        ax = fig.add_axes((0.12, 0.47, 0.84, 0.36) if has_copy else (0.12, 0.14, 0.84, 0.66))
        ok = np.isfinite(fids)
        ax.plot(steps[ok], fids[ok], "o-", color=GENERATED, zorder=3, label="FID (classifier features)")
        best = int(np.nanargmin(fids))
        ax.plot([steps[best]], [fids[best]], "*", color=GOOD, markersize=16, zorder=4,
                label=f"best: {_fmt(fids[best])} at {checkpoints[best]['label']}")
        ax.margins(y=0.15)
        ax.set_ylabel("FID (lower is better)")
        ax.legend(**_LEGEND_ABOVE)
        if has_copy:
            ax.tick_params(labelbottom=False)
            bx = fig.add_axes((0.12, 0.1, 0.84, 0.3), sharex=ax)
            flagged = np.array([bool(c.get("copying")) for c in checkpoints])
            okc = np.isfinite(copy)
            bx.plot(steps[okc], copy[okc], "s-", color=ACCENT, zorder=3, label="copy fraction")
            if flagged.any():
                bx.plot(steps[flagged & okc], copy[flagged & okc], "s", color=BAD, markersize=9, zorder=4,
                        label="copying flagged")
            bx.set_ylim(bottom=0)
            bx.yaxis.set_major_formatter(_percent)
            bx.set_ylabel("copy fraction")
            bx.legend(loc="best", frameon=False, ncol=2)
            bx.set_xlabel("training step")
        else:
            ax.set_xlabel("training step")
        return _png(fig)


__all__ = ["sample_grid", "neighbour_grid", "class_histogram", "parzen_curve", "fid_curve",
           "coverage_over_steps", "class_share_over_steps", "fid_over_steps"]
