"""Inter-rater agreement of "real or fake?" answers: pure functions over count / label arrays (float64).

* **Fleiss' kappa** (Fleiss 1971, "Measuring nominal scale agreement among many
  raters"), in the form that allows a different number of raters per item:
  ``P_i = (sum_j n_ij^2 - n_i) / (n_i (n_i - 1))`` for items with ``n_i >= 2``,
  ``P_bar`` their mean, ``p_j = sum_i n_ij / sum_i n_i``, ``P_e = sum_j p_j^2``,
  ``kappa = (P_bar - P_e) / (1 - P_e)``. With equal ``n_i`` this is Fleiss' formula.
* **Krippendorff's alpha**, nominal (Krippendorff 2011, "Computing Krippendorff's
  Alpha-Reliability"): from the coincidence matrix
  ``o_ck = sum_u (pairs c-k in unit u) / (m_u - 1)`` over units with ``m_u >= 2``
  values, ``alpha = 1 - (n - 1) * sum_{c!=k} o_ck / sum_{c!=k} n_c n_k``. Missing
  answers are allowed (a participant rates only the images they saw).

Both are 1 for perfect agreement, about 0 for agreement at chance level, and
undefined (``None``) when every answer is the same category.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from ..errors import GandiagError


def fleiss_kappa(counts) -> Optional[float]:
    """Fleiss' kappa of ``counts``: ``(items, categories)`` number of raters per category.

    Items rated by fewer than two raters are ignored.
    """
    n = np.asarray(counts, np.float64)
    if n.ndim != 2 or (n < 0).any():
        raise GandiagError(f"fleiss_kappa: counts must be a 2-D array of non-negative counts, got shape {n.shape}")
    n_i = n.sum(axis=1)
    keep = n_i >= 2
    if not keep.any():
        return None
    n, n_i = n[keep], n_i[keep]
    p_i = ((n * n).sum(axis=1) - n_i) / (n_i * (n_i - 1))
    p_bar = p_i.mean()
    p_j = n.sum(axis=0) / n_i.sum()
    p_e = float((p_j * p_j).sum())
    if p_e >= 1.0:
        return None
    return float((p_bar - p_e) / (1.0 - p_e))


def krippendorff_alpha_nominal(labels: Sequence[Sequence]) -> Optional[float]:
    """Nominal Krippendorff's alpha of ``labels``: ``(raters, units)``, ``None``/NaN = not rated."""
    rows = [list(r) for r in labels]
    if not rows:
        return None
    width = len(rows[0])
    if any(len(r) != width for r in rows):
        raise GandiagError("krippendorff_alpha_nominal: every rater row needs one entry per unit (None = missing)")

    def missing(v):
        return v is None or (isinstance(v, float) and np.isnan(v))

    cats = sorted({v for r in rows for v in r if not missing(v)}, key=str)
    index = {c: k for k, c in enumerate(cats)}
    o = np.zeros((len(cats), len(cats)))
    for u in range(width):
        values = [index[r[u]] for r in rows if not missing(r[u])]
        m = len(values)
        if m < 2:
            continue
        c = np.bincount(values, minlength=len(cats)).astype(np.float64)
        # pairs of values within the unit (ordered, excluding a value with itself), weighted 1/(m-1)
        o += (np.outer(c, c) - np.diag(c)) / (m - 1)
    n_c = o.sum(axis=1)
    n = n_c.sum()
    if n == 0:
        return None
    expected = (np.outer(n_c, n_c) - np.diag(n_c * n_c)).sum()  # sum over c != k of n_c n_k
    if expected == 0:
        return None
    observed = o.sum() - np.trace(o)
    return float(1.0 - (n - 1.0) * observed / expected)
