"""Vanilla GAN vs mode-collapse remedies on the 2-D ring of 8 and grid of 25 (several seeds).

Regenerates the 2-D table and pictures of docs/trainer.md::

    nice -n 10 python -m reference_models.experiments.remedies_toy --jobs 2 \\
        --out docs/experiments/remedies_toy.json --images docs/images

The baseline is Metz et al.'s (2017) mixture-of-Gaussians GAN as their notebook
(github:poolio/unrolled_gan, "Unrolled GAN demo.ipynb") sets it up: G and D MLPs 2 x 128,
z ~ N(0, I_256), batch 512, Adam with beta1 0.5, G's learning rate 1e-3 and D's 1e-4 -- the
setting in which a vanilla GAN jumps from one mode to the next. Every variant is that config
(same data, networks, optimizer, steps and seeds) with one change: ``pac4`` = PacGAN packing of 4
(Lin et al. 2018), ``unrolled5`` = 5 look-ahead steps of D's own Adam (Metz et al. 2017),
``madgan4`` = MAD-GAN with 4 generators sharing the first layer (Ghosh et al. 2018),
``adagan3`` = AdaGAN with 3 boosted components of steps/3 steps each and a 200-step
data-vs-mixture classifier (Tolstikhin et al. 2017).
Metrics are gandiag's :func:`gandiag.metrics.toy_modes.toy_mode_metrics` on 2,500 samples of a
fixed z (modes covered = at least one sample within 3 sigma of the mode, PacGAN's rule;
high-quality fraction; KL of the high-quality samples' mode histogram to uniform).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
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
    "madgan4": {"mad_generators": 4},
    "adagan3": {"ada_components": 3, "ada_classifier_steps": 200},
}
DEFAULT_STEPS = 1200
SNAPSHOTS = 6  # pictures / trajectory points per run


def base_config(dataset: str, steps: int) -> TrainConfig:
    """Metz et al.'s toy GAN (poolio/unrolled_gan): MLPs 2x128, z 256, batch 512, Adam G 1e-3 / D 1e-4, beta1 0.5."""
    return from_dict({"arch": "mlp", "dataset": dataset, "z_dim": 256, "g_width": 128, "d_width": 128,
                      "g_depth": 2, "d_depth": 2, "batchnorm": False, "g_lr": 1e-3, "d_lr": 1e-4, "beta1": 0.5,
                      "batch_size": 512, "steps": steps, "monitor_every": steps, "monitor_samples": 2500,
                      "log_every": 0, "sample_every": 0, "checkpoint_every": 0})


def snapshot_steps(steps: int) -> List[int]:
    return sorted({max(1, steps * i // SNAPSHOTS) for i in range(1, SNAPSHOTS + 1)})


def run_one(config: TrainConfig, snapshots: List[int]):
    """Train ``config`` in memory; ``(final metrics + trajectory + cpu_s, [(title, points)] at snapshots)``."""
    torch.set_num_threads(1)
    trainer = Trainer(config, None, quiet=True)
    pictures, trajectory = [], []
    start = time.process_time()
    while trainer.step < config.steps:
        trainer.train_step()
        if trainer.step in snapshots:
            pictures.append((f"step {trainer.step}", generate_points(trainer.model, trainer.fixed_z)))
            m = trainer.monitor.evaluate(trainer.model)
            trajectory.append({"step": trainer.step, "covered": m["covered"],
                               "high_quality_fraction": m.get("high_quality_fraction"), "counts": m.get("counts")})
    result = trainer.monitor.evaluate(trainer.model)
    result["cpu_s"] = time.process_time() - start
    result["trajectory"] = trajectory
    return result, pictures


def _task(args):
    dataset, name, seed, steps = args
    config = base_config(dataset, steps).replace(seed=seed, **VARIANTS[name])
    metrics, pictures = run_one(config, snapshot_steps(steps))
    print(json.dumps({"dataset": dataset, "variant": name, "seed": seed, "covered": metrics["covered"],
                      "hq": metrics.get("high_quality_fraction"), "kl": metrics.get("kl_to_uniform"),
                      "cpu_s": round(metrics["cpu_s"], 1)}), flush=True)
    return dataset, name, seed, metrics, pictures


def summarize(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
            "values": values}


def beats_vanilla(remedy: List[int], vanilla: List[int]) -> bool:
    """The docs' "measurably raises coverage": every seed of the remedy covers more modes than
    every seed of its vanilla twin (no overlap of the seed ranges)."""
    return min(remedy) > max(vanilla)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reference_models.experiments.remedies_toy",
                                     description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["ring8", "grid25"], choices=["ring8", "grid25"])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel (one thread each)")
    parser.add_argument("--out", required=True, help="JSON results file")
    parser.add_argument("--images", default=None, help="folder for trainer-toy-<dataset>.png (seed 0 over training)")
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.steps < SNAPSHOTS:
        print(f"error: --jobs must be >= 1 and --steps >= {SNAPSHOTS}", file=sys.stderr)
        return 2
    # unrolled runs cost ~5x: start them first so the parallel jobs end together
    tasks = sorted(((d, n, s, args.steps) for d in args.datasets for n in args.variants for s in args.seeds),
                   key=lambda t: (t[1] != "unrolled5", args.datasets.index(t[0]), t[1], t[2]))
    if args.jobs == 1:
        done = [_task(t) for t in tasks]
    else:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            done = list(pool.map(_task, tasks))
    by_key = {(d, n, s): (m, p) for d, n, s, m, p in done}
    results = {"steps": args.steps, "seeds": args.seeds, "variants": {n: VARIANTS[n] for n in args.variants},
               "base_config": base_config(args.datasets[0], args.steps).to_dict(), "runs": [], "summary": {},
               "beats_vanilla": {}}
    for dataset in args.datasets:
        rows = []
        for name in args.variants:
            runs = [by_key[(dataset, name, seed)][0] for seed in args.seeds]
            for seed, metrics in zip(args.seeds, runs):
                results["runs"].append({"dataset": dataset, "variant": name, "seed": seed, **metrics})
            rows.append((name, by_key[(dataset, name, args.seeds[0])][1]))
            results["summary"][f"{dataset}/{name}"] = {
                key: summarize([r.get(key) for r in runs])
                for key in ("covered", "high_quality_fraction", "kl_to_uniform", "cpu_s")}
        if "vanilla" in args.variants:
            vanilla = results["summary"][f"{dataset}/vanilla"]["covered"]["values"]
            results["beats_vanilla"][dataset] = [
                name for name in args.variants if name != "vanilla"
                and beats_vanilla(results["summary"][f"{dataset}/{name}"]["covered"]["values"], vanilla)]
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
    print("beats vanilla (every seed above every vanilla seed):", json.dumps(results["beats_vanilla"]))
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
