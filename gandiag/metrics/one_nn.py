"""1-NN two-sample test accuracy (Lopez-Paz & Oquab 2017; Xu et al. 2018).

Pool ``n`` real rows (label 1) and ``m`` generated rows (label 0), classify every row by
a vote of its ``k`` nearest *other* rows (leave-one-out, Euclidean distance) and report
the accuracy. Following Xu et al.'s reference code (``knn`` in xuqiantong/GAN-Metrics),
a row is predicted real when at least ``k / 2`` of its neighbours are real; use odd ``k``
to avoid ties.

Reading it: 0.5 means the two samples are indistinguishable to a 1-NN classifier (the
ideal); 1.0 means every row's nearest neighbour comes from its own set (fully
separable); values below 0.5 mean generated rows sit closer to real rows than real rows
do to each other, the signature of copying training data. ``accuracy_real`` and
``accuracy_fake`` split it by set: a high ``accuracy_fake`` with ``accuracy_real`` near
0.5 is typical of mode collapse (the generated rows cluster together).

References: D. Lopez-Paz, M. Oquab. Revisiting Classifier Two-Sample Tests. ICLR 2017;
Q. Xu et al. An empirical study on evaluation metrics of generative adversarial networks.
arXiv:1806.07755, 2018.
"""
from __future__ import annotations

from typing import Dict

import numpy as np

from ._checks import as_matrix, check_int
from .neighbours import nearest_neighbours


def one_nn_accuracy(real, fake, k: int = 1) -> Dict[str, float]:
    """Leave-one-out k-NN two-sample classifier accuracy of ``real`` vs ``fake``.

    Args:
        real: ``(n, D)`` real rows (features or flattened pixels).
        fake: ``(m, D)`` generated rows; use ``m == n`` so that 0.5 is the chance level.
        k: neighbours in the vote (1 = the classic 1-NN test).

    Returns:
        ``accuracy`` (all rows), ``accuracy_real``, ``accuracy_fake``, ``k``, ``num_real``,
        ``num_fake``.
    """
    real = as_matrix(real, "one_nn_accuracy(real)", min_rows=1)
    fake = as_matrix(fake, "one_nn_accuracy(fake)", min_rows=1, dim=real.shape[1])
    n, m = len(real), len(fake)
    k = check_int(k, "one_nn_accuracy(k)", minimum=1, maximum=n + m - 1,
                  hint=f" (the pooled sample has {n + m} rows)")
    pooled = np.concatenate([real, fake])
    labels = np.concatenate([np.ones(n, dtype=np.int64), np.zeros(m, dtype=np.int64)])
    idx, _ = nearest_neighbours(pooled, pooled, k=min(k + 1, n + m))
    # Drop each row itself: exact ties are ordered by index, so a row's duplicates stay as its
    # neighbours; if the row is missing (more than k+1 rows at distance 0) the (k+1)-th goes.
    rows = np.arange(n + m)[:, None]
    is_self = idx == rows
    has_self = is_self.any(axis=1)
    drop = np.where(has_self, is_self.argmax(axis=1), idx.shape[1] - 1)
    keep = np.ones_like(idx, dtype=bool)
    keep[np.arange(n + m), drop] = False
    neighbours = idx[keep].reshape(n + m, idx.shape[1] - 1)[:, :k]
    votes = labels[neighbours].sum(axis=1)
    predicted_real = votes >= k / 2.0
    correct = predicted_real == (labels == 1)
    return {"accuracy": float(correct.mean()), "accuracy_real": float(correct[:n].mean()),
            "accuracy_fake": float(correct[n:].mean()), "k": int(k), "num_real": int(n), "num_fake": int(m)}


# ------------------------------------------------------------------------------------ metric record
def _step(ctx):
    name = ctx.default_extractor()
    real, fake = ctx.features(name, "ref"), ctx.features(name, "fake")
    n = min(len(real), len(fake), ctx.options.one_nn_max_samples)
    rng = np.random.default_rng(ctx.options.seed)  # equal, seeded counts: 0.5 is then the chance level
    if len(real) > n:
        real = real[np.sort(rng.choice(len(real), n, replace=False))]
    if len(fake) > n:
        fake = fake[np.sort(rng.choice(len(fake), n, replace=False))]
    return {**one_nn_accuracy(real, fake, k=ctx.options.one_nn_k), "extractor": name}


def _rows(r):
    from .record import Row, fmt

    detail = (f"real {fmt(r.get('accuracy_real'))} / generated {fmt(r.get('accuracy_fake'))}, k = {fmt(r.get('k'))}, "
              f"{fmt(r.get('num_real'))} + {fmt(r.get('num_fake'))} rows\n0.5 = indistinguishable; < 0.5 = closer to "
              "real than real data is (copying)")
    return [Row("1nn-accuracy", fmt(r.get("accuracy")), detail, str(r.get("extractor", "")))]


def _summary(r) -> str:
    return (f"1-NN two-sample accuracy: {r['accuracy']:.3f} (real {r['accuracy_real']:.3f}, generated "
            f"{r['accuracy_fake']:.3f})  [{r['extractor']}, 0.5 is best]")


def _register():
    from ..options import Option
    from .record import Metric, register_metric

    register_metric(Metric(
        "1nn-accuracy", "1-NN two-sample test accuracy", None, 0.0,
        "Leave-one-out 1-nearest-neighbour classifier accuracy of real vs generated features on equal counts: "
        "0.5 = indistinguishable (best), 1.0 = fully separable, below 0.5 = generated samples closer to real ones "
        "than real ones are to each other (copying).",
        "Lopez-Paz, Oquab. Revisiting Classifier Two-Sample Tests. ICLR 2017; Xu et al. An empirical study on "
        "evaluation metrics of generative adversarial networks. arXiv:1806.07755, 2018",
        run=_step, upper_bound=1.0, min_samples=2,
        options=(Option("one_nn_k", int, 1, "neighbours in the 1-NN two-sample vote (odd avoids ties)"),
                 Option("one_nn_max_samples", int, 5000, "rows per side in the 1-NN two-sample test (seeded "
                        "subsample; the pooled k-NN search is quadratic)")),
        rows=_rows, summary=_summary, function="gandiag.metrics.one_nn.one_nn_accuracy", order=45))


_register()
