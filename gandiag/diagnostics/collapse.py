"""Mode-collapse verdicts from a sequence of per-checkpoint summaries (pure functions).

The orchestration that *produces* the summaries (sampling each checkpoint, classifying
its samples, measuring FID and copying) lives in :mod:`gandiag.diagnostics.run`; this
module only reads numbers, so its rules are easy to test and to state:

* **collapse**: at most half of the classes covered, or one class holds >= 50 % of the
  samples;
* **memorization**: the data-copying test flags the samples (see
  :mod:`gandiag.diagnostics.memorization`);
* **partial collapse**: some class missing, or KL(generated || reference class
  histogram) above ``kl_partial`` (default 0.1 nats: the histogram is visibly skewed);
* **healthy**: none of the above.

A class *vanishes* at a checkpoint when it was covered earlier and is uncovered at that
checkpoint and every later one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from ..errors import GandiagError

VERDICTS = ("healthy", "partial collapse", "collapse", "memorization")


@dataclass(frozen=True)
class CheckpointSummary:
    """What diagnosis needs to know about one checkpoint.

    Attributes:
        label: checkpoint name (file name or ``step N``).
        step: training step (or the checkpoint's position when unknown).
        covered: number of covered classes; num_classes: K.
        fractions: (K,) share of samples per class.
        covered_mask: (K,) bool, whether each class counts as covered.
        kl_to_reference: KL(generated || reference) in nats, or None.
        fid: Fréchet distance in the classifier's feature space, or None.
        copy_fraction / copying: data-copying score and flag, or None.
    """

    label: str
    step: int
    covered: int
    num_classes: int
    fractions: Sequence[float]
    covered_mask: Sequence[bool]
    kl_to_reference: Optional[float] = None
    fid: Optional[float] = None
    copy_fraction: Optional[float] = None
    copying: Optional[bool] = None
    extra: Dict[str, object] = field(default_factory=dict)


def vanished_classes(summaries: Sequence[CheckpointSummary]) -> List[Dict[str, object]]:
    """Classes covered at some checkpoint and uncovered from some later checkpoint to the end."""
    if not summaries:
        return []
    k = summaries[-1].num_classes
    out = []
    for c in range(k):
        covered = [bool(s.covered_mask[c]) for s in summaries]
        if covered[-1] or not any(covered):
            continue
        last = max(i for i, v in enumerate(covered) if v)
        gone = summaries[last + 1]
        out.append({
            "class": c,
            "last_covered_step": summaries[last].step,
            "vanished_at_step": gone.step,
            "vanished_at": gone.label,
            "peak_fraction": max(float(s.fractions[c]) for s in summaries),
        })
    return out


def verdict(summaries: Sequence[CheckpointSummary], *, kl_partial: float = 0.1,
            dominant_fraction: float = 0.5) -> Dict[str, object]:
    """Verdict for the last checkpoint, with the evidence that led to it.

    Returns:
        ``{"verdict": one of VERDICTS, "evidence": [sentences], "vanished": [...],
        "never_covered": [classes], "final": label}``.
    """
    if not summaries:
        raise GandiagError("diagnose: no checkpoints to judge")
    last = summaries[-1]
    k = last.num_classes
    missing = [c for c in range(k) if not last.covered_mask[c]]
    vanished = vanished_classes(summaries)
    never = [c for c in missing if not any(s.covered_mask[c] for s in summaries)]
    top = max(range(k), key=lambda c: last.fractions[c])
    top_share = float(last.fractions[top])
    evidence = [f"{last.label}: {last.covered}/{k} classes covered"
                + (f"; missing {', '.join(map(str, missing))}" if missing else "")]
    for v in vanished:
        evidence.append(f"class {v['class']} vanished at {v['vanished_at']} (last covered at step "
                        f"{v['last_covered_step']}, peak share {v['peak_fraction']:.1%})")
    if never and len(summaries) > 1:
        evidence.append(f"never covered at any checkpoint: {', '.join(map(str, never))}")
    if top_share >= dominant_fraction:
        evidence.append(f"class {top} holds {top_share:.0%} of the samples")
    if last.kl_to_reference is not None:
        evidence.append(f"KL(generated || reference class histogram) = {last.kl_to_reference:.3f} nats")
    if last.copy_fraction is not None:
        evidence.append(f"{last.copy_fraction:.1%} of samples are closer to a training image than 95% of held-out "
                        f"real images are (about 5% expected)")
    if last.fid is not None and len(summaries) > 1:
        best = min((s for s in summaries if s.fid is not None), key=lambda s: s.fid)
        evidence.append(f"classifier-feature FID {last.fid:.2f} at {last.label}; best {best.fid:.2f} at {best.label}")

    if last.covered <= k // 2 or top_share >= dominant_fraction:
        name = "collapse"
    elif last.copying:
        name = "memorization"
    elif missing or (last.kl_to_reference is not None and last.kl_to_reference > kl_partial):
        name = "partial collapse"
    else:
        name = "healthy"
    return {"verdict": name, "evidence": evidence, "vanished": vanished, "never_covered": never,
            "final": last.label}
