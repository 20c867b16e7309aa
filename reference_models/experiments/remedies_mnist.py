"""The ``collapse`` preset vs the same run with one mode-collapse remedy (MNIST, several seeds).

Regenerates the MNIST remedies table and pictures of docs/trainer.md::

    nice -n 10 python -m reference_models.experiments.remedies_mnist --jobs 2 --runs runs/remedies \\
        --out docs/experiments/remedies_mnist.json --images docs/images

Every variant is ``python -m reference_models.train --config collapse --set seed=S`` (the DCGAN
networks at half width without BatchNorm, Adam 2e-4, 1,000 steps) with one change:
``pac4`` = PacGAN packing of 4 (Lin et al. 2018; D sees 16 packs of 4 per batch of 64),
``unrolled5`` = 5 look-ahead steps of D's own Adam (Metz et al. 2017), ``adagan4`` = AdaGAN with
4 boosted components of 250 steps each (Tolstikhin et al. 2017; the component count must
divide the 1,000 steps), and ``batchnorm`` = the
BatchNorm the preset removed (Radford et al. 2016's own fix; the architecture changes, so it is
a reference, not a drop-in remedy). MAD-GAN is not here: the trainer builds it for MLP
generators only. Each run is measured by :func:`reference_models.experiments.presets.measure_run`
on 1,000 samples of the run's fixed z: digits covered (shipped MNIST classifier, >= 5 % of
the samples, the monitor's and ``gandiag diagnose``'s rule), the classifier's mean
max-probability (real held-out digits ~0.99) and the trajectory of the in-training monitor.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List

from gandiag.fileio import atomic_write_json

from .presets import add_run_arguments, measure_run, save_sample_image, train_cli
from .remedies_toy import beats_vanilla, summarize

BASE_PRESET = "collapse"
VARIANTS: Dict[str, List[str]] = {
    "vanilla": [],
    "pac4": ["pack=4"],
    "unrolled5": ["unroll_steps=5"],
    "adagan4": ["ada_components=4"],
    "batchnorm": ["batchnorm=true"],
}
REMEDIES = ("pac4", "unrolled5", "adagan4")  # the remedies; batchnorm is the reference fix


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reference_models.experiments.remedies_mnist",
                                     description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    add_run_arguments(parser, "steps=100 for a quick trial")
    parser.add_argument("--images", default=None, help="folder for trainer-remedy-<variant>.png (first seed)")
    args = parser.parse_args(argv)
    runs = Path(args.runs)
    # unrolled runs cost ~8x (measured): start them first so the parallel jobs end together
    order = sorted(args.variants, key=lambda v: v != "unrolled5")
    code = train_cli(args.jobs, ((runs / f"{v}-s{s}", BASE_PRESET, s, [*args.set, *VARIANTS[v]])
                                 for v in order for s in args.seeds))
    if code:
        return code
    results = {"base_preset": BASE_PRESET, "extra_sets": args.set, "seeds": args.seeds,
               "variants": {v: VARIANTS[v] for v in args.variants}, "runs": [], "summary": {}, "beats_vanilla": []}
    for variant in args.variants:
        rows = []
        for seed in args.seeds:
            row = {"variant": variant, "seed": seed, **measure_run(runs / f"{variant}-s{seed}")}
            rows.append(row)
            results["runs"].append(row)
            print(json.dumps({k: row[k] for k in ("variant", "seed", "covered_5pct", "mean_max_prob", "counts",
                                                  "cpu_s")}), flush=True)
        results["summary"][variant] = {key: summarize([r[key] for r in rows])
                                       for key in ("covered_5pct", "mean_max_prob", "cpu_s")}
        if args.images:
            save_sample_image(runs / f"{variant}-s{args.seeds[0]}",
                              Path(args.images) / f"trainer-remedy-{variant}.png")
    if "vanilla" in args.variants:
        vanilla = results["summary"]["vanilla"]["covered_5pct"]["values"]
        results["beats_vanilla"] = [v for v in args.variants if v != "vanilla"
                                    and beats_vanilla(results["summary"][v]["covered_5pct"]["values"], vanilla)]
    atomic_write_json(args.out, results)
    print(markdown_table(results))
    print("beats vanilla (every seed above every vanilla seed):", json.dumps(results["beats_vanilla"]))
    return 0


def markdown_table(results) -> str:
    """The docs table: mean ± sd over seeds, and each seed's value."""
    lines = ["| variant | digits covered (>= 5 %) | per seed | mean max-probability | CPU s / run |",
             "| --- | --- | --- | --- | --- |"]
    for variant, s in results["summary"].items():
        c, p, t = s["covered_5pct"], s["mean_max_prob"], s["cpu_s"]
        lines.append(f"| {variant} | {c['mean']:.1f} ± {c['sd']:.1f} | {' / '.join(str(v) for v in c['values'])} | "
                     f"{p['mean']:.2f} ± {p['sd']:.2f} | {t['mean']:.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
