"""Mode coverage from classifier labels (MNIST 10 modes, Stacked MNIST 1000 modes).

The mode-collapse protocol of Che et al. (2017, "Mode Regularized GANs") and
Metz et al. (2017, "Unrolled GANs"): classify N generated samples with a
pretrained classifier, count how many classes ("modes") appear at least
``threshold`` times, and measure how far the class histogram ``p`` is from the
data's class distribution ``q``::

    covered   = #{c : count_c >= max(min_count, ceil(min_fraction * N))}
    KL(p||q)  = sum_c p_c log(p_c / q_c)        (natural log; 0 log 0 = 0)
    H_norm    = -sum_c p_c log p_c / log K      (1 = perfectly balanced)

``KL(p||q)`` is ``inf`` when the generator puts mass on a class the reference
never shows (q_c = 0 < p_c).
"""
from __future__ import annotations

import math
from typing import Dict

import numpy as np

from ..errors import GandiagError
from ._checks import check_int

#: One definition of "covered" for evaluate, diagnose and the reference trainer's monitor: a class is
#: covered when it holds at least ``DEFAULT_MODE_THRESHOLD`` times its fair share N/K of the samples
#: (0.5 -> 5 % of the samples for 10 classes). Results record the threshold used.
DEFAULT_MODE_THRESHOLD = 0.5


def covered_min_fraction(num_classes: int, mode_threshold: float = DEFAULT_MODE_THRESHOLD) -> float:
    """The share of all samples a class needs to count as covered: ``mode_threshold / num_classes``."""
    return float(mode_threshold) / int(num_classes)


def _labels(x, name: str, num_classes: int) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim == 2:
        if arr.shape[1] != num_classes:
            raise GandiagError(f"{name}: probabilities have {arr.shape[1]} columns but num_classes={num_classes}")
        if not np.issubdtype(arr.dtype, np.floating) or not np.isfinite(arr).all():
            raise GandiagError(f"{name}: a 2-D input must be finite float probabilities/logits (N, K)")
        return np.argmax(arr, axis=1)
    if arr.ndim != 1:
        raise GandiagError(f"{name}: expected integer labels (N,) or probabilities (N, K), got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise GandiagError(f"{name}: 1-D input must be integer class labels, got dtype {arr.dtype} "
                           "(cast with labels.astype(int) if they are whole numbers)")
    if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
        raise GandiagError(f"{name}: labels must lie in [0, {num_classes - 1}], got range "
                           f"[{arr.min()}, {arr.max()}]; check num_classes")
    return arr.astype(np.int64)


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    mask = p > 0
    if (q[mask] == 0).any():
        return math.inf
    return float(np.sum(p[mask] * (np.log(p[mask]) - np.log(q[mask]))))


def mode_coverage(labels_or_probs, num_classes: int = 10, reference=None, *,
                  reference_counts=None, min_count: int = 1, min_fraction: float = 0.0) -> Dict[str, object]:
    """Count covered modes and compare the class histogram with a reference.

    Args:
        labels_or_probs: predicted labels (N,) int, or class probabilities/logits (N, K) (argmax).
        num_classes: K (10 for MNIST, 1000 for Stacked MNIST).
        reference: reference *labels* (M,) int or probabilities (M, K), e.g. the real test set.
        reference_counts: reference *histogram* (K,) non-negative, instead of ``reference``.
        min_count: a class is covered if it has at least this many samples ...
        min_fraction: ... and at least ``ceil(min_fraction * N)``.

    Returns:
        dict with ``covered`` (int), ``num_classes``, ``num_samples``, ``threshold``,
        ``missing`` (list of uncovered classes), ``counts`` (list), ``fractions`` (list),
        ``kl_to_reference`` (KL(p||q) or None without a reference), ``kl_to_uniform``,
        ``normalized_entropy`` and ``max_fraction`` (share of the most frequent class).
    """
    num_classes = check_int(num_classes, "mode_coverage(num_classes)", minimum=2)
    min_count = check_int(min_count, "mode_coverage(min_count)", minimum=1)
    if not (isinstance(min_fraction, (int, float)) and 0.0 <= float(min_fraction) <= 1.0):
        raise GandiagError(f"mode_coverage(min_fraction): must be in [0, 1], got {min_fraction!r}")
    labels = _labels(labels_or_probs, "mode_coverage(labels_or_probs)", num_classes)
    n = labels.size
    if n == 0:
        raise GandiagError("mode_coverage(labels_or_probs): no samples; pass at least one label")
    counts = np.bincount(labels, minlength=num_classes)
    threshold = max(min_count, int(math.ceil(float(min_fraction) * n)))
    covered_mask = counts >= threshold
    p = counts / n

    if reference is not None and reference_counts is not None:
        raise GandiagError("mode_coverage: pass either reference (labels) or reference_counts (histogram), not both")
    kl_ref = None
    if reference is not None:
        q_counts = np.bincount(_labels(reference, "mode_coverage(reference)", num_classes), minlength=num_classes)
        if q_counts.sum() == 0:
            raise GandiagError("mode_coverage(reference): empty; pass at least one reference label")
        kl_ref = _kl(p, q_counts / q_counts.sum())
    elif reference_counts is not None:
        q_counts = np.asarray(reference_counts, dtype=np.float64)
        if q_counts.shape != (num_classes,) or not np.isfinite(q_counts).all() or (q_counts < 0).any() \
                or q_counts.sum() <= 0:
            raise GandiagError(f"mode_coverage(reference_counts): expected {num_classes} non-negative counts with a "
                               f"positive sum, got shape {q_counts.shape}")
        kl_ref = _kl(p, q_counts / q_counts.sum())

    nz = p[p > 0]
    entropy = float(-np.sum(nz * np.log(nz)))
    return {
        "covered": int(covered_mask.sum()),
        "num_classes": num_classes,
        "num_samples": int(n),
        "threshold": threshold,
        "missing": [int(c) for c in np.flatnonzero(~covered_mask)],
        "counts": [int(c) for c in counts],
        "fractions": [float(f) for f in p],
        "kl_to_reference": kl_ref,
        "kl_to_uniform": float(math.log(num_classes) - entropy),
        "normalized_entropy": entropy / math.log(num_classes),
        "max_fraction": float(p.max()),
    }


# ------------------------------------------------------------------------------------ metric record
def _modes_step(ctx):
    name = ctx.mnist_classifier()
    logits = ctx.features(name, "fake", "logits")
    ref_logits = ctx.features(name, "ref", "logits")
    k = logits.shape[1]
    threshold = ctx.options.mode_threshold
    result = mode_coverage(logits, num_classes=k, reference=ref_logits, min_fraction=covered_min_fraction(k, threshold))
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    ref_counts = np.bincount(ref_logits.argmax(axis=1), minlength=k)
    result.update(reference_fractions=(ref_counts / ref_counts.sum()).tolist(),
                  low_confidence_fraction=float(np.mean(probs.max(axis=1) < 0.5)),
                  mode_threshold=threshold, classifier=name)
    if name == "fashion-classifier":  # name the classes, not just their numbers
        from ..features.fashion_classifier import CLASS_NAMES

        result.update(class_names=list(CLASS_NAMES), missing_names=[CLASS_NAMES[c] for c in result["missing"]])
    labels = ctx.fake.labels
    if labels is not None and labels.max() < k:  # conditional generator: does it obey y?
        from .conditional import label_accuracy

        acc = label_accuracy(logits.argmax(axis=1), labels, k)
        result["conditioning_accuracy"] = acc["accuracy"]
        result["conditioning_per_class"] = acc["per_class"]
    return result


def _classes_text(classes, limit: int = 20) -> str:
    shown = ", ".join(str(c) for c in list(classes)[:limit])
    return shown + (f" … (+{len(classes) - limit} more)" if len(classes) > limit else "")


def _modes_rows(r):
    from .record import Row, fmt

    missing = r.get("missing_names") or r.get("missing") or []
    value = f"{r.get('covered')} / {r.get('num_classes')}" + (f"\nmissing: {_classes_text(missing)}" if missing else "")
    return [Row("modes", value, f"KL to data {fmt(r.get('kl_to_reference'))} nats", str(r.get("classifier", "")),
                flag=bool(missing))]


def _modes_summary(mo):
    missing = ", ".join(map(str, mo.get("missing_names") or mo["missing"])) or "none"
    kl = mo.get("kl_to_reference")
    return (f"modes covered: {mo['covered']}/{mo['num_classes']} (missing: {missing})"
            + (f"; KL to reference {kl:.3f} nats" if kl is not None else ""))


def _register():
    from ..options import Option
    from .record import Metric, register_metric

    register_metric(Metric(
        "modes", "Modes covered", True, 0.0,
        "Number of classes a pretrained classifier finds at least threshold times among generated samples (10 for "
        "MNIST, 1000 for Stacked MNIST), with KL to the data's class histogram.",
        "Che, Li, Jacob, Bengio, Li. Mode Regularized GANs. ICLR 2017; Metz et al. Unrolled GANs. ICLR 2017",
        run=_modes_step, feature_space="mnist-classifier", min_samples=10,
        options=(Option("mode_threshold", float, DEFAULT_MODE_THRESHOLD,
                        "a class is covered with at least this share of its fair share N/K (0.5: 5% of the samples "
                        "for 10 classes; the trainer's monitor uses the same rule)"),),
        rows=_modes_rows, summary=_modes_summary, section="Mode coverage", default_for=("mnist",),
        function="gandiag.metrics.mode_coverage", order=25))


_register()
