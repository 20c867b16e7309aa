"""In-training monitor: mode coverage and MNIST-domain FID of a fixed sample batch.

Every ``monitor_every`` steps the trainer generates ``monitor_samples`` images from a fixed
``z`` (eval mode, no RNG consumed) and logs to ``log.jsonl``::

    {"kind": "monitor", "step": 500, "covered": 10, "missing": [], "counts": [...],
     "max_fraction": 0.13, "kl_to_uniform": 0.01, "fid": 12.3, ...}

* ``covered``: digits that the shipped MNIST classifier (``gandiag.features``,
  ``mnist-classifier``) assigns to at least 5 % of the samples: gandiag's one definition
  (:data:`gandiag.metrics.modes.DEFAULT_MODE_THRESHOLD` = 0.5 of the fair share N/K, the same
  rule ``gandiag evaluate``/``diagnose`` apply; logged as ``mode_threshold``); a collapsing generator loses digits here
  while it happens. Stacked MNIST counts the 1000 (R, G, B) digit triples instead, each
  covered with at least one sample.
* ``fid``: Fréchet distance between the classifier's 128-d penultimate features of the
  samples and of the training images (:func:`gandiag.metrics.frechet.frechet_distance`,
  N-1 covariances, float64) — the "MNIST-FID" of GAN papers, not comparable with
  InceptionV3 FID. With ~1000 samples it carries a positive small-sample bias, so compare
  values across steps of the same run, not with published numbers.
* conditional runs add ``label_accuracy``: how often the classifier agrees with the label
  the generator was asked for.
"""
from __future__ import annotations

import time
from typing import Any, Dict

import numpy as np
import torch

from gandiag.errors import GandiagError

from .config import TrainConfig
from .data import TrainData
from .nets import output_range
from .samples import generate_canonical, sample_prior

EXTRACTOR = "mnist-classifier"


def _digits_view(images: np.ndarray) -> np.ndarray:
    """Canonical (N, C, 28|32, ...) -> grayscale 28x28 digits (N*C, 1, 28, 28): crop the
    2-pixel padding of 32x32 runs and split Stacked-MNIST channels into single digits."""
    if images.shape[-1] == 32:
        images = images[:, :, 2:30, 2:30]
    n, c = images.shape[:2]
    return np.ascontiguousarray(images.reshape(n * c, 1, 28, 28))


class Monitor:
    """Fixed-batch coverage + FID evaluator for one run (see module doc)."""

    def __init__(self, config: TrainConfig, data: TrainData, device=None, extractor=None):
        try:
            from gandiag.features import get_extractor
            from gandiag.metrics.stats import FeatureStats
        except ImportError as exc:
            raise GandiagError(
                f"the training monitor needs gandiag.features and gandiag.metrics ({exc}); "
                "set monitor_every=0 to train without it"
            ) from None
        self.config = config
        self.range = output_range(config)
        # The shipped classifier by default; an explicit extractor (e.g. other weights) for tests.
        self.extractor = extractor if extractor is not None else get_extractor(EXTRACTOR)
        self.stacked = config.dataset == "stacked-mnist"
        real = self.extractor.extract(_digits_view(data.canonical), outputs=("features",))["features"]
        self.real_stats = FeatureStats.from_features(real)
        gen = torch.Generator().manual_seed(config.seed * 7919 + 3)
        self.z = sample_prior(config.prior, config.monitor_samples, config.z_dim, gen)
        self.y = torch.arange(config.monitor_samples) % 10 if config.conditional else None
        self.device = device or torch.device("cpu")

    def evaluate(self, generator: torch.nn.Module) -> Dict[str, Any]:
        """Coverage and FID of the generator's samples for the fixed z (see module doc)."""
        from gandiag.metrics.frechet import frechet_distance
        from gandiag.metrics.modes import DEFAULT_MODE_THRESHOLD, covered_min_fraction, mode_coverage
        from gandiag.metrics.stats import FeatureStats

        start = time.perf_counter()
        y = None if self.y is None else self.y.to(self.device)
        images = generate_canonical(generator, self.z.to(self.device), y, self.range)
        out = self.extractor.extract(_digits_view(images), outputs=("features", "logits"))
        digits = out["logits"].argmax(axis=1).astype(np.int64)
        if self.stacked:
            modes = digits.reshape(len(images), 3) @ np.array([100, 10, 1], dtype=np.int64)
            cov = mode_coverage(modes, num_classes=1000, min_count=1)
        else:
            cov = mode_coverage(digits, num_classes=10, min_fraction=covered_min_fraction(10, DEFAULT_MODE_THRESHOLD))
        fake = FeatureStats.from_features(out["features"])
        fid = frechet_distance(self.real_stats.mean, self.real_stats.cov, fake.mean, fake.cov)
        result: Dict[str, Any] = {
            "covered": cov["covered"], "num_modes": cov["num_classes"], "missing": cov["missing"],
            "max_fraction": cov["max_fraction"], "kl_to_uniform": cov["kl_to_uniform"],
            "coverage_threshold": cov["threshold"], "fid": fid, "num_samples": len(images),
        }
        if not self.stacked:
            result["mode_threshold"] = DEFAULT_MODE_THRESHOLD
        if not self.stacked:
            result["counts"] = cov["counts"]
        if self.y is not None:
            result["label_accuracy"] = float(np.mean(digits == self.y.numpy()))
        result["monitor_s"] = time.perf_counter() - start
        return result


def evaluate_run(run_dir, extractor=None):
    """Monitor every ``step_*.pt`` checkpoint of a finished run (same fixed z as in training).

    Returns:
        list of ``{"step": ..., **monitor result}`` in step order.
    """
    from pathlib import Path

    from .checkpoint import config_of, read_checked
    from .data import load_train_data
    from .nets import build_generator

    paths = sorted(Path(run_dir, "checkpoints").glob("step_*.pt"))
    if not paths:
        raise GandiagError(f"{run_dir}: no checkpoints/step_*.pt to evaluate")
    first = read_checked(paths[0])
    config = config_of(first, paths[0])
    if not config.monitor_samples or config.monitor_samples < 100:
        config = config.replace(monitor_samples=1000)
    monitor = Monitor(config, load_train_data(config), extractor=extractor)
    results = []
    for path in paths:
        state = read_checked(path)
        generator = build_generator(config)
        generator.load_state_dict(state["generator"])
        results.append({"step": int(state["step"]), **monitor.evaluate(generator)})
    return results


def main(argv=None) -> int:
    import argparse
    import json
    import sys

    parser = argparse.ArgumentParser(
        prog="python -m reference_models.monitor",
        description="Mode coverage and MNIST-FID of every checkpoint of a reference-trainer run.",
        epilog="example:\n  python -m reference_models.monitor runs/dcgan",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="run folder with checkpoints/step_*.pt")
    parser.add_argument("--json", action="store_true", help="print one JSON object per checkpoint")
    args = parser.parse_args(argv)
    try:
        results = evaluate_run(args.run)
    except GandiagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for r in results:
        if args.json:
            print(json.dumps(r))
        else:
            print(f"step {r['step']:>7}  covered {r['covered']:>4}/{r['num_modes']}  "
                  f"max_fraction {r['max_fraction']:.3f}  fid {r['fid']:.2f}  missing {r['missing']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
