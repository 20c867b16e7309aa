"""Train failure/success presets on several seeds, measure their claims, ask ``gandiag diagnose``.

Regenerates the MNIST part of docs/trainer.md's measured runs::

    nice -n 10 python -m reference_models.experiments.presets --presets collapse memorize \\
        --seeds 0 --runs runs/presets --out docs/experiments/presets.json

For each ``(preset, seed)`` it trains ``python -m reference_models.train --config PRESET --set
seed=S`` into ``RUNS/PRESET-sS`` (skipped when the run is already finished), then measures on
1,000 samples of a fixed z (the monitor's): digits covered (shipped MNIST classifier, >= 5 %
of the samples, the monitor's and diagnose's rule, and >= 2 %), the classifier's mean
max-probability (real held-out digits: ~0.99), and the copy fraction (share of samples closer
to a training image than 95 % of held-out real digits are); finally it runs the real CLI,
``gandiag diagnose RUN --num-samples 1000``, and records its verdict and evidence.
``--images DIR`` writes ``DIR/trainer-PRESET.png`` for the first seed: 80 samples of that
fixed z (8 rows of 10; conditional runs: labels 0-9 across each row) and, for runs on at
most 20 training digits (``memorize``), their training digits as a last row below.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict

import numpy as np
import torch

from gandiag.errors import GandiagError
from gandiag.fileio import atomic_write_json

from ..checkpoint import config_of, read_checked
from ..data import load_train_data
from ..nets import build_generator, output_range
from ..samples import generate_canonical, sample_prior


def nearest_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """L2 distance of each row of ``a`` to its nearest row of ``b`` (float64)."""
    a, b = a.reshape(len(a), -1).astype(np.float64), b.reshape(len(b), -1).astype(np.float64)
    d2 = (a * a).sum(1)[:, None] - 2.0 * a @ b.T + (b * b).sum(1)[None, :]
    return np.sqrt(np.maximum(d2.min(axis=1), 0.0))


def measure_run(run: Path, checkpoint: str = "last.pt") -> Dict[str, Any]:
    """Claims of one finished run, from its last (or the named) checkpoint (see module doc)."""
    from gandiag.data import load_mnist_subset
    from gandiag.features import get_extractor

    run = Path(run)
    state, config, images = _fixed_z_samples(run, checkpoint, 1000)
    logits = get_extractor("mnist-classifier").extract(images, outputs=("logits",))["logits"]
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    counts = np.bincount(p.argmax(1), minlength=10)
    train = load_train_data(config.replace(monitor_every=0)).canonical
    held = np.asarray(load_mnist_subset("test").images, dtype=np.float32)
    tau = float(np.quantile(nearest_distances(held, train), 0.05))
    d_gen = nearest_distances(images, train)
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    monitor = [{"step": r["step"], "covered": r["covered"], "missing": r["missing"]}
               for r in log if r["kind"] == "monitor"]
    return {
        "step": int(state["step"]),
        "covered_5pct": int((counts >= 50).sum()), "covered_2pct": int((counts >= 20).sum()),
        "missing_5pct": [int(c) for c in np.flatnonzero(counts < 50)], "counts": [int(c) for c in counts],
        "mean_max_prob": float(p.max(1).mean()),
        "copy_fraction": float((d_gen < tau).mean()), "copy_threshold": tau,
        "median_nn_distance": float(np.median(d_gen)), "train_size": int(len(train)),
        "monitor": monitor,
        "cpu_s": [r.get("cpu_s") for r in log if r["kind"] == "event"][-1],
    }


def _fixed_z_samples(run: Path, checkpoint: str, count: int):
    """``(checkpoint state, config, canonical images)`` of ``count`` samples of the run's fixed z (labels
    cycling 0..9 for a conditional G): the same z for the measurement and the picture."""
    state = read_checked(run / "checkpoints" / checkpoint)
    config = config_of(state, run)
    generator = build_generator(config)
    generator.load_state_dict(state["generator"])
    z = sample_prior(config.prior, count, config.z_dim, torch.Generator().manual_seed(config.seed * 7919 + 3))
    y = torch.arange(count) % 10 if config.conditional else None
    return state, config, generate_canonical(generator, z, y, output_range(config))


def save_sample_image(run: Path, path: Path, checkpoint: str = "last.pt") -> None:
    """The picture of ``--images`` (see module doc), scaled 2x."""
    from ..samples import save_grid

    _, config, images = _fixed_z_samples(Path(run), checkpoint, 80)
    train = load_train_data(config.replace(monitor_every=0))
    if len(train) <= 20:
        order = np.argsort(train.labels.numpy(), kind="stable")
        images = np.concatenate([images, train.canonical[order]])
    save_grid(path, images, columns=10, scale=2)


def diagnose_run(run: Path) -> Dict[str, Any]:
    """``gandiag diagnose RUN`` into ``RUN/diagnosis``: this script's own output folder, so a re-run over
    finished runs replaces it (``--force``) instead of failing on the previous diagnosis."""
    out = run / "diagnosis"
    cmd = [sys.executable, "-m", "gandiag", "diagnose", str(run), "--num-samples", "1000", "--out", str(out),
           "--quiet", "--force"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip()[-500:], "command": " ".join(cmd)}
    result = json.loads((out / "diagnosis.json").read_text())
    return {"verdict": result["verdict"]["verdict"], "evidence": result["verdict"]["evidence"],
            "command": "gandiag diagnose RUN --num-samples 1000"}


def train_run(run: Path, preset: str, seed: int, sets=()) -> None:
    """Train ``--config PRESET --set seed=SEED --set ...`` into ``run`` in a child process (resumed
    when a checkpoint is there; nothing when the run is finished)."""
    run = Path(run)
    if (run / "export").is_dir():
        return
    start = time.time()
    cmd = [sys.executable, "-m", "reference_models.train", "--config", preset, "--out", str(run),
           "--set", f"seed={seed}", "--quiet"]
    for item in sets:
        cmd += ["--set", item]
    if (run / "checkpoints" / "last.pt").is_file():
        cmd = [sys.executable, "-m", "reference_models.train", "--out", str(run), "--resume", "--quiet"]
    code = subprocess.run(cmd, env={**os.environ}).returncode
    if code:
        raise GandiagError(f"training {run} failed (exit {code}; its own error is printed above)")
    print(f"trained {run} in {time.time() - start:.0f} s", file=sys.stderr)


def train_all(jobs: int, tasks) -> None:
    """``train_run(*task)`` for every task, ``jobs`` child processes at a time (one thread each)."""
    tasks = list(tasks)
    if jobs == 1:
        for task in tasks:
            train_run(*task)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(lambda task: train_run(*task), tasks))


def train_cli(jobs: int, tasks) -> int:
    """:func:`train_all` for a script's ``main``: 0, or 2 after one ``error:`` line (bad ``--jobs``,
    or a run that failed to train; the trainer has printed its own error above)."""
    if jobs < 1:
        print("error: --jobs must be >= 1", file=sys.stderr)
        return 2
    try:
        train_all(jobs, tasks)
    except GandiagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def add_run_arguments(parser: argparse.ArgumentParser, set_example: str) -> None:
    """``--runs``, ``--out``, ``--jobs`` and ``--set``: the options every experiment script that trains
    through :func:`train_cli` shares."""
    parser.add_argument("--runs", required=True, help="folder for the run folders (finished runs are reused)")
    parser.add_argument("--out", required=True, help="JSON results file")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained in parallel (one thread each)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help=f"config override for every run (e.g. {set_example}); use a --runs folder of its own")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reference_models.experiments.presets", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", required=True)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    add_run_arguments(parser, "steps=4000")
    parser.add_argument("--no-diagnose", action="store_true")
    parser.add_argument("--images", help="folder for trainer-PRESET.png sample pictures (first seed)")
    args = parser.parse_args(argv)
    code = train_cli(args.jobs, ((Path(args.runs) / f"{name}-s{seed}", name, seed, args.set)
                                 for name in args.presets for seed in args.seeds))
    if code:
        return code
    results = []
    for name in args.presets:
        for seed in args.seeds:
            run = Path(args.runs) / f"{name}-s{seed}"
            row = {"preset": name, "seed": seed, "sets": args.set, **measure_run(run)}
            if args.images and seed == args.seeds[0]:
                save_sample_image(run, Path(args.images) / f"trainer-{name}.png")
            if not args.no_diagnose:
                row["diagnose"] = diagnose_run(run)
            results.append(row)
            print(json.dumps({k: v for k, v in row.items() if k not in ("monitor",)}), flush=True)
    atomic_write_json(args.out, {"runs": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
