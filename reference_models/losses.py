"""GAN losses on discriminator logits, and the unrolled-discriminator look-ahead.

With ``D(x) = sigmoid(l(x))`` and ``softplus(t) = log(1 + e^t)``:

* discriminator: ``L_D = 1/2 [ BCE(l_real, 1 - s) + BCE(l_fake, 0) ]`` where ``s`` is the
  one-sided label smoothing (Salimans et al. 2016); the 1/2 matches Goodfellow et al.'s
  ``AdversaryCost2`` so the paper's SGD learning rate keeps its meaning.
* generator, ``nonsaturating``: ``L_G = -log D(G(z)) = softplus(-l_fake)`` (the paper's
  practical choice; strong gradients when D rejects the samples).
* generator, ``minimax``: ``L_G = log(1 - D(G(z))) = -softplus(l_fake)`` (the game's value;
  saturates when D confidently rejects samples, which is why it tends to fail).

Everything is computed from logits with ``binary_cross_entropy_with_logits`` /
``softplus``, never from probabilities, so no ``log(0)`` can occur.
"""
from __future__ import annotations

from typing import Callable, Dict, Optional

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor,
                       label_smoothing: float = 0.0) -> torch.Tensor:
    """``1/2 [BCE(real, 1 - s) + BCE(fake, 0)]`` averaged over the batch."""
    real_target = torch.full_like(real_logits, 1.0 - label_smoothing)
    return 0.5 * (F.binary_cross_entropy_with_logits(real_logits, real_target)
                  + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def generator_loss(fake_logits: torch.Tensor, kind: str) -> torch.Tensor:
    """Non-saturating ``softplus(-l)`` or minimax ``-softplus(l)``, batch mean."""
    if kind == "nonsaturating":
        return F.softplus(-fake_logits).mean()
    if kind == "minimax":
        return -F.softplus(fake_logits).mean()
    raise ValueError(f"unknown generator loss {kind!r}")  # config validation makes this unreachable


def unrolled_discriminator(d: nn.Module, real: torch.Tensor, fake: torch.Tensor, steps: int, lr: float,
                           label_smoothing: float = 0.0, real_y: Optional[torch.Tensor] = None,
                           fake_y: Optional[torch.Tensor] = None) -> Callable[..., torch.Tensor]:
    """Look ``steps`` SGD updates ahead of ``d`` *differentiably* (Metz et al. 2017, eq. 6-7).

    ``theta_{k+1} = theta_k - lr * grad_theta L_D(theta_k; real, G(z))`` with the graph kept
    (``create_graph=True``), so the generator's loss on ``D_{theta_K}`` back-propagates through
    the look-ahead into G: G is penalised for moves that D could answer within K steps, which
    is what spreads its mass over modes. The real ``d`` is not modified; buffers (BatchNorm
    statistics) are used as copies. The paper's look-ahead used the D optimizer (Adam); plain
    SGD steps are used here because Adam's ``1/sqrt(v)`` has unbounded second derivatives.

    Returns:
        a function ``(x, y=None) -> logits`` evaluating the look-ahead discriminator.
    """
    params: Dict[str, torch.Tensor] = dict(d.named_parameters())
    buffers = {name: b.clone() for name, b in d.named_buffers()}

    def call(p, x, y=None):
        args = (x,) if y is None else (x, y)
        return functional_call(d, {**p, **buffers}, args)

    for _ in range(steps):
        loss = discriminator_loss(call(params, real, real_y), call(params, fake, fake_y), label_smoothing)
        grads = torch.autograd.grad(loss, list(params.values()), create_graph=True)
        params = {name: p - lr * g for (name, p), g in zip(params.items(), grads)}
    return lambda x, y=None: call(params, x, y)
