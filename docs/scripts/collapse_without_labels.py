"""Regenerate the pictures and numbers of docs/collapse-without-labels.md.

Run from the repository root (about 2 minutes on 2 cores; needs Debian dataset-fashion-mnist):

    python docs/scripts/collapse_without_labels.py

Writes docs/images/collapse-*.png and prints every number the page quotes (as JSON).
tests/gandiag/metrics/test_ndb.py, test_birthday.py and test_toy_modes.py re-check them with margins.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from gandiag.data import load_fashion_mnist, load_mnist_subset
from gandiag.fileio import atomic_write_bytes
from gandiag.metrics.birthday import birthday_test, default_batch_sizes
from gandiag.metrics.ndb import ndb, ndb_bins, under_populated_examples
from gandiag.metrics.toy_modes import TOY_SETUPS, sample_toy, toy_mode_metrics
from gandiag.report.collapse_figures import birthday_curve, ndb_bins_figure, ndb_missing_grid, pair_grid, toy_scatter

OUT = Path(__file__).resolve().parents[1] / "images"
FASHION_REMOVED = (1, 5, 8)  # trouser, sandal, bag


def fashion_ndb(numbers):
    test, train = load_fashion_mnist(split="test"), load_fashion_mnist(split="train")
    keep = ~np.isin(train.labels, FASHION_REMOVED)
    samples = train.images[keep][:8000]
    bins = ndb_bins(test.images.reshape(len(test), -1), 50, seed=0)
    out = ndb(samples.reshape(len(samples), -1), bins=bins)
    real = ndb(train.images[:8000].reshape(8000, -1), bins=bins)
    numbers["fashion_ndb"] = {"ndb": out["ndb"], "ndb_k": out["ndb_k"], "js": round(out["js"], 4),
                              "under": len(out["under"]), "real_ndb": real["ndb"], "real_ndb_k": real["ndb_k"]}
    atomic_write_bytes(OUT / "collapse-ndb-bins.png", ndb_bins_figure(out))
    atomic_write_bytes(OUT / "collapse-ndb-missing.png",
                       ndb_missing_grid(test.images, under_populated_examples(out, bins, 8),
                                        title="Nearest the 8 most under-populated bins"))


def birthday(numbers):
    digits = load_mnist_subset("all").images
    digits = digits[np.random.default_rng(0).permutation(len(digits))]
    rng = np.random.default_rng(2)
    samples = digits[:400][rng.integers(0, 400, 4000)]
    flat = samples.reshape(len(samples), -1)
    out = birthday_test(flat, digits[2000:6000].reshape(4000, -1), batch_sizes=default_batch_sizes(128), seed=0)
    numbers["birthday_400"] = {"s_half": round(out["s_half"], 1), "support": round(out["support_estimate"]),
                               "support_uniform": round(out["support_uniform"]), "status": out["status"]}
    atomic_write_bytes(OUT / "collapse-birthday-curve.png", birthday_curve(out))
    atomic_write_bytes(OUT / "collapse-birthday-pairs.png",
                       pair_grid(samples, out["pairs"][:10], out["pair_distances"][:10], out["pair_is_duplicate"][:10],
                                 title=f"10 closest pairs in a batch of {out['pairs_batch_size']} (red: duplicate)"))
    real = birthday_test(digits[:800].reshape(800, -1), digits[4000:9000].reshape(5000, -1), seed=0)
    numbers["birthday_real"] = {"status": real["status"], "max_duplicate_probability": max(real["duplicate_probability"]),
                                "largest_batch": real["batch_sizes"][-1]}


def toy(numbers):
    for name in ("ring8", "grid25"):
        setup = TOY_SETUPS[name]
        x = sample_toy(name, 2000, seed=0)
        if name == "ring8":  # a generator that lost the left half of the ring and blurs the rest
            x = x[x[:, 0] > -0.1] + np.random.default_rng(1).normal(0, 0.02, (int((x[:, 0] > -0.1).sum()), 2))
        else:                # a generator that keeps the central 3x3 modes only
            x = x[np.abs(x).max(axis=1) < 3]
        res = toy_mode_metrics(x, name)
        numbers[f"toy_{name}"] = {k: res[k] for k in ("modes_covered", "num_modes", "high_quality_fraction",
                                                     "kl_to_uniform")}
        atomic_write_bytes(OUT / f"collapse-toy-{name}.png", toy_scatter(x, setup.centres, setup.std, res, title=name))


def main():
    numbers = {}
    fashion_ndb(numbers)
    birthday(numbers)
    toy(numbers)
    print(json.dumps(numbers, indent=2))


if __name__ == "__main__":
    main()
