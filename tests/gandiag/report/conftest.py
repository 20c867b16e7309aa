"""Fixtures for the report tests: one small real evaluation, synthetic metric dicts (browser: tests/conftest.py)."""
from __future__ import annotations

import copy

import numpy as np
import pytest

EVIL = "<script>alert('x')</script> & \"quoted\""


ALL_METRICS = ("mnist-fid", "mnist-is", "modes", "kid", "prdc", "fid-inf", "parzen", "neighbours")


@pytest.fixture(scope="session")
def small_evaluation(tmp_path_factory):
    """A real ``evaluate`` run of every offline metric on small data, from a collapsed, copying "generator".

    Reference: 1000 embedded training digits; held-out: 300 test digits; "generated":
    80 noisy test digits plus 40 exact copies of reference images, all without digits
    3 and 7 (so modes finds 3 and 7 missing and the copy test flags copying). The
    source description carries HTML metacharacters to test escaping.
    """
    from gandiag.data import ImageSet, load_mnist_subset
    from gandiag.evaluation import EvaluateOptions, evaluate

    folder = tmp_path_factory.mktemp("data")
    train, test = load_mnist_subset("train"), load_mnist_subset("test")
    np.savez(folder / "ref.npz", images=train.images[:1000], labels=train.labels[:1000])
    np.savez(folder / "heldout.npz", images=test.images[:300], labels=test.labels[:300])
    rng = np.random.default_rng(0)
    pool = 300 + np.flatnonzero(~np.isin(test.labels[300:], [3, 7]))[:80]
    noisy = np.clip(test.images[pool] + 0.15 * rng.standard_normal((80, 1, 28, 28)), 0, 1)
    copies = train.images[rng.choice(np.flatnonzero(~np.isin(train.labels[:1000], [3, 7])), 40, replace=False)]
    fake = ImageSet(np.concatenate([noisy, copies]).astype(np.float32), None, EVIL)
    options = EvaluateOptions(metrics=ALL_METRICS, ref=str(folder / "ref.npz"), heldout=str(folder / "heldout.npz"),
                              neighbour_queries=4, neighbours_k=3, bootstrap=5, kid_subsets=20,
                              cache_dir=str(folder / "cache"))
    # On a busy 2-core machine torch's multi-threaded CPU LAPACK spins: a 128x128 eigvalsh (FID, its
    # bootstrap, FID-inf) took ~1.6 s with 2 threads and ~1.3 ms with 1 (measured 2026-11-23). One
    # intra-op thread keeps this fixture at seconds; the numbers are the same either way.
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return evaluate(fake, options)
    finally:
        torch.set_num_threads(threads)


def synthetic_metrics():
    """Metric dicts in evaluate()'s format (figure tests; and Inception FID/IS, which need downloaded weights)."""
    fractions = [0.13, 0.12, 0.14, 0.0, 0.12, 0.11, 0.13, 0.005, 0.12, 0.125]
    return {
        "fid": {"value": 31.4, "extractor": "inception-v3-fid", "num_fake": 120, "num_real": 1000},
        "is": {"mean": 2.31, "std": 0.05, "splits": 10, "extractor": "inception-v3-fid"},
        "mnist-fid": {"value": 7.81, "extractor": "mnist-classifier", "num_fake": 120, "num_real": 1500,
                      "ci95": [7.2, 8.6], "ci_method": "bootstrap over generated samples (50 resamples)"},
        "mnist-is": {"mean": 8.12, "std": 0.21, "splits": 10, "extractor": "mnist-classifier"},
        "kid": {"mean": 0.0123, "std": 0.0011, "subsets": 100, "subset_size": 120, "extractor": "mnist-classifier"},
        "prdc": {"precision": 0.81, "recall": 0.55, "density": 0.93, "coverage": 0.71, "k": 5,
                 "extractor": "mnist-classifier"},
        "fid-inf": {"fid_inf": 6.9, "slope": 420.0, "ns": [60, 80, 100, 120], "fids": [13.9, 12.2, 11.1, 10.4],
                    "extractor": "mnist-classifier"},
        "modes": {"covered": 8, "num_classes": 10, "num_samples": 200, "threshold": 4, "missing": [3, 7],
                  "counts": [int(f * 200) for f in fractions], "fractions": fractions, "kl_to_reference": 0.31,
                  "kl_to_uniform": 0.25, "normalized_entropy": 0.89, "max_fraction": 0.14,
                  "reference_fractions": [0.1] * 10, "low_confidence_fraction": 0.04, "mode_threshold": 0.2,
                  "classifier": "mnist-classifier"},
    }


@pytest.fixture()
def synthetic():
    """Fresh synthetic metric dicts (see :func:`synthetic_metrics`)."""
    return synthetic_metrics()


@pytest.fixture()
def checkpoints():
    """Five diagnosis checkpoint rows; class 3 vanishes at step 1000."""
    return _checkpoints()


@pytest.fixture()
def evaluation(small_evaluation):
    """A fresh deep copy of the real run (tests may edit it)."""
    from gandiag.evaluation import Evaluation

    return Evaluation(copy.deepcopy(small_evaluation.metrics), dict(small_evaluation.arrays))


def _checkpoints():
    rows = []
    for i, step in enumerate([0, 500, 1000, 1500, 2000]):
        f = np.full(10, 0.1)
        missing = []
        if step >= 1000:
            f[3], missing = 0.0, [3]
        f /= f.sum()
        rows.append({"label": f"step {step}", "step": step, "covered": 10 - len(missing), "num_classes": 10,
                     "fractions": f.tolist(), "missing": missing, "kl_to_reference": 0.02 + 0.1 * len(missing),
                     "fid": 20.0 / (i + 1), "copy_fraction": 0.05, "copying": False})
    return rows


@pytest.fixture()
def diagnosis():
    """A diagnosis dict as gandiag.diagnostics.run.diagnose returns it (verdict by the real rules)."""
    from gandiag.diagnostics import CheckpointSummary, verdict

    rows = _checkpoints()
    summaries = [CheckpointSummary(label=r["label"], step=r["step"], covered=r["covered"], num_classes=10,
                                   fractions=r["fractions"], covered_mask=[c not in r["missing"] for c in range(10)],
                                   kl_to_reference=r["kl_to_reference"], fid=r["fid"],
                                   copy_fraction=r["copy_fraction"], copying=r["copying"]) for r in rows]
    return {"checkpoints": rows, "verdict": verdict(summaries), "reference_fractions": [0.1] * 10,
            "num_samples_per_checkpoint": 200,
            "provenance": {"gandiag_version": "test", "seed": 0, "reference": {"spec": EVIL}}}
