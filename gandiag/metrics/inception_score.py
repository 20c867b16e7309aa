"""Inception Score (Salimans et al. 2016, "Improved Techniques for Training GANs").

``IS = exp( E_x KL( p(y|x) || p(y) ) )`` with ``p(y)`` the mean of ``p(y|x)`` over
the split. The N rows are cut into ``splits`` contiguous chunks
``[i*N//splits, (i+1)*N//splits)``; the score is the mean and (population,
ddof=0) standard deviation of the per-chunk IS. By default the rows are first
permuted with ``np.random.RandomState(seed).permutation(N)`` with seed 2020 --
exactly torch-fidelity's ``isc_features_to_metric`` (``samples_shuffle=True``,
``rng_seed=2020``), so the numbers agree with torch-fidelity on the same logits.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

from ..errors import GandiagError
from ._checks import as_matrix, check_int

_TORCH_FIDELITY_SEED = 2020


def _score(p: np.ndarray, log_p: np.ndarray, splits: int, shuffle: bool, seed: int) -> Tuple[float, float]:
    n = p.shape[0]
    splits = check_int(splits, "inception_score(splits)", minimum=1, maximum=n,
                       hint=f" (there are only {n} samples; use fewer splits, --is-splits, or more samples, "
                       "--num-samples)")
    if shuffle:
        perm = np.random.RandomState(check_int(seed, "inception_score(seed)", minimum=0)).permutation(n)
        p, log_p = p[perm], log_p[perm]
    scores = []
    for i in range(splits):
        lo, hi = i * n // splits, (i + 1) * n // splits
        p_chunk, log_chunk = p[lo:hi], log_p[lo:hi]
        log_q = np.log(p_chunk.mean(axis=0, keepdims=True))
        # 0 * log 0 = 0: zero probabilities contribute nothing (avoids NaN from 0 * -inf).
        log_ratio = np.where(p_chunk > 0, log_chunk - log_q, 0.0)
        scores.append(float(np.exp((p_chunk * log_ratio).sum(axis=1).mean())))
    return float(np.mean(scores)), float(np.std(scores))


def inception_score(probs, splits: int = 10, *, shuffle: bool = True,
                    seed: int = _TORCH_FIDELITY_SEED) -> Tuple[float, float]:
    """Inception Score from class probabilities.

    Args:
        probs: softmax outputs p(y|x), shape (N, K), rows non-negative and summing to 1 (+-1e-3).
        splits: number of chunks (torch-fidelity and the original code use 10).
        shuffle: permute rows before splitting (torch-fidelity's default).
        seed: permutation seed (torch-fidelity's default 2020).

    Returns:
        (mean, std) over the splits; 1 <= IS <= K.
    """
    p = as_matrix(probs, "inception_score(probs)", min_rows=1)
    if (p < 0).any():
        raise GandiagError("inception_score(probs): has negative entries; pass softmax probabilities "
                           "or use inception_score_from_logits(logits)")
    row_sums = p.sum(axis=1)
    worst = float(np.abs(row_sums - 1.0).max())
    if worst > 1e-3:
        raise GandiagError(f"inception_score(probs): rows must sum to 1, found a row summing to "
                           f"{row_sums[np.argmax(np.abs(row_sums - 1.0))]:.6g}; pass softmax probabilities "
                           "or use inception_score_from_logits(logits)")
    with np.errstate(divide="ignore"):
        log_p = np.log(p)
    return _score(p, log_p, splits, shuffle, seed)


def inception_score_from_logits(logits, splits: int = 10, *, shuffle: bool = True,
                                seed: int = _TORCH_FIDELITY_SEED) -> Tuple[float, float]:
    """Inception Score from classifier logits (N, K): float64 (log-)softmax, then :func:`inception_score`.

    Same computation as torch-fidelity's ``isc_features_to_metric`` on logits.
    """
    z = as_matrix(logits, "inception_score_from_logits(logits)", min_rows=1)
    shifted = z - z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return _score(np.exp(log_p), log_p, splits, shuffle, seed)


#: The Inception Score convention of each protocol: which rows form the splits (Salimans et al.'s
#: formula is the same everywhere). torch-fidelity shuffles the rows with RandomState(2020) before
#: cutting 10 contiguous splits; the original TF code (openai/improved-gan ``inception_score.py``)
#: cuts them in order. pytorch-fid and clean-fid compute no IS at all, so their protocols take the
#: original code's in-order splits on their own logits -- an IS no peer publishes, and said so.
INCEPTION_SCORE_CONVENTIONS = {
    "pytorch-fid": {"shuffle": False, "peer": None,
                    "note": "pytorch-fid computes no IS; in-order splits of the original TF code, pytorch-fid resize"},
    "clean": {"shuffle": False, "peer": None,
              "note": "clean-fid computes no IS; in-order splits of the original TF code, clean-fid resize"},
    "torch-fidelity": {"shuffle": True, "seed": 2020, "peer": "torch-fidelity",
                       "note": "torch-fidelity's isc: rows shuffled with RandomState(2020), 10 splits"},
}


# ------------------------------------------------------------------------------------ metric records
def _is_step(ctx, extractor: str):
    logits = ctx.features(extractor, "fake", "logits")
    splits, seed = ctx.options.is_splits, ctx.options.seed
    if extractor == "inception-v3-fid":
        # Each protocol is one peer's IS: torch-fidelity shuffles with RandomState(2020); pytorch-fid and
        # clean-fid compute no IS, so their protocols use the original TF code's in-order splits.
        convention = INCEPTION_SCORE_CONVENTIONS[ctx.options.protocol or "pytorch-fid"]
        shuffle, seed = convention["shuffle"], convention.get("seed")
        mean, std = inception_score_from_logits(logits, splits=splits, shuffle=shuffle, seed=seed or 0)
        return {"mean": mean, "std": std, "splits": splits, "split_seed": seed, "split_convention": convention["note"],
                "peer": convention["peer"], "extractor": extractor}
    # --seed shuffles the rows into splits (torch-fidelity's own default is 2020: pass --seed 2020 to match it)
    mean, std = inception_score_from_logits(logits, splits=splits, seed=seed)
    return {"mean": mean, "std": std, "splits": splits, "split_seed": seed, "extractor": extractor}


def _is_summary(label: str):
    return lambda r: f"{label}: {r['mean']:.3f} ± {r['std']:.3f}  [higher is better]"


def _register():
    from ..options import Option
    from .record import Metric, mean_std_rows, register_metric

    paper = ("Salimans, Goodfellow, Zaremba, Cheung, Radford, Chen. Improved Techniques for Training GANs. "
             "NeurIPS 2016")
    register_metric(Metric(
        "is", "Inception Score", True, 1.0,
        "exp of the mean KL between per-image class posteriors and their marginal; rewards confident and diverse "
        "ImageNet classes, ignores the real data.", paper,
        run=lambda ctx: _is_step(ctx, "inception-v3-fid"), upper_bound=1000.0, feature_space="inception-v3-fid",
        min_samples=10, aliases=("inception_score",),
        options=(Option("is_splits", int, 10, "Inception Score splits (mean and s.d. over them)"),),
        rows=mean_std_rows("is", "splits", "splits"), summary=_is_summary("Inception Score"),
        default_for=("natural",), function="gandiag.metrics.inception_score", order=20))
    register_metric(Metric(
        "mnist-is", "Inception Score with an MNIST classifier", True, 1.0,
        "The Inception Score computed with a small MNIST digit classifier instead of InceptionV3; at most 10, about "
        "9.x for real MNIST digits.", paper,
        run=lambda ctx: _is_step(ctx, ctx.mnist_classifier()), upper_bound=10.0, feature_space="mnist-classifier",
        min_samples=10, aliases=("mnist_inception_score",),
        rows=mean_std_rows("mnist-is", "splits", "splits"), summary=_is_summary("MNIST Inception Score"),
        default_for=("mnist",), function="gandiag.metrics.inception_score", order=21))


_register()
