"""Two classic Parzen-window results, reproduced on the embedded MNIST subset.

* **Goodfellow et al. 2014** ("Generative Adversarial Nets", Table 1): the Gaussian Parzen-window
  log-likelihood of MNIST test digits under 10,000 generator samples, sigma chosen on 1,000
  validation digits from ``logspace(-1, 0, 10)``, mean +- standard error over the test rows
  (goodfeli/adversarial ``parzen_ll.py``: ``ll.std() / sqrt(n)``).
* **Theis, van den Oord & Bethge 2016** ("A note on the evaluation of generative models"):
  the Parzen estimate rewards the wrong thing -- k-means centroids of the *training* data score
  higher than real samples (their MNIST figures: 313 vs 243 nats).

Split (the same as ``gandiag evaluate --metrics parzen`` with the default held-out data and seed):
``mnist-subset:test`` (2,000 digits) is permuted with ``numpy.random.default_rng(seed)``; the first
half chooses sigma, the second half is scored. Pixels are the canonical ``[0, 1]`` values, as the
2014 code used (pylearn2's MNIST scaled to ``[0, 1]``).

Commands (docs/reproductions/): ``python -m gandiag.diagnostics.reproductions goodfellow2014
--generator RUN/generator.pt`` and ``python -m gandiag.diagnostics.reproductions theis2016``.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Dict, Optional, Sequence

import numpy as np

from ..errors import GandiagError

SIGMAS = tuple(float(s) for s in np.logspace(-1, 0, 10))  # parzen_ll.py: --sigma_start -1 --sigma_end 0 -c 10
PAPER_TABLE_1 = {"DBN": (138, 2), "Stacked CAE": (121, 1.6), "Deep GSN": (214, 1.1), "Adversarial nets": (225, 2)}
THEIS_MNIST = {"k-means": 313, "true distribution": 243}


def heldout_split(seed: int = 0):
    """(validation, test) flattened float64 rows of ``mnist-subset:test`` (evaluate's Parzen split)."""
    from ..data import load_images
    from ..images import flatten

    held = load_images("mnist-subset:test").images
    order = np.random.default_rng(seed).permutation(len(held))
    half = len(held) // 2
    return (flatten(held[np.sort(order[:half])]).astype(np.float64),
            flatten(held[np.sort(order[half:])]).astype(np.float64))


def parzen_row(samples: np.ndarray, validation: np.ndarray, test: np.ndarray,
               sigmas: Sequence[float] = SIGMAS) -> Dict[str, float]:
    """Goodfellow et al.'s protocol for (N, D) sample rows: sigma on validation, mean +- s.e. on test."""
    from ..metrics import parzen_log_likelihood, parzen_select_sigma

    chosen = parzen_select_sigma(samples, validation, sigmas=sigmas)
    result = parzen_log_likelihood(samples, test, chosen["sigma"])
    return {"mean": float(result["mean"]), "stderr": float(result["stderr"]), "sigma": float(chosen["sigma"]),
            "num_centres": int(len(samples)), "num_validation": int(len(validation)), "num_test": int(len(test))}


def kmeans_centroids(rows: np.ndarray, k: int, seed: int = 0, max_iter: int = 100) -> np.ndarray:
    """k-means (Lloyd, k-means++ init, one seeded run) centroids of ``rows``; shape (k, D)."""
    from sklearn.cluster import KMeans

    if not 1 <= k <= len(rows):
        raise GandiagError(f"kmeans_centroids(k): must lie in [1, {len(rows)}], got {k}")
    km = KMeans(n_clusters=k, init="k-means++", n_init=1, max_iter=max_iter, algorithm="lloyd", random_state=seed)
    return km.fit(rows).cluster_centers_.astype(np.float64)


def theis2016(k: int = 1000, seed: int = 0) -> Dict[str, object]:
    """k-means centroids vs the same number of real training digits (and all 8,000) as Parzen centres."""
    from ..data import load_images
    from ..images import flatten

    train = flatten(load_images("mnist-subset:train").images).astype(np.float64)
    validation, test = heldout_split(seed)
    real = train[np.sort(np.random.default_rng(seed).choice(len(train), k, replace=False))]
    rows = {
        f"k-means centroids of the training digits (k={k})": parzen_row(kmeans_centroids(train, k, seed), validation,
                                                                       test),
        f"real training digits ({k}, random)": parzen_row(real, validation, test),
        f"real training digits (all {len(train)})": parzen_row(train, validation, test),
    }
    return {"rows": rows, "k": k, "seed": seed, "paper_mnist": THEIS_MNIST}


def goodfellow2014(generator: str, num_samples: int = 10000, seed: int = 0, *,
                   trust_pickle: bool = False) -> Dict[str, object]:
    """The 2014 protocol for a generator file, next to the real training digits as centres."""
    from ..data import load_images
    from ..images import flatten
    from ..sources import load_source

    fake = load_source(generator, num_samples=num_samples, seed=seed, trust_pickle=trust_pickle)
    if tuple(fake.shape) != (1, 28, 28):
        raise GandiagError(f"goodfellow2014: the generator draws {'x'.join(map(str, fake.shape))} images; the "
                           "protocol scores 1x28x28 MNIST digits")
    train = flatten(load_images("mnist-subset:train").images).astype(np.float64)
    validation, test = heldout_split(seed)
    rows = {
        f"generator ({num_samples} samples)": parzen_row(flatten(fake.images).astype(np.float64), validation, test),
        f"real training digits (all {len(train)})": parzen_row(train, validation, test),
    }
    return {"rows": rows, "generator": generator, "generator_provenance": fake.provenance, "seed": seed,
            "paper_table_1": PAPER_TABLE_1}


def _print(result: Dict[str, object]) -> None:
    for name, r in result["rows"].items():
        print(f"  {name:<52} {r['mean']:8.1f} ± {r['stderr']:.1f}  (sigma {r['sigma']:.3f}, "
              f"{r['num_centres']} centres, {r['num_test']} test digits)")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gandiag.diagnostics.reproductions",
                                     description="Parzen-window reproductions on the embedded MNIST subset")
    sub = parser.add_subparsers(dest="which", required=True)
    g = sub.add_parser("goodfellow2014", help="Goodfellow et al. 2014 Table 1 protocol for a generator")
    g.add_argument("--generator", required=True, help="generator file (e.g. RUN/generator.pt)")
    g.add_argument("--num-samples", type=int, default=10000)
    g.add_argument("--trust-pickle", action="store_true")
    t = sub.add_parser("theis2016", help="Theis et al. 2016: k-means centroids vs real digits")
    t.add_argument("--k", type=int, default=1000)
    for p in (g, t):
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--json", default=None, help="also write the result here")
    args = parser.parse_args(argv)
    try:
        if args.which == "goodfellow2014":
            result = goodfellow2014(args.generator, args.num_samples, args.seed, trust_pickle=args.trust_pickle)
        else:
            result = theis2016(args.k, args.seed)
    except GandiagError as exc:
        print(f"reproductions: error: {exc}", file=sys.stderr)
        return 2
    _print(result)
    if args.json:
        from ..fileio import atomic_write_json, check_output_file

        atomic_write_json(check_output_file(args.json, flag="--json"), result)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
