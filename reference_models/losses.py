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


def mad_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor,
                           fake_labels: torch.Tensor) -> torch.Tensor:
    """MAD-GAN's D (Ghosh et al. 2018, eq. 3): a (k+1)-way softmax; real samples are class k,
    a fake from generator i is class i. ``1/2 [CE(real, k) + CE(fake, i)]`` (the 1/2 as above)."""
    k = real_logits.shape[1] - 1
    real_target = torch.full((real_logits.shape[0],), k, dtype=torch.long, device=real_logits.device)
    return 0.5 * (F.cross_entropy(real_logits, real_target) + F.cross_entropy(fake_logits, fake_labels))


def mad_generator_loss(fake_logits: torch.Tensor, kind: str) -> torch.Tensor:
    """MAD-GAN's G_i: fool D into the *real* class k. Non-saturating ``-log D_k(G_i(z))`` (the
    paper's practical form) or minimax ``log(1 - D_k(G_i(z)))``; mean over all generators' fakes."""
    log_p = F.log_softmax(fake_logits, dim=1)
    if kind == "nonsaturating":
        return -log_p[:, -1].mean()
    if kind == "minimax":
        return torch.logsumexp(log_p[:, :-1], dim=1).mean()  # log sum_{j<k} p_j = log(1 - p_k)
    raise ValueError(f"unknown generator loss {kind!r}")


def pack_samples(x: torch.Tensor, pack: int) -> torch.Tensor:
    """PacGAN packing (Lin et al. 2018): ``pack`` consecutive samples become one D input.

    Images ``(B, C, H, W)`` -> ``(B/pack, pack*C, H, W)`` (channels stacked, as PacGAN's DCGAN);
    points / flat vectors ``(B, F)`` -> ``(B/pack, pack*F)``. ``pack=1`` returns ``x``.
    """
    if pack == 1:
        return x
    return x.reshape(x.shape[0] // pack, pack * x.shape[1], *x.shape[2:])


def _lookahead_step(params: Dict[str, torch.Tensor], grads, lr: float, optimizer: Optional[torch.optim.Optimizer],
                    state: Dict[str, Dict[str, torch.Tensor]]):
    """One differentiable update of the look-ahead weights.

    ``optimizer=None``: plain SGD. Adam / SGD-momentum: the same update rule as
    ``torch.optim`` from a *copy* of the optimizer's current state, continued for the
    look-ahead steps (so the look-ahead moves D as its next real steps would).
    """
    new = {}
    for (name, p), g in zip(params.items(), grads):
        if optimizer is None:
            new[name] = p - lr * g
            continue
        group = optimizer.param_groups[0]
        st = state[name]
        if isinstance(optimizer, torch.optim.Adam):
            b1, b2 = group["betas"]
            st["step"] = st["step"] + 1
            st["m"] = b1 * st["m"] + (1 - b1) * g
            st["v"] = b2 * st["v"] + (1 - b2) * g * g
            m_hat = st["m"] / (1 - b1 ** st["step"])
            v_hat = st["v"] / (1 - b2 ** st["step"])
            # 1e-16 under the root keeps d sqrt(v)/dv finite where v = 0 (a weight never moved);
            # elsewhere it changes nothing at float32 precision.
            new[name] = p - lr * m_hat / (torch.sqrt(v_hat + 1e-16) + group["eps"])
        else:  # SGD with momentum: buf = mu * buf + g; p -= lr * buf
            mu = group.get("momentum", 0.0)
            st["buf"] = g if st.get("buf") is None else mu * st["buf"] + g
            new[name] = p - lr * st["buf"]
    return new


def _copied_state(optimizer: Optional[torch.optim.Optimizer], named: Dict[str, torch.Tensor]):
    state: Dict[str, Dict[str, torch.Tensor]] = {}
    if optimizer is None:
        return state
    for name, p in named.items():
        st = optimizer.state.get(p, {})
        if isinstance(optimizer, torch.optim.Adam):
            state[name] = {"step": float(st["step"]) if "step" in st else 0.0,
                           "m": st["exp_avg"].detach().clone() if "exp_avg" in st else torch.zeros_like(p),
                           "v": st["exp_avg_sq"].detach().clone() if "exp_avg_sq" in st else torch.zeros_like(p)}
        else:
            buf = st.get("momentum_buffer")
            state[name] = {"buf": None if buf is None else buf.detach().clone()}
    return state


def unrolled_discriminator(d: nn.Module, real: torch.Tensor, fake: torch.Tensor, steps: int, lr: float,
                           label_smoothing: float = 0.0, real_y: Optional[torch.Tensor] = None,
                           fake_y: Optional[torch.Tensor] = None, optimizer: Optional[torch.optim.Optimizer] = None,
                           pack: int = 1) -> Callable[..., torch.Tensor]:
    """Look ``steps`` discriminator updates ahead of ``d`` *differentiably* (Metz et al. 2017, eq. 6-7).

    ``theta_{k+1} = theta_k + update(grad_theta L_D(theta_k; real, G(z)))`` with the graph kept
    (``create_graph=True``), so the generator's loss on ``D_{theta_K}`` back-propagates through
    the look-ahead into G: G is penalised for moves that D could answer within K steps, which
    is what spreads its mass over modes. ``optimizer`` = D's own optimizer: the update is its
    rule (Adam or SGD-momentum) continued from a copy of its state, as the paper unrolled Adam
    (with ``optimizer=None``: plain SGD steps of size ``lr``, which at Adam's learning rate barely
    move D). The real ``d`` and its optimizer are not modified; buffers (BatchNorm statistics)
    are used as copies.

    Returns:
        a function ``(x, y=None) -> logits`` evaluating the look-ahead discriminator.
    """
    params: Dict[str, torch.Tensor] = dict(d.named_parameters())
    buffers = {name: b.clone() for name, b in d.named_buffers()}
    state = _copied_state(optimizer, params)

    def call(p, x, y=None):
        x = pack_samples(x, pack)
        args = (x,) if y is None else (x, y)
        return functional_call(d, {**p, **buffers}, args)

    for _ in range(steps):
        loss = discriminator_loss(call(params, real, real_y), call(params, fake, fake_y), label_smoothing)
        grads = torch.autograd.grad(loss, list(params.values()), create_graph=True)
        params = _lookahead_step(params, grads, lr, optimizer, state)
    return lambda x, y=None: call(params, x, y)
