"""Generators that are mixtures: MAD-GAN's k heads and AdaGAN's boosted components.

Both keep the exported-generator contract ``G(z)`` with ``z ~ prior`` (N(0, I) or U(-1, 1)):
the *first* coordinate of z picks the component and is then re-drawn from the prior for it,

    u = F(z_0)                      (F = the prior's CDF: u ~ U(0, 1))
    k = the component with cum_{k-1} <= u < cum_k      (cum = cumulative mixture weights)
    z_0' = F^{-1}((u - cum_{k-1}) / w_k)                (again ~ prior, independent of k)

so ``G(z)`` is a deterministic function of one prior draw whose output distribution is exactly
``sum_k w_k G_k``: a fixed z batch gives a fixed sample (monitor, plots) and one module can be
saved and reloaded like any generator. Every component runs on the whole batch and the output is
picked per row (no data-dependent shapes).

* :class:`MADPointGenerator` -- Ghosh et al. 2018, "Multi-Agent Diverse Generative Adversarial
  Networks" (CVPR), Sec. 3: k generators that share their first layers (here the MLP's first
  ``depth - 1`` hidden layers) with one head each (last hidden layer and output); sampling is
  from the uniform mixture. Training calls :meth:`MADPointGenerator.forward_heads`.
* :class:`MixtureGenerator` -- Tolstikhin et al. 2017, "AdaGAN: Boosting Generative Models"
  (NeurIPS), Algorithm 1: ``T`` component generators with mixture weights (a buffer, saved
  with the state dict); components not trained yet have weight 0.
* :func:`adagan_data_weights` -- the paper's weight update (Theorem 1 / eq. 17-18 of the arXiv
  version; ``_compute_data_weights_theory_star`` of github:tolstikhin/adagan).
"""
from __future__ import annotations

import math
from typing import List, Sequence, Tuple

import numpy as np
import torch
from torch import nn

_SQRT2 = math.sqrt(2.0)
_EPS = 1e-12


def split_mixture_noise(z: torch.Tensor, weights: torch.Tensor, prior: str) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(component index (B,) int64, z with z_0 re-drawn from the prior)``; see the module doc."""
    z0 = z[:, 0].double()
    u = 0.5 * (1.0 + torch.erf(z0 / _SQRT2)) if prior == "normal" else (z0 + 1.0) / 2.0
    u = u.clamp(_EPS, 1.0 - _EPS)
    w = weights.double().clamp_min(0.0)
    cum = torch.cumsum(w, 0) / w.sum()
    index = torch.searchsorted(cum.contiguous(), u.contiguous(), right=True).clamp_max(w.shape[0] - 1)
    # never pick a zero-weight component (possible only at u = cum edge by rounding)
    lo = torch.cat([cum.new_zeros(1), cum[:-1]])[index]
    width = (cum[index] - lo).clamp_min(_EPS)
    v = ((u - lo) / width).clamp(_EPS, 1.0 - _EPS)
    new0 = _SQRT2 * torch.erfinv(2.0 * v - 1.0) if prior == "normal" else 2.0 * v - 1.0
    out = z.clone()
    out[:, 0] = new0.to(z.dtype)
    return index, out


def _pick(outputs: List[torch.Tensor], index: torch.Tensor) -> torch.Tensor:
    """Row b of ``outputs[index[b]]`` for outputs of any shape ``(B, ...)``."""
    stacked = torch.stack(outputs)  # (K, B, ...)
    onehot = torch.nn.functional.one_hot(index, len(outputs)).T.to(stacked.dtype)  # (K, B)
    return (stacked * onehot.reshape(*onehot.shape, *([1] * (stacked.dim() - 2)))).sum(0)


class MADPointGenerator(nn.Module):
    """MAD-GAN's generators for 2-D points: shared ``(Linear, [BN,] ReLU) x (depth - 1)``, then per
    head ``(Linear, [BN,] ReLU) -> Linear(2)``. ``forward(z)`` samples the uniform mixture."""

    def __init__(self, z_dim: int, hidden: Tuple[int, ...], batchnorm: bool, heads: int, prior: str = "normal",
                 out_dim: int = 2):
        super().__init__()
        layers, width = [], z_dim
        for units in hidden[:-1]:
            layers += [nn.Linear(width, units), nn.BatchNorm1d(units) if batchnorm else nn.Identity(), nn.ReLU()]
            width = units
        self.body = nn.Sequential(*layers)
        last = hidden[-1]
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Linear(width, last), nn.BatchNorm1d(last) if batchnorm else nn.Identity(), nn.ReLU(),
                          nn.Linear(last, out_dim)) for _ in range(heads))
        self.prior = prior
        self.register_buffer("weights", torch.full((heads,), 1.0 / heads, dtype=torch.float64))

    @property
    def num_heads(self) -> int:
        return len(self.heads)

    def forward_heads(self, z: torch.Tensor) -> torch.Tensor:
        """Training: z split into k equal chunks, chunk i through head i; ``(B, 2)`` in chunk order."""
        h = self.body(z)
        chunks = h.chunk(self.num_heads)
        return torch.cat([head(c) for head, c in zip(self.heads, chunks)])

    def forward(self, z: torch.Tensor, y=None) -> torch.Tensor:
        index, z = split_mixture_noise(z, self.weights, self.prior)
        h = self.body(z)
        return _pick([head(h) for head in self.heads], index)


class MixtureGenerator(nn.Module):
    """AdaGAN's mixture ``sum_t w_t G_t`` of ``T`` generators; ``weights`` is a saved buffer."""

    def __init__(self, components: Sequence[nn.Module], prior: str = "normal"):
        super().__init__()
        self.components = nn.ModuleList(components)
        self.prior = prior
        weights = torch.zeros(len(components), dtype=torch.float64)
        weights[0] = 1.0
        self.register_buffer("weights", weights)

    def forward(self, z: torch.Tensor, y=None) -> torch.Tensor:
        index, z = split_mixture_noise(z, self.weights, self.prior)
        return _pick([self.components[t](z) for t in range(len(self.components))], index)


def next_mixture_weight(components_done: int, beta: float) -> float:
    """AdaGAN's weight of component ``t + 1`` after ``t`` done: ``1/(t+1)`` ("uniform") or the constant."""
    if components_done == 0:
        return 1.0
    return beta if beta > 0 else 1.0 / (components_done + 1)


def adagan_data_weights(ratios: np.ndarray, beta: float) -> np.ndarray:
    """New data-point weights (sum 1) from density ratios ``h_i = dP_model/dP_data(x_i)``.

    Tolstikhin et al. 2017, Theorem 1: ``w_i = (lambda* - (1 - beta) h_i)_+ / (N beta)`` with
    ``lambda*`` the value that makes the weights sum to one: points the current mixture covers
    well (large ``h``) get weight 0, missed ones the most. ``beta`` is the new component's
    mixture weight. Same search as the authors' ``_compute_data_weights_theory_star``; like
    theirs, it falls back to uniform weights when no ``lambda*`` is found (numerically degenerate
    ratios).
    """
    r = np.asarray(ratios, dtype=np.float64)
    num = r.size
    if not 0.0 < beta < 1.0 or num == 0 or not np.isfinite(r).all():
        return np.full(num, 1.0 / max(num, 1))
    sorted_r = np.sort(r)
    cums = np.cumsum(sorted_r)
    i = np.arange(num)
    lam = (beta * num + (1.0 - beta) * cums) / (i + 1.0)
    upper = np.append((1.0 - beta) * sorted_r[1:], np.inf)
    ok = (lam >= (1.0 - beta) * sorted_r) & (lam <= upper)
    if not ok.any():
        return np.full(num, 1.0 / num)
    lam_star = lam[np.argmax(ok)]
    weights = np.clip(lam_star - (1.0 - beta) * r, 0.0, None) / (num * beta)
    total = weights.sum()
    return weights / total if total > 0 else np.full(num, 1.0 / num)
