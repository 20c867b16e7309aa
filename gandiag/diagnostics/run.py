"""``diagnose``: evaluate every checkpoint of a run and judge mode collapse over training.

Inputs are reference-trainer run folders (every ``checkpoints/step_*.pt``, in step
order) and/or any generator specs (TorchScript, ``.pt2``, ``module:callable``,
checkpoints) taken in the order given. Each checkpoint is sampled with the same seed,
its samples classified by the shipped MNIST classifier (mode coverage, per-class
share), measured with classifier-feature FID and checked for data copying; the
sequence of summaries is judged by :func:`gandiag.diagnostics.collapse.verdict`.
"""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import GandiagError
from ..evaluation import EvaluateOptions, Reference, evaluate
from ..sources import SourceOptions, open_generator
from .collapse import CheckpointSummary, verdict

DIAGNOSE_METRICS = ("modes", "mnist-fid", "neighbours")
_STEP = re.compile(r"step_(\d+)")


def expand_inputs(inputs: Sequence[str]) -> List[str]:
    """Run folders -> their step checkpoints in step order; other specs unchanged."""
    specs: List[str] = []
    for item in inputs:
        path = Path(item)
        ckpt_dir = path / "checkpoints"
        if path.is_dir() and ckpt_dir.is_dir():
            found = sorted(ckpt_dir.glob("step_*.pt"), key=lambda p: int(_STEP.search(p.name).group(1)))
            if not found and (ckpt_dir / "last.pt").is_file():
                found = [ckpt_dir / "last.pt"]
            if not found:
                raise GandiagError(f"{path}: no checkpoints/step_*.pt found")
            specs.extend(str(p) for p in found)
        elif path.is_dir():
            raise GandiagError(f"{path} is a folder without checkpoints/; pass a reference-trainer run or generator files")
        else:
            specs.append(str(item))
    if not specs:
        raise GandiagError("diagnose: give at least one run folder or generator")
    return specs


def diagnose(
    inputs: Sequence[str],
    *,
    num_samples: int = 2000,
    options: EvaluateOptions = EvaluateOptions(),
    z_dim: Optional[int] = None,
    output_range=None,
    trust_pickle: bool = False,
    max_checkpoints: Optional[int] = None,
) -> Tuple[Dict[str, object], Dict[str, np.ndarray]]:
    """Evaluate each checkpoint and return ``(diagnosis, arrays)``.

    Args:
        inputs: run folders and/or generator specs.
        num_samples: samples drawn from each checkpoint (same seed for all).
        options: evaluation options (``ref``, ``seed``, ``mode_threshold``, ...);
            the metrics are fixed to ``modes``, ``mnist-fid`` and ``neighbours``.
        max_checkpoints: keep at most this many, evenly spaced, always including the last.

    Returns:
        ``diagnosis`` (JSON-able: ``checkpoints``, ``verdict``, ``reference_fractions``,
        ``provenance``) and ``arrays`` (``final_samples``).
    """
    specs = expand_inputs(inputs)
    if max_checkpoints is not None and len(specs) > max_checkpoints >= 2:
        keep = np.unique(np.linspace(0, len(specs) - 1, max_checkpoints).round().astype(int))
        specs = [specs[i] for i in keep]
    opts = replace(options, metrics=DIAGNOSE_METRICS, bootstrap=0)
    reference = Reference(opts)  # real-data features and held-out distances, computed once for all checkpoints
    summaries: List[CheckpointSummary] = []
    rows: List[Dict[str, object]] = []
    reference_fractions = None
    samples_per_checkpoint = []
    provenance = None
    for position, spec in enumerate(specs):
        gen = open_generator(spec, SourceOptions(z_dim=z_dim, value_range=output_range, device=opts.device,
                                                 trust_pickle=trust_pickle))
        fake = gen.sample(num_samples, batch_size=opts.batch_size, seed=opts.seed, progress=opts.progress)
        ev = evaluate(fake, source_provenance={"spec": spec, **gen.provenance()}, reference=reference)
        modes, nn, fid = ev.metrics["modes"], ev.metrics["neighbours"], ev.metrics["mnist-fid"]
        step = gen.meta.get("step")
        if step is None:
            match = _STEP.search(Path(spec).name)
            step = int(match.group(1)) if match else position
        label = f"step {step}" if "step" in gen.meta or _STEP.search(Path(spec).name) else Path(spec).name
        k = modes["num_classes"]
        mask = [c not in modes["missing"] for c in range(k)]
        summaries.append(CheckpointSummary(
            label=label, step=int(step), covered=modes["covered"], num_classes=k, fractions=modes["fractions"],
            covered_mask=mask, kl_to_reference=modes["kl_to_reference"], fid=fid["value"],
            copy_fraction=nn["copy_fraction"], copying=nn["copying"]))
        rows.append({"label": label, "step": int(step), "spec": spec, "covered": modes["covered"], "num_classes": k,
                     "fractions": modes["fractions"], "missing": modes["missing"],
                     "kl_to_reference": modes["kl_to_reference"], "fid": fid["value"],
                     "copy_fraction": nn["copy_fraction"], "copying": nn["copying"],
                     "low_confidence_fraction": modes["low_confidence_fraction"]})
        reference_fractions = modes["reference_fractions"]
        samples_per_checkpoint.append(ev.arrays["samples"])
        provenance = ev.metrics["provenance"]
    order = np.argsort([s.step for s in summaries], kind="stable")
    summaries = [summaries[i] for i in order]
    rows = [rows[i] for i in order]
    last_samples = samples_per_checkpoint[order[-1]]
    result = {
        "checkpoints": rows,
        "verdict": verdict(summaries),
        "reference_fractions": reference_fractions,
        "num_samples_per_checkpoint": num_samples,
        "provenance": {k: v for k, v in (provenance or {}).items() if k not in ("source", "timings_s", "metrics")},
    }
    return result, {"final_samples": last_samples}


__all__ = ["diagnose", "expand_inputs", "DIAGNOSE_METRICS"]
