"""Figures for the label-free collapse metrics (NDB, birthday test, 2-D toy modes), as PNG bytes.

Same conventions as :mod:`gandiag.report.figures`: plain data in, PNG bytes out,
no pyplot state, pixel-exact image grids.
"""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure

from ..errors import GandiagError
from ..images import check_canonical
from .figures import _STYLE, ACCENT, BAD, GENERATED, GOOD, REFERENCE, _png, _show, sample_grid


def ndb_bins_figure(result: Mapping) -> bytes:
    """Reference vs generated share of every NDB bin; significantly under-populated bins in red."""
    p = np.asarray(result["reference_proportions"], dtype=float)
    q = np.asarray(result["sample_proportions"], dtype=float)
    k = p.size
    under, over = set(result.get("under", [])), set(result.get("over", []))
    with rc_context(_STYLE):
        fig = Figure(figsize=(7.6, 3.4))
        ax = fig.add_subplot(1, 1, 1)
        x = np.arange(k)
        ax.bar(x, p, width=0.9, color=REFERENCE, label="reference")
        colors = [BAD if b in under else ACCENT if b in over else GENERATED for b in range(k)]
        ax.scatter(x, q, s=14, c=colors, zorder=3, label="generated (red: too few, orange: too many)")
        ax.set_xlabel("bin (largest reference bin first)")
        ax.set_ylabel("share of images")
        ax.set_title(f"NDB: {result['ndb']} of {k} bins differ (alpha {result['alpha']:g}), JS {result['js']:.3f}")
        ax.set_xlim(-1, k)
        ax.legend(loc="upper right", frameon=False)
        fig.tight_layout()
        return _png(fig)


def ndb_missing_grid(reference_images: np.ndarray, examples: Sequence[Sequence[int]], *, per_bin: int = 8,
                     title: str = "Real images nearest the most under-populated bins") -> bytes:
    """One row per under-populated bin: the reference images nearest its centre."""
    check_canonical(reference_images, "ndb_missing_grid(reference_images)")
    rows = [list(ex)[:per_bin] for ex in examples if len(ex)]
    if not rows:
        raise GandiagError("ndb_missing_grid: no under-populated bins to show")
    width = max(len(r) for r in rows)
    c, h, w = reference_images.shape[1:]
    tiles = np.ones((len(rows) * width, c, h, w), dtype=np.float32)
    for r, ex in enumerate(rows):
        tiles[r * width:r * width + len(ex)] = reference_images[np.asarray(ex)]
    return sample_grid(tiles, nrow=width, title=title, target_width=min(760, 90 * width))


def pair_grid(images: np.ndarray, pairs: Sequence[Sequence[int]], distances: Sequence[float],
              duplicate: Sequence[bool], *, columns: int = 5, title: str = "Closest pairs") -> bytes:
    """The birthday test's candidate pairs side by side, with distances; duplicates marked in red."""
    check_canonical(images, "pair_grid(images)")
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if len(pairs) == 0:
        raise GandiagError("pair_grid: no pairs to draw")
    n = len(pairs)
    cols = min(columns, n)
    rows = -(-n // cols)
    with rc_context(_STYLE):
        fig = Figure(figsize=(1.52 * cols, 1.0 * rows + 0.5))
        grid = fig.add_gridspec(rows, 2 * cols, wspace=0.05, hspace=0.45, left=0.02, right=0.98, top=1 - 0.45 /
                                (1.0 * rows + 0.5), bottom=0.02)
        for k, (i, j) in enumerate(pairs):
            r, c = divmod(k, cols)
            for side, idx in enumerate((i, j)):
                ax = fig.add_subplot(grid[r, 2 * c + side])
                _show(ax, images[idx].transpose(1, 2, 0))
                if duplicate[k]:
                    for spine in ax.spines.values():
                        spine.set_edgecolor(BAD)
                        spine.set_linewidth(2.0)
                if side == 0:
                    ax.set_title(f"{k + 1}: d={distances[k]:.3g}", fontsize=8, loc="left",
                                 color=BAD if duplicate[k] else "black", fontweight="normal")
        fig.suptitle(title, fontsize=12, fontweight="bold")
        return _png(fig)


def birthday_curve(result: Mapping) -> bytes:
    """Duplicate probability against batch size s (log axis), with the 1/2 line and s_half."""
    s = np.asarray(result["batch_sizes"], dtype=float)
    p = np.asarray(result["duplicate_probability"], dtype=float)
    with rc_context(_STYLE):
        fig = Figure(figsize=(6.4, 3.4))
        ax = fig.add_subplot(1, 1, 1)
        ax.plot(s, p, "o-", color=GENERATED, label="generated batches with a duplicate")
        ax.axhline(0.5, color=REFERENCE, linestyle="--", linewidth=1)
        status = result.get("status")
        if status == "estimate":
            ax.axvline(result["s_half"], color=BAD, linewidth=1)
            note = f"s½ ≈ {result['s_half']:.0f}: support ≈ {result['support_estimate']:,.0f}"
        elif status == "at_least":
            note = f"never ½ up to s = {s[-1]:.0f}: support > {result['support_estimate']:,.0f}"
        else:
            note = f"already ½ at s = {s[0]:.0f}: support ≤ {result['support_estimate']:,.0f}"
        ax.set_xscale("log")
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("batch size s")
        ax.set_ylabel("P(duplicate in batch)")
        ax.set_title(f"Birthday test: {note}", fontsize=11)
        ax.legend(loc="upper left", frameon=False)
        fig.tight_layout()
        return _png(fig)


def toy_scatter(points: np.ndarray, centres: np.ndarray, std: float, result: Optional[Mapping] = None, *,
                title: str = "2-D samples") -> bytes:
    """Generated 2-D points over the mode centres; covered modes green, missing red (3 sigma circles)."""
    pts = np.asarray(points, dtype=float)
    missing = set((result or {}).get("missing", []))
    with rc_context(_STYLE):
        fig = Figure(figsize=(4.6, 4.6))
        ax = fig.add_subplot(1, 1, 1)
        ax.scatter(pts[:, 0], pts[:, 1], s=3, alpha=0.35, color=GENERATED, linewidths=0)
        thr = float((result or {}).get("threshold", 3.0))
        for k, (cx, cy) in enumerate(centres):
            from matplotlib.patches import Circle

            ax.add_patch(Circle((cx, cy), thr * std, fill=False, linewidth=1.2,
                                edgecolor=BAD if k in missing else GOOD))
        span = np.abs(centres).max() * 1.4 + 4 * std
        ax.set_xlim(-span, span)
        ax.set_ylim(-span, span)
        ax.set_aspect("equal")
        if result:
            title = (f"{title}: {result['modes_covered']}/{result['num_modes']} modes, "
                     f"{100 * result['high_quality_fraction']:.0f}% high quality")
        ax.set_title(title, fontsize=11)
        fig.tight_layout()
        return _png(fig)


def label_free_over_steps(checkpoints: Sequence[Mapping], baseline: Optional[Mapping] = None) -> bytes:
    """NDB/K, PRDC recall/coverage and the birthday support per checkpoint (dashed: real-vs-real baseline)."""
    if not checkpoints:
        raise GandiagError("label_free_over_steps: no checkpoints")
    steps = np.array([c["step"] for c in checkpoints], dtype=float)
    with rc_context(_STYLE):
        fig = Figure(figsize=(7.6, 6.6))
        axes = fig.subplots(3, 1, sharex=True)
        ax = axes[0]
        ax.plot(steps, [c["ndb_k"] for c in checkpoints], "o-", color=BAD, label="NDB/K")
        if baseline:
            ax.axhline(baseline["ndb_k"], color=REFERENCE, linestyle="--", label="held-out real")
        ax.set_ylabel("NDB/K")
        ax.set_ylim(-0.03, 1.03)
        ax.legend(loc="upper left", frameon=False)
        ax = axes[1]
        for key, color in (("recall", GENERATED), ("coverage", GOOD)):
            ax.plot(steps, [c[key] for c in checkpoints], "o-", color=color, label=key)
            if baseline:
                ax.axhline(baseline[key], color=color, linestyle="--", linewidth=1, alpha=0.6)
        ax.set_ylabel("PRDC")
        ax.set_ylim(-0.03, 1.03)
        ax.legend(loc="upper left", frameon=False)
        ax = axes[2]
        support = np.array([c["support_estimate"] for c in checkpoints], dtype=float)
        marks = {"estimate": "o", "at_least": "^", "at_most": "v"}
        for c, s, v in zip(checkpoints, steps, support):
            ax.plot([s], [v], marks[c["support_status"]], color=ACCENT)
        ax.plot(steps, support, "-", color=ACCENT, alpha=0.5)
        ax.set_yscale("log")
        ax.set_ylabel("birthday support")
        ax.set_xlabel("training step")
        ax.set_title("▲ lower bound (no duplicates found), ● estimate, ▼ upper bound", fontsize=9,
                     fontweight="normal")
        fig.tight_layout()
        return _png(fig)
