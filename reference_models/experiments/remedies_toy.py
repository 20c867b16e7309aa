"""Vanilla GAN vs mode-collapse remedies on the 2-D ring of 8 and grid of 25 (several seeds).

Regenerates the 2-D table and pictures of docs/trainer.md::

    nice -n 10 python -m reference_models.experiments.remedies_toy --out docs/experiments/toy.json \\
        --images docs/images

Every variant is the ``toy-gan`` baseline config (same data, networks, optimizer, steps and
seeds) with one change: ``pac4`` = PacGAN packing of 4 (Lin et al. 2018), ``unrolled5`` =
5 look-ahead steps of D's own Adam (Metz et al. 2017). Metrics are gandiag's
:func:`gandiag.metrics.toy_modes.toy_mode_metrics` on 2,500 samples of a fixed z (modes covered
= at least one sample within 3 sigma of the mode, PacGAN's rule; high-quality fraction; KL of
the high-quality samples' mode histogram to uniform).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List

import torch

from gandiag.fileio import atomic_write_bytes, atomic_write_json

from ..config import TrainConfig, from_dict
from ..toy import generate_points, scatter_png
from ..train import Trainer

VARIANTS: Dict[str, Dict[str, object]] = {
    "vanilla": {},
    "pac4": {"pack": 4},
    "unrolled5": {"unroll_steps": 5},
}


def base_config(dataset: str, steps: int) -> TrainConfig:
    """The shared baseline: MLPs 2x128 (G with BatchNorm), z 64, Adam 1e-3 / 0.5, batch 128."""
    return from_dict({"arch": "mlp", "dataset": dataset, "z_dim": 64, "g_width": 128, "d_width": 128,
                      "g_depth": 2, "d_depth": 2, "batchnorm": True, "g_lr": 1e-3, "d_lr": 1e-3,
                      "batch_size": 128, "steps": steps, "monitor_every": steps, "monitor_samples": 2500,
                      "log_every": 0, "sample_every": 0, "checkpoint_every": 0})


def run_one(config: TrainConfig, snapshots: List[int]):
    torch.set_num_threads(1)
    trainer = Trainer(config, None, quiet=True)
    pictures = []
    start = time.process_time()
    while trainer.step < config.steps:
        trainer.train_step()
        if trainer.step in snapshots:
            pictures.append((f"step {trainer.step}", generate_points(trainer.G, trainer.fixed_z)))
    result = trainer.monitor.evaluate(trainer.G)
    result["cpu_s"] = time.process_time() - start
    return result, pictures


def summarize(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
            "values": values}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reference_models.experiments.remedies_toy",
                                     description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["ring8", "grid25"])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--out", required=True, help="JSON results file")
    parser.add_argument("--images", default=None, help="folder for trainer-toy-<dataset>.png (seed 0 over training)")
    args = parser.parse_args(argv)
    snapshots = sorted({args.steps // 4, args.steps // 2, 3 * args.steps // 4, args.steps})
    results = {"steps": args.steps, "seeds": args.seeds, "runs": [], "summary": {}}
    for dataset in args.datasets:
        rows = []
        for name in args.variants:
            runs = []
            for seed in args.seeds:
                config = base_config(dataset, args.steps).replace(seed=seed, **VARIANTS[name])
                metrics, pictures = run_one(config, snapshots)
                runs.append(metrics)
                results["runs"].append({"dataset": dataset, "variant": name, "seed": seed, **metrics})
                print(json.dumps({"dataset": dataset, "variant": name, "seed": seed, "covered": metrics["covered"],
                                  "hq": metrics.get("high_quality_fraction"), "kl": metrics.get("kl_to_uniform"),
                                  "cpu_s": round(metrics["cpu_s"], 1)}), flush=True)
                if seed == args.seeds[0]:
                    rows.append((name, pictures))
            results["summary"][f"{dataset}/{name}"] = {
                key: summarize([r.get(key) for r in runs])
                for key in ("covered", "high_quality_fraction", "kl_to_uniform", "cpu_s")}
        if args.images:
            import io

            from PIL import Image  # one row of scatter plots per variant, stacked

            images = [Image.open(io.BytesIO(scatter_png([(f"{name}, {t}", p) for t, p in pics], dataset)))
                      for name, pics in rows]
            canvas = Image.new("RGB", (max(i.width for i in images), sum(i.height for i in images)), "white")
            top = 0
            for image in images:
                canvas.paste(image, (0, top))
                top += image.height
            buffer = io.BytesIO()
            canvas.save(buffer, format="PNG")
            atomic_write_bytes(Path(args.images) / f"trainer-toy-{dataset}.png", buffer.getvalue())
    atomic_write_json(args.out, results)
    print(markdown_table(results))
    return 0


def markdown_table(results) -> str:
    """The docs table: mean ± sd over seeds per dataset and variant (``n/a``: no sample within 3 sigma)."""
    def f(x, p):
        return "n/a" if x is None else f"{x['mean']:.{p}f} ± {x['sd']:.{p}f}"

    lines = ["| data | variant | modes covered | high-quality fraction | KL to uniform (nats) | CPU s / run |",
             "| --- | --- | --- | --- | --- | --- |"]
    for key, s in results["summary"].items():
        dataset, variant = key.split("/")
        lines.append(f"| {dataset} | {variant} | {f(s['covered'], 1)} | {f(s['high_quality_fraction'], 3)} | "
                     f"{f(s['kl_to_uniform'], 2)} | {f(s['cpu_s'], 0)} |")
    return "\n".join(lines)


def print_table(path) -> None:
    """``python -c 'from reference_models.experiments.remedies_toy import print_table; print_table(P)'``."""
    print(markdown_table(json.loads(Path(path).read_text())))


if __name__ == "__main__":
    sys.exit(main())
