"""Collapse diagnosis without a classifier: NDB, PRDC recall/coverage and the birthday test.

Where no shipped classifier fits the data (faces, CIFAR, anything not 28x28 digits or
clothes), ``diagnose`` cannot count classes. It measures instead, at every checkpoint
and in one feature space:

* **NDB/K** (:mod:`gandiag.metrics.ndb`): share of reference k-means bins whose
  population differs significantly (alpha = 0.05) between samples and real data;
* **PRDC recall and coverage** (:mod:`gandiag.metrics.prdc`): how much of the real
  manifold the samples reach;
* **birthday support** (:mod:`gandiag.metrics.birthday`): how many distinct images the
  generator seems to draw.

The same three numbers are measured once for *held-out real images* against the
reference (the real-vs-real baseline: NDB/K near alpha, coverage near 1), and the
verdict (:func:`label_free_verdict`, pure) compares the final checkpoint with it:

* **collapse**: NDB/K >= 0.5, or coverage below half the baseline's, or the birthday
  test finds duplicates in half the batches at a batch size s with s^2 < N/4 (the
  generator draws fewer distinct images than a quarter of the samples);
* **partial collapse**: NDB/K >= max(0.2, 3 x baseline), or coverage or recall below
  80 % of the baseline's;
* **healthy**: none of these.

The verdict lists every rule it checked and the numbers, and says which evidence it
used (``evidence_used``), because these are weaker than class counts: they say *that*
bins of the data are missing, and the report shows *which* (real images nearest the
under-populated bins), but not their names.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Mapping, Sequence, Tuple

import numpy as np

from ..errors import GandiagError

LABEL_FREE_METRICS = ("ndb", "prdc", "birthday")
EVIDENCE = ("NDB/K (statistically different bins, alpha 0.05)", "PRDC recall and coverage",
            "birthday-paradox support estimate")


def checkpoint_row(label: str, step: int, spec: str, metrics: Mapping) -> Dict[str, object]:
    """The per-checkpoint numbers the verdict and the plots read, from one evaluation's metrics."""
    ndb, prdc, bday = metrics["ndb"], metrics["prdc"], metrics["birthday"]
    return {"label": label, "step": int(step), "spec": spec,
            "ndb": ndb["ndb"], "ndb_k": ndb["ndb_k"], "js": ndb["js"], "num_bins": ndb["num_bins"],
            "under": ndb["under"], "over": ndb["over"], "under_examples": ndb.get("under_examples", []),
            "precision": prdc["precision"], "recall": prdc["recall"], "density": prdc["density"],
            "coverage": prdc["coverage"],
            "support_estimate": bday["support_estimate"], "support_status": bday["status"],
            "s_half": bday["s_half"], "num_samples": bday["num_samples"], "space": ndb.get("space", ""),
            **({"stacked_covered": metrics["stacked-modes"]["covered"],
                "stacked_kl_to_uniform": metrics["stacked-modes"]["kl_to_uniform"]}
               if "stacked-modes" in metrics else {})}


def label_free_verdict(rows: Sequence[Mapping], baseline: Mapping) -> Dict[str, object]:
    """Verdict for the final checkpoint of ``rows`` against the real-vs-real ``baseline`` row.

    Returns:
        dict with ``verdict`` (one of healthy / partial collapse / collapse), ``final`` (label),
        ``evidence`` (one sentence per rule, with numbers), ``evidence_used`` and ``rules``.
    """
    if not rows:
        raise GandiagError("label-free diagnosis: no checkpoints")
    last = rows[-1]
    cov0, rec0, ndb0 = float(baseline["coverage"]), float(baseline["recall"]), float(baseline["ndb_k"])
    n = int(last["num_samples"])
    dup_small = last["support_status"] in ("estimate", "at_most") and float(last["support_estimate"]) < n / 4
    collapse = [
        (last["ndb_k"] >= 0.5, f"NDB/K {last['ndb_k']:.2f} >= 0.5: half the data's bins are mis-populated"),
        (last["coverage"] < 0.5 * cov0, f"coverage {last['coverage']:.2f} < half the real baseline's {cov0:.2f}"),
        (dup_small, f"birthday test: duplicates in half the batches at s = {last['s_half']:.0f}, support "
                    f"≈ {last['support_estimate']:,.0f} < N/4 = {n / 4:,.0f} distinct images"),
    ]
    partial = [
        (last["ndb_k"] >= max(0.2, 3 * ndb0), f"NDB/K {last['ndb_k']:.2f} >= max(0.2, 3 x baseline {ndb0:.2f})"),
        (last["coverage"] < 0.8 * cov0, f"coverage {last['coverage']:.2f} < 80% of the baseline's {cov0:.2f}"),
        (last["recall"] < 0.8 * rec0, f"recall {last['recall']:.2f} < 80% of the baseline's {rec0:.2f}"),
    ]
    if any(hit for hit, _ in collapse):
        name, fired = "collapse", [t for hit, t in collapse if hit]
    elif any(hit for hit, _ in partial):
        name, fired = "partial collapse", [t for hit, t in partial if hit]
    else:
        name = "healthy"
        fired = [f"NDB/K {last['ndb_k']:.2f} (baseline {ndb0:.2f}), coverage {last['coverage']:.2f} "
                 f"(baseline {cov0:.2f}), recall {last['recall']:.2f} (baseline {rec0:.2f}): within the limits"]
    status = {"estimate": "≈", "at_least": ">", "at_most": "≤"}[last["support_status"]]
    fired.append(f"birthday support {status} {last['support_estimate']:,.0f} images ({last['support_status']})")
    if "stacked_covered" in last:  # Stacked MNIST: the digit triples are countable, say so
        fired.append(f"Stacked MNIST: {last['stacked_covered']} of 1000 modes covered (held-out real: "
                     f"{baseline.get('stacked_covered', 'n/a')}), KL to uniform {last['stacked_kl_to_uniform']:.2f}")
    if last["under"]:
        fired.append(f"{len(last['under'])} of {last['num_bins']} bins under-populated: the report shows their "
                     "real images (what the generator no longer draws)")
    used = list(EVIDENCE) + (["Stacked-MNIST modes (shipped MNIST classifier per channel)"]
                             if "stacked_covered" in last else [])
    fired.append("evidence used: " + "; ".join(used) + " (no class names: no shipped classifier fits these images"
                 + (" as a whole" if "stacked_covered" in last else "") + ")")
    return {"verdict": name, "final": last["label"], "evidence": fired, "evidence_used": used,
            "rules": {"collapse": [t for _, t in collapse], "partial collapse": [t for _, t in partial]}}


def diagnose_label_free(specs: Sequence[str], *, options, num_samples: int, z_dim=None, output_range=None,
                        trust_pickle: bool = False) -> Tuple[Dict[str, object], Dict[str, np.ndarray]]:
    """Evaluate ``specs`` (checkpoints in order) with the label-free metrics and judge the last one.

    Returns ``(diagnosis, arrays)`` like :func:`gandiag.diagnostics.run.diagnose`, with
    ``mode: "label-free"``, ``baseline`` (held-out real images scored the same way) and
    arrays ``final_samples`` and ``ndb_under_images`` (real images of the final
    checkpoint's under-populated bins).
    """
    from ..evaluation import Reference, evaluate
    from ..sources import SourceOptions, open_generator
    from .run import _STEP

    opts = replace(options, metrics=LABEL_FREE_METRICS, bootstrap=0)
    reference = Reference(opts)
    if reference.domain == "stacked-mnist":  # 1,000 countable modes: count them at every checkpoint too
        opts = replace(opts, metrics=LABEL_FREE_METRICS + ("stacked-modes",))
        reference = Reference(opts)
    rows: List[Dict[str, object]] = []
    arrays: List[Dict[str, np.ndarray]] = []
    provenance: Dict[str, object] = {}
    for position, spec in enumerate(specs):
        gen = open_generator(spec, SourceOptions(z_dim=z_dim, value_range=output_range, device=opts.device,
                                                 trust_pickle=trust_pickle))
        fake = gen.sample(num_samples, batch_size=opts.batch_size, seed=opts.seed, progress=opts.progress)
        ev = evaluate(fake, source_provenance={"spec": spec, **gen.provenance()}, reference=reference)
        step = gen.meta.get("step")
        match = _STEP.search(Path(spec).name)
        if step is None:
            step = int(match.group(1)) if match else position
        label = f"step {step}" if "step" in gen.meta or match else Path(spec).name
        rows.append(checkpoint_row(label, int(step), spec, ev.metrics))
        arrays.append({"final_samples": ev.arrays["samples"],
                       **{k: ev.arrays[k] for k in ("ndb_under_images",) if k in ev.arrays}})
        provenance = ev.metrics["provenance"]
    baseline = real_baseline(reference, opts, rows[0]["space"], num_samples)
    order = np.argsort([r["step"] for r in rows], kind="stable")
    rows = [rows[i] for i in order]
    last_arrays = arrays[order[-1]]
    result = {
        "mode": "label-free",
        "checkpoints": rows,
        "baseline": baseline,
        "verdict": label_free_verdict(rows, baseline),
        "num_samples_per_checkpoint": num_samples,
        "provenance": {k: v for k, v in provenance.items() if k not in ("source", "timings_s", "metrics")},
    }
    return result, last_arrays


def real_baseline(reference, opts, space: str, num_samples: int) -> Dict[str, object]:
    """The three label-free numbers for held-out real images: the first half (at most
    ``num_samples`` rows) plays the samples, the second half calibrates the birthday test."""
    from ..metrics.birthday import birthday_test
    from ..metrics.ndb import ndb
    from ..metrics.prdc import prdc

    ref = np.asarray(reference.features(space, "ref")["features"])
    held = np.asarray(reference.features(space, "heldout")["features"])
    half = len(held) // 2
    fake, calib = held[:min(half, num_samples)], held[half:]
    bins = ndb(fake, ref, num_bins=opts.ndb_bins, alpha=opts.ndb_alpha, seed=opts.seed)  # same seed: same bins
    n = min(len(ref), len(fake))  # PRDC at equal counts, as the prdc step subsamples
    real = ref[np.sort(np.random.default_rng(opts.seed).choice(len(ref), n, replace=False))] if len(ref) > n else ref
    metrics = {"ndb": {**bins, "space": space}, "prdc": prdc(real, fake, k=opts.prdc_k),
               "birthday": birthday_test(fake, calib, num_batches=opts.birthday_batches,
                                         max_batch=opts.birthday_max_batch, seed=opts.seed)}
    if "stacked-modes" in opts.metrics:
        from ..features.mnist_classifier import stacked_mnist_modes
        from ..metrics.stacked_modes import stacked_mode_coverage

        held_images = reference.require_heldout().images[:len(fake)]
        metrics["stacked-modes"] = stacked_mode_coverage(stacked_mnist_modes(held_images))
    return checkpoint_row("held-out real", -1, "held-out real images", metrics)


def needs_label_free(domain: str) -> bool:
    """Whether ``diagnose`` must use the label-free evidence for a reference of this domain."""
    return domain not in ("mnist", "fashion")


__all__ = ["diagnose_label_free", "label_free_verdict", "checkpoint_row", "needs_label_free", "LABEL_FREE_METRICS"]
