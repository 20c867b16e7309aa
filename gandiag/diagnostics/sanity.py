"""Metric sanity curves: does a metric get worse as real images are disturbed more?

Heusel et al. 2017 ("GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
Equilibrium", appendix "FID ... disturbances") checked FID by disturbing real CelebA images at
increasing levels and watching FID rise monotonically. This module runs the same experiment on
any reference data, extractor and metric, so a user can check an extractor or a metric on a new
domain *before* trusting it: a metric whose curve is not monotone does not rank those
disturbances, and should not be used to rank models whose defects look like them.

Protocol (seeded): the reference is split into two disjoint halves of ``num`` images, A and B.
B is disturbed at each level and compared with A; level 0 is real-vs-real (the noise floor).
Disturbances (canonical float32 NCHW in [0, 1]; levels default to the paper's):

=================  =========================================================  ====================
name               what level ``a`` does                                     levels (paper)
=================  =========================================================  ====================
``noise``          ``(1 - a) x + a n``, n Gaussian noise scaled to [0, 1]     0, .25, .5, .75
``blur``           Gaussian blur with standard deviation ``a`` pixels          0, 1, 2, 4
``rectangles``     five black rectangles of side ``a * size`` at random places 0, .25, .5, .75
``swirl``          swirl of strength ``a`` around the centre (radius = size)   0, 1, 2, 4
``salt-pepper``    a fraction ``a`` of pixels set to black or white            0, .1, .2, .3
``contamination``  a fraction ``a`` of images replaced by another data set's   0, .25, .5, .75
=================  =========================================================  ====================

The paper used 64x64 CelebA; on 28x28 digits a blur of 4 pixels or a swirl of 4 is relatively
stronger, which only makes the expected ordering plainer. The swirl is scikit-image's
``transform.swirl`` mapping (``radius / 5 * ln 2`` decay), implemented here with bilinear
sampling so scikit-image is not a dependency.

A response counts as non-monotone when one step moves the wrong way (FID/KID down, or a
"higher is better" metric up) by more than ``tolerance`` times the metric's own scale at level 0
(KID: its subset std). Non-monotone curves are listed in ``flags`` and drawn in red.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from ..errors import GandiagError
from ..registry import Registry


@dataclass(frozen=True)
class Disturbance:
    name: str
    apply: Callable[..., np.ndarray]  # (images, level, rng, other) -> images
    levels: tuple
    description: str
    needs_other: bool = False


DISTURBANCES: Registry[Disturbance] = Registry("disturbance")


def _register(name, levels, description, needs_other=False):
    def wrap(fn):
        DISTURBANCES.register(name, Disturbance(name, fn, tuple(levels), description, needs_other), description)
        return fn
    return wrap


@_register("noise", (0, 0.25, 0.5, 0.75), "(1-a) x + a n with n Gaussian noise scaled to [0, 1]")
def gaussian_noise(x: np.ndarray, level: float, rng: np.random.Generator, other=None) -> np.ndarray:
    if level == 0:
        return x
    n = rng.standard_normal(x.shape).astype(np.float32)
    lo = n.min(axis=(1, 2, 3), keepdims=True)
    hi = n.max(axis=(1, 2, 3), keepdims=True)
    n = (n - lo) / (hi - lo)
    return np.clip((1 - level) * x + level * n, 0.0, 1.0).astype(np.float32)


@_register("blur", (0, 1, 2, 4), "Gaussian blur, standard deviation a pixels")
def gaussian_blur(x: np.ndarray, level: float, rng: np.random.Generator, other=None) -> np.ndarray:
    if level == 0:
        return x
    from scipy.ndimage import gaussian_filter

    return np.clip(gaussian_filter(x, sigma=(0, 0, level, level), mode="reflect"), 0.0, 1.0).astype(np.float32)


@_register("rectangles", (0, 0.25, 0.5, 0.75), "five black rectangles of side a * image size at random places")
def black_rectangles(x: np.ndarray, level: float, rng: np.random.Generator, other=None) -> np.ndarray:
    if level == 0:
        return x
    out = x.copy()
    n, _, h, w = x.shape
    rh, rw = max(1, int(round(level * h))), max(1, int(round(level * w)))
    tops = rng.integers(0, h - rh + 1, size=(n, 5))
    lefts = rng.integers(0, w - rw + 1, size=(n, 5))
    for i in range(n):
        for top, left in zip(tops[i], lefts[i]):
            out[i, :, top:top + rh, left:left + rw] = 0.0
    return out


def swirl_coordinates(h: int, w: int, strength: float, radius: float):
    """Source coordinates (rows, cols) of scikit-image's swirl inverse map around the centre."""
    y0, x0 = (h - 1) / 2.0, (w - 1) / 2.0
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float64)
    dy, dx = rows - y0, cols - x0
    rho = np.hypot(dy, dx)
    decay = radius / 5.0 * np.log(2)
    theta = strength * np.exp(-rho / decay) + np.arctan2(dy, dx)
    return y0 + rho * np.sin(theta), x0 + rho * np.cos(theta)


@_register("swirl", (0, 1, 2, 4), "swirl of strength a around the centre (radius = image size)")
def swirl(x: np.ndarray, level: float, rng: np.random.Generator, other=None) -> np.ndarray:
    if level == 0:
        return x
    _, _, h, w = x.shape
    src_r, src_c = swirl_coordinates(h, w, level, float(max(h, w)))
    src_r, src_c = np.clip(src_r, 0, h - 1), np.clip(src_c, 0, w - 1)  # edge pixels outside
    r0, c0 = np.floor(src_r).astype(int), np.floor(src_c).astype(int)
    r1, c1 = np.minimum(r0 + 1, h - 1), np.minimum(c0 + 1, w - 1)
    fr, fc = (src_r - r0).astype(np.float32), (src_c - c0).astype(np.float32)
    top = x[:, :, r0, c0] * (1 - fc) + x[:, :, r0, c1] * fc
    bottom = x[:, :, r1, c0] * (1 - fc) + x[:, :, r1, c1] * fc
    return np.clip(top * (1 - fr) + bottom * fr, 0.0, 1.0).astype(np.float32)


@_register("salt-pepper", (0, 0.1, 0.2, 0.3), "a fraction a of pixels set to black or white (half each)")
def salt_and_pepper(x: np.ndarray, level: float, rng: np.random.Generator, other=None) -> np.ndarray:
    if level == 0:
        return x
    n, _, h, w = x.shape
    u = rng.random((n, 1, h, w))
    out = x.copy()
    out[np.broadcast_to(u < level / 2, x.shape)] = 0.0
    out[np.broadcast_to((u >= level / 2) & (u < level), x.shape)] = 1.0
    return out


@_register("contamination", (0, 0.25, 0.5, 0.75), "a fraction a of images replaced by another data set's",
           needs_other=True)
def contamination(x: np.ndarray, level: float, rng: np.random.Generator, other=None) -> np.ndarray:
    if level == 0:
        return x
    if other is None:  # internal: run_sanity skips contamination without other data
        raise GandiagError("contamination needs other images (--contaminate DATA)")
    n = len(x)
    k = int(round(level * n))
    out = x.copy()
    rows = rng.choice(n, k, replace=False)
    out[rows] = other[rng.choice(len(other), k, replace=len(other) < k)]
    return out


# ------------------------------------------------------------------------------------ metrics
@dataclass(frozen=True)
class SanityMetric:
    name: str
    higher_is_better: bool
    needs_logits: bool
    compute: Callable[..., Dict[str, float]]  # (base, disturbed, seed) -> {"value": .., "std": ..}


SANITY_METRICS: Registry[SanityMetric] = Registry("sanity metric")


def _fid(base, dist, seed):
    from ..metrics import fid_from_features

    return {"value": fid_from_features(base["features"], dist["features"])}


def _kid(base, dist, seed):
    from ..metrics import kid

    a, b = base["features"], dist["features"]
    # Subsets of half the rows, so that subsets differ on both sides (a subset of all N rows
    # would be the whole set every time and the std would say nothing).
    size = max(2, min(1000, len(a) // 2, len(b) // 2))
    mean, std = kid(a, b, subsets=100, subset_size=size, seed=seed)
    return {"value": mean, "std": std}


def _is(base, dist, seed):
    from ..metrics import inception_score_from_logits

    mean, std = inception_score_from_logits(dist["logits"], splits=10)
    return {"value": mean, "std": std}


def _prdc_part(key):
    def compute(base, dist, seed):
        from ..metrics import prdc

        return {"value": prdc(base["features"], dist["features"], k=5)[key]}
    return compute


for _name, _hib, _logits, _fn in [("fid", False, False, _fid), ("kid", False, False, _kid),
                                  ("is", True, True, _is)] + [
        (k, True, False, _prdc_part(k)) for k in ("precision", "recall", "density", "coverage")]:
    SANITY_METRICS.register(_name, SanityMetric(_name, _hib, _logits, _fn))


# ------------------------------------------------------------------------------------ checks
def monotone_violations(values: Sequence[float], *, increasing: bool, tolerance: float = 0.0) -> List[int]:
    """Indices ``i`` where step ``i -> i + 1`` goes the wrong way by more than ``tolerance``."""
    v = np.asarray(values, dtype=np.float64)
    steps = np.diff(v) if increasing else -np.diff(v)
    return [int(i) for i in np.flatnonzero(steps < -tolerance)]


def run_sanity(ref: np.ndarray, extractor, *, metrics: Sequence[str] = ("fid", "kid"),
               disturbances: Optional[Sequence[str]] = None, levels: Optional[Dict[str, Sequence[float]]] = None,
               other: Optional[np.ndarray] = None, num: int = 1000, seed: int = 0, batch_size: int = 250,
               tolerance: float = 0.0, progress: bool = False) -> Dict[str, object]:
    """Disturbance curves of ``metrics`` on canonical reference images ``ref`` (N, C, H, W).

    Args:
        ref: real images; needs at least ``2 * num`` (two disjoint halves are used).
        extractor: a :class:`gandiag.features.Extractor` (features, and logits for ``is``).
        metrics: names in :data:`SANITY_METRICS`.
        disturbances: names in :data:`DISTURBANCES` (default: all; ``contamination`` only with ``other``).
        levels: per-disturbance levels overriding the defaults (must start at 0 and increase).
        other: images of another data set, same (C, H, W), for ``contamination``.
        num: images per half.
        seed: seeds the split and every disturbance draw.
        tolerance: a wrong-way step counts when larger than ``tolerance`` x the level-0 scale
            (KID's std, else the level-0 value); 0 flags any wrong-way step.

    Returns:
        JSON-able dict: ``curves[disturbance][metric]`` = ``{"levels", "values", "std"?,
        "monotone", "violations"}`` and ``flags`` (one line per non-monotone curve).
    """
    ref = np.asarray(ref)
    if len(ref) < 2 * num:
        raise GandiagError(f"sanity: the reference has {len(ref)} images; it needs 2 x --num-images = {2 * num} "
                           "(two disjoint halves): lower --num-images or pass more data")
    if num < 10:
        raise GandiagError(f"sanity: --num-images must be at least 10, got {num}")
    for m in metrics:
        SANITY_METRICS.get(m)  # unknown -> "valid values are ..."
    names = list(disturbances) if disturbances else [d for d in DISTURBANCES.names()
                                                     if other is not None or not DISTURBANCES.get(d).needs_other]
    for d in names:
        if DISTURBANCES.get(d).needs_other and other is None:
            raise GandiagError(f"sanity: the {d!r} disturbance needs another data set: pass --contaminate DATA")
    if other is not None and tuple(other.shape[1:]) != tuple(ref.shape[1:]):
        raise GandiagError(f"sanity: --contaminate images are {'x'.join(map(str, other.shape[1:]))}, the reference "
                           f"{'x'.join(map(str, ref.shape[1:]))}; pass data of the same shape")
    needs_logits = any(SANITY_METRICS.get(m).needs_logits for m in metrics)
    if needs_logits and not getattr(extractor, "num_classes", None):
        raise GandiagError(f"sanity: metric 'is' needs class logits, which extractor {extractor.name!r} has not")
    outputs = ("features", "logits") if needs_logits else ("features",)
    order = np.random.default_rng(seed).permutation(len(ref))
    base_images, target = ref[np.sort(order[:num])], ref[np.sort(order[num:2 * num])]

    def feats(images):
        return extractor.extract(images, batch_size=batch_size, outputs=outputs)

    from ..progress import progress_bar

    base = feats(base_images)
    level0 = feats(target)
    zero = {m: SANITY_METRICS.get(m).compute(base, level0, seed) for m in metrics}
    curves: Dict[str, Dict[str, object]] = {}
    flags: List[str] = []
    total = sum(len((levels or {}).get(d, DISTURBANCES.get(d).levels)) - 1 for d in names)
    with progress_bar(total=total, desc="sanity", unit="level", disable=not progress) as bar:
        for d in names:
            dist = DISTURBANCES.get(d)
            lv = [float(v) for v in (levels or {}).get(d, dist.levels)]
            if lv[0] != 0 or any(b <= a for a, b in zip(lv, lv[1:])):
                raise GandiagError(f"sanity: levels of {d!r} must start at 0 and increase, got {lv}")
            results = [zero]
            for i, level in enumerate(lv[1:], start=1):
                rng = np.random.default_rng([seed, zlib.crc32(d.encode()), i])
                f = feats(dist.apply(target, level, rng, other))
                results.append({m: SANITY_METRICS.get(m).compute(base, f, seed) for m in metrics})
                bar.update(1)
            curves[d] = {}
            for m in metrics:
                spec = SANITY_METRICS.get(m)
                values = [float(r[m]["value"]) for r in results]
                scale = zero[m].get("std", abs(zero[m]["value"]))
                bad = monotone_violations(values, increasing=not spec.higher_is_better,
                                          tolerance=tolerance * float(scale))
                curve = {"levels": lv, "values": values, "monotone": not bad, "violations": bad}
                if "std" in zero[m]:
                    curve["std"] = [float(r[m]["std"]) for r in results]
                curves[d][m] = curve
                for i in bad:
                    flags.append(f"{d}: {m} {'rises' if spec.higher_is_better else 'falls'} from level {lv[i]:g} to "
                                 f"{lv[i + 1]:g} ({values[i]:.4g} -> {values[i + 1]:.4g}); it does not rank this "
                                 "disturbance")
    return {"curves": curves, "flags": flags, "metrics": list(metrics), "disturbances": names, "num_images": num,
            "seed": seed, "tolerance": tolerance,
            "descriptions": {d: DISTURBANCES.get(d).description for d in names},
            "expected": {m: ("falls" if SANITY_METRICS.get(m).higher_is_better else "rises") for m in metrics}}


def sanity_figure(result: Dict[str, object], title: str = "") -> bytes:
    """PNG: one panel per (metric, disturbance); non-monotone curves in red."""
    from ..report.figures import _STYLE, BAD, GENERATED, _png
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    metrics, names = result["metrics"], result["disturbances"]
    with rc_context(_STYLE):
        fig = Figure(figsize=(2.6 * len(names) + 0.6, 2.3 * len(metrics) + 0.8))
        axes = fig.subplots(len(metrics), len(names), squeeze=False)
        for r, m in enumerate(metrics):
            for c, d in enumerate(names):
                ax = axes[r][c]
                curve = result["curves"][d][m]
                colour = GENERATED if curve["monotone"] else BAD
                x, y = curve["levels"], curve["values"]
                ax.plot(x, y, "o-", color=colour)
                if "std" in curve:
                    y_arr, s_arr = np.asarray(y), np.asarray(curve["std"])
                    ax.fill_between(x, y_arr - s_arr, y_arr + s_arr, color=colour, alpha=0.2, linewidth=0)
                if r == 0:
                    ax.set_title(d, fontsize=11)
                if c == 0:
                    ax.set_ylabel(m.upper() if m in ("fid", "kid", "is") else m)
                if r == len(metrics) - 1:
                    ax.set_xlabel("level")
                if not curve["monotone"]:
                    ax.text(0.5, 0.9, "non-monotone", transform=ax.transAxes, ha="center", color=BAD,
                            fontsize=9, fontweight="bold", bbox={"facecolor": "white", "edgecolor": BAD, "pad": 2})
                ax.tick_params(labelsize=8)
        if title:
            fig.suptitle(title, fontsize=12)
        fig.tight_layout()
        return _png(fig)
