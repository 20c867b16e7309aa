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
from ..sources import SourceOptions, is_generator_spec, open_generator
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
        elif path.is_file() and not is_generator_spec(str(item)):
            raise GandiagError(f"{path} is a data file, not a generator; diagnose takes reference-trainer run folders "
                               "and generator files (.ts, .pt2, checkpoints, module:callable); score samples with "
                               "`gandiag evaluate`")
        else:
            specs.append(str(item))
    if not specs:
        raise GandiagError("diagnose: give at least one run folder or generator")
    return specs


def group_inputs(inputs: Sequence[str]) -> List[Tuple[str, List[str]]]:
    """Split ``inputs`` into timelines judged separately: ``(name, inputs)`` per run folder, and
    one group (``"generators"``) of all other generator specs, in the order given.

    Checkpoints of different runs are never merged into one timeline: each run gets its own
    verdict.
    """
    groups: List[Tuple[str, List[str]]] = []
    loose: List[str] = []
    names: set = set()
    for item in inputs:
        path = Path(item)
        if path.is_dir() and (path / "checkpoints").is_dir():
            name = path.resolve().name or "run"
            base, k = name, 2
            while name in names:
                name, k = f"{base}-{k}", k + 1
            names.add(name)
            groups.append((name, [str(item)]))
        else:
            loose.append(str(item))
    if loose:
        name = "generators" if "generators" not in names else "generators-files"
        groups.append((name, loose))
    if not groups:
        raise GandiagError("diagnose: give at least one run folder or generator")
    return groups


_ARCH_KEYS = ("model", "z_dim", "num_classes", "image_shape", "prior", "output_range")


def _architecture(meta: Dict[str, object]) -> Optional[Tuple]:
    """What makes two checkpoints the same network (None when the source does not say)."""
    if not any(k in meta for k in _ARCH_KEYS[:1]):
        return None
    return tuple((k, repr(meta.get(k))) for k in _ARCH_KEYS)


def diagnose(
    inputs: Sequence[str],
    *,
    num_samples: int = 2000,
    options: EvaluateOptions = EvaluateOptions(),
    z_dim: Optional[int] = None,
    output_range=None,
    trust_pickle: bool = False,
    max_checkpoints: Optional[int] = None,
    reference: Optional[Reference] = None,
    label_free: Optional[bool] = None,
) -> Tuple[Dict[str, object], Dict[str, np.ndarray]]:
    """Evaluate each checkpoint and return ``(diagnosis, arrays)``.

    Args:
        inputs: run folders and/or generator specs.
        num_samples: samples drawn from each checkpoint (same seed for all).
        options: evaluation options (``ref``, ``seed``, ``mode_threshold``, ...);
            the metrics are fixed to ``modes``, ``mnist-fid`` and ``neighbours``.
        max_checkpoints: keep at most this many, evenly spaced, always including the last.
        label_free: judge with NDB, PRDC and the birthday test instead of a classifier
            (:mod:`gandiag.diagnostics.label_free`); None: when no shipped classifier fits the
            reference (anything but MNIST / Fashion-MNIST).

    Returns:
        ``diagnosis`` (JSON-able: ``checkpoints``, ``verdict``, ``reference_fractions``,
        ``provenance``) and ``arrays`` (``final_samples``).
    """
    groups = group_inputs(inputs)
    if len(groups) > 1:
        raise GandiagError(f"diagnose: {len(groups)} runs given ({', '.join(n for n, _ in groups)}); their "
                           "checkpoints are not one timeline: diagnose each separately (diagnose_runs() or "
                           "`gandiag diagnose RUN_A RUN_B`, one verdict per run)")
    specs = expand_inputs(inputs)
    if max_checkpoints is not None and max_checkpoints <= 0:
        raise GandiagError(f"max_checkpoints (--max-checkpoints) must be positive, got {max_checkpoints}")
    if max_checkpoints is not None and len(specs) > max_checkpoints >= 2:
        keep = np.unique(np.linspace(0, len(specs) - 1, max_checkpoints).round().astype(int))
        specs = [specs[i] for i in keep]
    if label_free is None:
        from ..data import load_images
        from ..evaluation import data_domain
        from .label_free import needs_label_free

        label_free = needs_label_free(reference.domain if reference is not None else data_domain(load_images(options.ref)))
    if label_free:
        from .label_free import diagnose_label_free

        return diagnose_label_free(specs, options=options, num_samples=num_samples, z_dim=z_dim,
                                   output_range=output_range, trust_pickle=trust_pickle)
    opts = replace(options, metrics=DIAGNOSE_METRICS, bootstrap=0)
    if reference is None:
        reference = Reference(opts)  # real-data features and held-out distances, computed once for all checkpoints
    summaries: List[CheckpointSummary] = []
    rows: List[Dict[str, object]] = []
    reference_fractions = None
    samples_per_checkpoint = []
    provenance = None
    first_arch = None
    for position, spec in enumerate(specs):
        gen = open_generator(spec, SourceOptions(z_dim=z_dim, value_range=output_range, device=opts.device,
                                                 trust_pickle=trust_pickle))
        arch = _architecture(gen.meta)
        if arch is not None and first_arch is not None and arch != first_arch[0]:
            differs = [k for (k, a), (_, b) in zip(arch, first_arch[0]) if a != b]
            raise GandiagError(f"{spec} is a different network ({', '.join(differs)} differ) from {first_arch[1]}; "
                               "a timeline holds checkpoints of one model: remove the foreign checkpoint")
        if arch is not None and first_arch is None:
            first_arch = (arch, spec)
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


def diagnose_runs(inputs: Sequence[str], *, options: EvaluateOptions = EvaluateOptions(), **kwargs
                  ) -> List[Tuple[str, Dict[str, object], Dict[str, np.ndarray]]]:
    """:func:`diagnose` each group of :func:`group_inputs` separately (one verdict per run),
    sharing one :class:`~gandiag.evaluation.Reference`. Returns ``[(name, diagnosis, arrays)]``."""
    groups = group_inputs(inputs)
    reference = Reference(replace(options, metrics=DIAGNOSE_METRICS, bootstrap=0))
    return [(name, *diagnose(group, options=options, reference=reference, **kwargs)) for name, group in groups]


__all__ = ["diagnose", "diagnose_runs", "group_inputs", "expand_inputs", "DIAGNOSE_METRICS"]
