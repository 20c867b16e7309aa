"""The reference GAN training loop and its command line.

Usage::

    python -m reference_models.train --config dcgan-mnist --out runs/x [--set key=value ...] [--steps N]
    python -m reference_models.train --out runs/x --resume --steps 3000     # continue exactly

Run folder::

    runs/x/config.json                  the full TrainConfig
    runs/x/log.jsonl                    one JSON object per line: {"kind": "train"|"monitor"|"event", "step": ...}
    runs/x/samples/step_XXXXXXX.png     sample grid of a fixed z batch
    runs/x/checkpoints/step_XXXXXXX.pt  checkpoints (atomic); checkpoints/last.pt = the latest
    runs/x/export/                      generator.ts, generator.pt2, generator_state.pt (after training)

One *step* is one generator update preceded by ``d_steps`` discriminator updates, each on a
fresh real batch. Resuming restores models, optimizers, every RNG state, the data position
and the step, so on CPU a resumed run reproduces the uninterrupted one bit for bit.
Ctrl-C (SIGINT) finishes the current step, writes a checkpoint and exits with status 130.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import torch

from gandiag.errors import GandiagError
from gandiag.fileio import atomic_write_json, atomic_write_text

from . import config as config_mod
from .checkpoint import CHECKPOINT_FORMAT, config_of, generator_meta, read_checked, save_torch_atomic
from .config import TrainConfig
from .data import BatchOrder, load_train_data
from .losses import (discriminator_loss, generator_loss, mad_discriminator_loss, mad_generator_loss, pack_samples,
                     unrolled_discriminator)
from .nets import build_discriminator, build_generator, init_output_bias_from_marginals, output_range
from .samples import generate_canonical, sample_prior, save_grid

# Keys that may change when resuming: they affect only how long/often, never the trajectory.
RESUMABLE_KEYS = ("steps", "log_every", "sample_every", "checkpoint_every", "monitor_every", "num_threads")
SAMPLE_GRID = 64
INTERRUPTED = 130
ADA_CLASSIFIER_LR = 1e-3  # Adam (D's betas) of AdaGAN's data-vs-mixture classifier


def step_name(step: int) -> str:
    return f"step_{step:07d}"


class Trainer:
    """One GAN training run: models, optimizers, RNGs, data order and run-folder I/O.

    Args:
        config: the run's configuration.
        out_dir: run folder (created). ``None`` trains in memory without writing anything
            (tests, benchmarks).
        quiet: no progress bar.
        device: torch device string.
        monitor: build the gandiag monitor (when ``config.monitor_every`` > 0).
    """

    def __init__(self, config: TrainConfig, out_dir: Optional[os.PathLike] = None, *, quiet: bool = False,
                 device: str = "cpu", monitor: bool = True):
        self.config = config
        self.out = Path(out_dir) if out_dir is not None else None
        self.quiet = quiet
        self.device = torch.device(device)
        torch.manual_seed(config.seed)  # weight init and dropout masks
        self.data = load_train_data(config)
        self.order = BatchOrder(len(self.data), config.batch_size, config.seed)
        self.range = output_range(config)
        # model: the generator a user samples (MAD-GAN's heads, AdaGAN's mixture, else G itself);
        # G: the network being trained now (AdaGAN: the current component).
        self.model = build_generator(config)
        self.D = build_discriminator(config)
        self.G = self.model.components[0] if config.ada_components > 1 else self.model
        if config.arch == "gan2014":
            for g in (self.model.components if config.ada_components > 1 else [self.G]):
                init_output_bias_from_marginals(g, torch.tensor(self.data.canonical))
        self.model.to(self.device).train()
        self.D.to(self.device).train()
        self._component = 0  # AdaGAN: index of the component being trained
        self._data_weights: Optional[torch.Tensor] = None  # AdaGAN: real-data sampling weights (float64)
        self.g_opt = self._optimizer(self.G, config.g_lr)
        self.d_opt = self._optimizer(self.D, config.d_lr)
        # z and fake labels come from their own generator: independent of dropout draws.
        self.noise = torch.Generator().manual_seed(config.seed * 7919 + 1)
        self.step = 0
        self.data_batches = 0
        fixed = torch.Generator().manual_seed(config.seed * 7919 + 2)
        # 2-D runs plot 1,000 points per sample picture instead of an 8x8 image grid
        self.fixed_z = sample_prior(config.prior, 1000 if config.is_toy else SAMPLE_GRID + 16, config.z_dim, fixed)
        self.fixed_y = torch.arange(len(self.fixed_z)) % 10 if config.conditional else None
        self.monitor = None
        if monitor and config.monitor_every and config.is_toy:
            from .toy import ToyMonitor

            self.monitor = ToyMonitor(config, device=self.device)
        elif monitor and config.monitor_every:
            from .monitor import Monitor

            self.monitor = Monitor(config, self.data, device=self.device)
        self._stop = False
        # Log bookkeeping, checkpointed so a resumed run's log equals the uninterrupted one:
        # the loss sums of the current log window, the time already spent in it, and the
        # wall/CPU seconds of all earlier sessions of this run.
        self._window: Dict[str, float] = {}
        self._window_n = 0
        self._window_s = 0.0
        self._elapsed_s = 0.0
        self._cpu_s = 0.0
        self._clock: Optional[tuple] = None  # (perf_counter, process_time) at this session's start

    # ------------------------------------------------------------------ optimisation
    def _optimizer(self, module: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
        c = self.config
        if c.optimizer == "adam":
            return torch.optim.Adam(module.parameters(), lr=lr, betas=(c.beta1, c.beta2))
        return torch.optim.SGD(module.parameters(), lr=lr, momentum=c.beta1)

    def _set_schedules(self) -> None:
        """Learning rate ``max(min_lr, lr0 / decay^t)`` and the SGD momentum ramp, both pure
        functions of the step (so resuming needs no scheduler state)."""
        c = self.config
        t = self.step - self._component * c.ada_component_steps  # AdaGAN: each component starts afresh
        for opt, lr0 in ((self.g_opt, c.g_lr), (self.d_opt, c.d_lr)):
            lr = max(c.min_lr, lr0 / c.lr_decay ** t) if c.lr_decay != 1.0 else lr0
            if opt is self.d_opt and c.d_freeze_step and self.step >= c.d_freeze_step:
                lr = 0.0  # D frozen: G trains against a fixed discriminator
            for group in opt.param_groups:
                group["lr"] = lr
                if c.optimizer == "sgd":
                    ramp = min(1.0, t / c.momentum_ramp_steps) if c.momentum_ramp_steps else 0.0
                    group["momentum"] = c.beta1 + (c.beta2 - c.beta1) * ramp

    def _real_batch(self):
        if self._data_weights is not None:  # AdaGAN: batches drawn by the re-weighted data distribution
            gen = torch.Generator().manual_seed(self.config.seed * 1_000_003 + 500_009 + self.data_batches)
            idx = torch.multinomial(self._data_weights, self.config.batch_size, replacement=True, generator=gen)
        else:
            idx = self.order.indices(self.data_batches)
        self.data_batches += 1
        real = self.data.images[idx].to(self.device)
        y = self.data.labels[idx].to(self.device) if self.config.conditional else None
        return real, y

    def _noise(self, n: int):
        z = sample_prior(self.config.prior, n, self.config.z_dim, self.noise).to(self.device)
        y = None
        if self.config.conditional:
            y = torch.randint(0, 10, (n,), generator=self.noise).to(self.device)
        return z, y

    def _g(self, z, y):
        return self.G(z) if y is None else self.G(z, y)

    def _d(self, x, y):
        if self.config.pack > 1:  # PacGAN: D sees packs of consecutive samples (unconditional only)
            return self.D(pack_samples(x, self.config.pack))
        return self.D(x) if y is None else self.D(x, y)

    def d_update(self, keep_graph: bool = False):
        """One discriminator update on a fresh real batch and a fresh fake batch.

        Args:
            keep_graph: generate the fake batch with autograd on, so the following G update
                can reuse it (saves one generator forward pass).

        Returns:
            ``(stats, (real, real_labels), (z, fake_labels, fake or None))``.
        """
        real, ry = self._real_batch()
        z, fy = self._noise(self.config.batch_size)
        with torch.set_grad_enabled(keep_graph):
            fake = self._g(z, fy)
        stats = self.discriminator_step(real, ry, fake.detach(), fy)
        return stats, (real, ry), (z, fy, fake if keep_graph else None)

    def discriminator_step(self, real, real_y, fake, fake_y) -> Dict[str, float]:
        """Descend ``L_D`` once on the given real and (detached) fake batches."""
        real_logits, fake_logits = self._d(real, real_y), self._d(fake, fake_y)
        loss = discriminator_loss(real_logits, fake_logits, self.config.label_smoothing)
        self.d_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.d_opt.step()
        return {"d_loss": loss.item(), "d_real": torch.sigmoid(real_logits).mean().item(),
                "d_fake": torch.sigmoid(fake_logits).mean().item()}

    def generator_step(self, z, fake_y, real=None, real_y=None, fake=None) -> Dict[str, float]:
        """Descend ``L_G`` once for noise ``z`` (through an unrolled D when ``unroll_steps`` > 0).

        ``fake`` = ``G(z, fake_y)`` with its graph, when the caller already computed it.
        """
        c = self.config
        if fake is None:
            fake = self._g(z, fake_y)
        if c.unroll_steps:
            same = c.unroll_optimizer == "same"
            lr = c.unroll_lr or (self.d_opt.param_groups[0]["lr"] if same else c.d_lr)
            look_ahead = unrolled_discriminator(self.D, real, fake, c.unroll_steps, lr, c.label_smoothing, real_y,
                                                fake_y, optimizer=self.d_opt if same else None, pack=c.pack)
            logits = look_ahead(fake, fake_y)
        else:
            self.D.requires_grad_(False)  # G's update needs no D weight gradients
            try:
                logits = self._d(fake, fake_y)
            finally:
                self.D.requires_grad_(True)
        loss = generator_loss(logits, c.loss)
        self.g_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.g_opt.step()
        return {"g_loss": loss.item()}

    def simultaneous_step(self) -> Dict[str, float]:
        """pylearn2's ``AdversaryCost2`` update (goodfeli/adversarial, used by mnist.yaml).

        One real batch X and one sample S = G(z); D runs once on each (one set of dropout
        masks), and both objectives come from that pass: ``d_obj = 1/2 [BCE(D(X), 1) +
        BCE(D(S), 0)]`` and ``g_obj = BCE(D(S), 1) = -log D(S)``. Gradients of ``d_obj``
        w.r.t. D's weights and of ``g_obj`` w.r.t. G's weights are both taken at the current
        weights, then both optimizers step: neither player sees the other's update.
        """
        c = self.config
        real, ry = self._real_batch()
        z, fy = self._noise(c.batch_size)
        fake = self._g(z, fy)
        real_logits, fake_logits = self._d(real, ry), self._d(fake, fy)
        d_loss = discriminator_loss(real_logits, fake_logits, c.label_smoothing)
        g_loss = generator_loss(fake_logits, c.loss)
        d_params, g_params = list(self.D.parameters()), list(self.G.parameters())
        d_grads = torch.autograd.grad(d_loss, d_params, retain_graph=True)
        g_grads = torch.autograd.grad(g_loss, g_params)
        for params, grads in ((d_params, d_grads), (g_params, g_grads)):
            for param, grad in zip(params, grads):
                param.grad = grad
        self.d_opt.step()
        self.g_opt.step()
        self.d_opt.zero_grad(set_to_none=True)
        self.g_opt.zero_grad(set_to_none=True)
        return {"d_loss": d_loss.item(), "d_real": torch.sigmoid(real_logits).mean().item(),
                "d_fake": torch.sigmoid(fake_logits).mean().item(), "g_loss": g_loss.item()}

    def mad_step(self) -> Dict[str, float]:
        """MAD-GAN (Ghosh et al. 2018, Algorithm 1): ``d_steps`` updates of the (k+1)-way D on a
        real batch and batch_size/k fakes of each generator, then one update of all generators
        (shared layers and heads together: each G_i's loss is ``-log D_k(G_i(z))``)."""
        c = self.config
        k = c.mad_generators
        labels = torch.arange(k, device=self.device).repeat_interleave(c.batch_size // k)
        for _ in range(c.d_steps):
            real, _ = self._real_batch()
            z, _ = self._noise(c.batch_size)
            fake = self.G.forward_heads(z)
            real_logits, fake_logits = self.D(real), self.D(fake.detach())
            d_loss = mad_discriminator_loss(real_logits, fake_logits, labels)
            self.d_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            self.d_opt.step()
        self.D.requires_grad_(False)
        try:
            g_loss = mad_generator_loss(self.D(fake), c.loss)
        finally:
            self.D.requires_grad_(True)
        self.g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        self.g_opt.step()
        return {"d_loss": d_loss.item(), "d_real": torch.softmax(real_logits, 1)[:, -1].mean().item(),
                "d_fake": torch.softmax(fake_logits, 1)[:, -1].mean().item(), "g_loss": g_loss.item()}

    # ------------------------------------------------------------------ AdaGAN
    def _mixture_density_ratios(self) -> torch.Tensor:
        """``dP_mixture / dP_data`` at every training point, ``(1 - p) / p = exp(-logit)`` of a fresh
        classifier (D's architecture) trained to tell data (1) from the current mixture (0), as
        AdaGAN's ``_get_prob_real_data``."""
        c = self.config
        clf = build_discriminator(c.replace(pack=1, mad_generators=1)).to(self.device).train()
        opt = torch.optim.Adam(clf.parameters(), lr=ADA_CLASSIFIER_LR, betas=(c.beta1, c.beta2))
        was_training = self.model.training
        self.model.eval()
        try:
            for _ in range(c.ada_classifier_steps):
                idx = torch.randint(0, len(self.data), (c.batch_size,), generator=self.noise)
                z, _ = self._noise(c.batch_size)
                with torch.no_grad():
                    fake = self.model(z)
                loss = discriminator_loss(clf(self.data.images[idx].to(self.device)), clf(fake))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            clf.eval()
            with torch.no_grad():
                logits = torch.cat([clf(self.data.images[i:i + 4096].to(self.device)).double().cpu()
                                    for i in range(0, len(self.data), 4096)])
        finally:
            self.model.train(was_training)
        return torch.exp(-logits.clamp(-50.0, 50.0))

    def next_component(self) -> None:
        """AdaGAN (Tolstikhin et al. 2017, Algorithm 1) between components: the new component's
        weight beta, data weights from the mixture's density ratios (Theorem 1), mixture weights
        ``(1 - beta) w_old, beta``, and a fresh D and fresh optimizers for the new component."""
        from .mixtures import adagan_data_weights, next_mixture_weight

        c = self.config
        done = self._component + 1
        beta = next_mixture_weight(done, c.ada_beta)
        ratios = self._mixture_density_ratios()
        self._data_weights = torch.from_numpy(adagan_data_weights(ratios.numpy(), beta))
        with torch.no_grad():
            w = self.model.weights.clone()
            w[:done] *= 1.0 - beta
            w[done] = beta
            self.model.weights.copy_(w)
        self.D = build_discriminator(c).to(self.device).train()
        self._train_component(done)

    def _train_component(self, index: int) -> None:
        """AdaGAN: make component ``index`` the trained G, with fresh optimizers for it and for D."""
        self._component = index
        self.G = self.model.components[index]
        self.g_opt = self._optimizer(self.G, self.config.g_lr)
        self.d_opt = self._optimizer(self.D, self.config.d_lr)

    def train_step(self) -> Dict[str, float]:
        """``d_steps`` discriminator updates then one generator update (or one simultaneous
        update, ``update=simultaneous``; or a MAD-GAN step); returns losses. AdaGAN: the first
        step of each new component starts it (:meth:`next_component`)."""
        c = self.config
        if c.ada_components > 1 and self.step and self.step % c.ada_component_steps == 0 \
                and self.step // c.ada_component_steps != self._component:
            self.next_component()
        self._set_schedules()
        stats: Dict[str, float] = {}
        if c.mad_generators > 1:
            return self._count(self.mad_step())
        if c.update == "simultaneous":
            return self._count(self.simultaneous_step())
        # Reusing the last D step's fake batch for G is PyTorch's DCGAN recipe and pylearn2's
        # (one sample S feeds both objectives); reuse_fake=false draws fresh noise instead
        # (Algorithm 1 of Goodfellow et al.).
        reuse = c.reuse_fake and not c.unroll_steps
        for k in range(c.d_steps):
            stats, (real, ry), (z, fy, fake) = self.d_update(keep_graph=reuse and k == c.d_steps - 1)
        if not reuse:
            z, fy = self._noise(c.batch_size)
        stats.update(self.generator_step(z, fy, real, ry, fake))
        return self._count(stats)

    def _count(self, stats: Dict[str, float]) -> Dict[str, float]:
        """Finish a step: advance the counter, check the losses, add them to the log window."""
        self.step += 1
        for key, value in stats.items():
            if not math.isfinite(value):
                raise GandiagError(f"training diverged at step {self.step}: {key} = {value}; lower the learning "
                                   "rates or use loss=nonsaturating")
            self._window[key] = self._window.get(key, 0.0) + value
        self._window_n += 1
        return stats

    # ------------------------------------------------------------------ state
    def state_dict(self) -> Dict[str, Any]:
        """Everything needed to continue exactly; only tensors/dicts/lists/numbers/strings."""
        rng = {"torch": torch.get_rng_state(), "noise": self.noise.get_state()}
        if torch.cuda.is_available():
            rng["cuda"] = list(torch.cuda.get_rng_state_all())
        return {
            "format": CHECKPOINT_FORMAT,
            "config": self.config.to_dict(),
            "step": self.step,
            "data_batches": self.data_batches,
            "generator": self.model.state_dict(),
            "discriminator": self.D.state_dict(),
            "g_optimizer": self.g_opt.state_dict(),
            "d_optimizer": self.d_opt.state_dict(),
            "rng": rng,
            "log_state": self._log_state(),
            "adagan": {"component": self._component,
                       "data_weights": (self._data_weights if self._data_weights is not None
                                        else torch.zeros(0, dtype=torch.float64))},
            "meta": generator_meta(self.config, self.step),
            "versions": {"torch": str(torch.__version__)},
        }

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.model.load_state_dict(state["generator"])
        ada = state.get("adagan")
        if ada is not None and int(ada["component"]) != self._component:  # rebuild for that component
            self._train_component(int(ada["component"]))
        if ada is not None and len(ada["data_weights"]):
            self._data_weights = ada["data_weights"].to(torch.float64)
        self.D.load_state_dict(state["discriminator"])
        self.g_opt.load_state_dict(state["g_optimizer"])
        self.d_opt.load_state_dict(state["d_optimizer"])
        torch.set_rng_state(state["rng"]["torch"])
        self.noise.set_state(state["rng"]["noise"])
        if "cuda" in state["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        self.step = int(state["step"])
        self.data_batches = int(state["data_batches"])
        log = state.get("log_state")  # absent in checkpoints written before it existed
        if log is not None:
            self._window = {str(k): float(v) for k, v in log["window"].items()}
            self._window_n = int(log["window_n"])
            self._window_s = float(log["window_s"])
            self._elapsed_s, self._cpu_s = float(log["elapsed_s"]), float(log["cpu_s"])

    def _timers(self) -> tuple:
        """Cumulative (wall, CPU) seconds of this run over all its sessions, up to now."""
        if self._clock is None:
            return self._elapsed_s, self._cpu_s
        return (self._elapsed_s + time.perf_counter() - self._clock[0],
                self._cpu_s + time.process_time() - self._clock[1])

    def _log_state(self) -> Dict[str, Any]:
        elapsed, cpu = self._timers()
        window_s = self._window_s + (time.perf_counter() - self._window_start if self._clock is not None else 0.0)
        return {"window": dict(self._window), "window_n": self._window_n, "window_s": window_s,
                "elapsed_s": elapsed, "cpu_s": cpu}

    def save_checkpoint(self) -> Path:
        assert self.out is not None
        state = self.state_dict()
        folder = self.out / "checkpoints"
        path = save_torch_atomic(state, folder / f"{step_name(self.step)}.pt")
        save_torch_atomic(state, folder / "last.pt")
        return path

    # ------------------------------------------------------------------ outputs
    def _log(self, record: Dict[str, Any]) -> None:
        if self.out is None:
            return
        # One line per write with flush: a crash can lose at most the line being written.
        with open(self.out / "log.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, allow_nan=False) + "\n")
            handle.flush()

    def save_samples(self) -> Optional[Path]:
        if self.out is None:
            return None
        if self.config.is_toy:
            from .toy import generate_points, save_scatter

            points = generate_points(self.model, self.fixed_z.to(self.device))
            path = self.out / "samples" / f"{step_name(self.step)}.png"
            save_scatter(path, [(f"step {self.step}", points)], self.config.dataset)
            return path
        z = self.fixed_z[:SAMPLE_GRID + (16 if self.config.conditional else 0)].to(self.device)
        y = None if self.fixed_y is None else self.fixed_y[:len(z)].to(self.device)
        images = generate_canonical(self.model, z, y, self.range)
        path = self.out / "samples" / f"{step_name(self.step)}.png"
        save_grid(path, images, columns=10 if self.config.conditional else 8)
        return path

    def run_monitor(self, final: bool = False) -> Optional[Dict[str, Any]]:
        """Monitor G and log it; ``final`` marks the off-schedule check at the end of a session
        (a resumed run drops it, since the uninterrupted run has no check at that step)."""
        if self.monitor is None:
            return None
        result = self.monitor.evaluate(self.model)
        self._log({"kind": "monitor", "step": self.step, **result, **({"final": True} if final else {})})
        return result

    # ------------------------------------------------------------------ loop
    def _due(self, every: int) -> bool:
        return bool(every) and self.step % every == 0

    def request_stop(self, *_):
        self._stop = True

    def fit(self) -> int:
        """Train until ``config.steps``; returns 0, or 130 when interrupted (checkpoint saved)."""
        c = self.config
        if self.out is not None:
            self.out.mkdir(parents=True, exist_ok=True)
            atomic_write_json(self.out / "config.json", c.to_dict())
        previous = signal.signal(signal.SIGINT, self.request_stop) if _main_thread() else None
        # Process-wide torch settings are set for the run and restored afterwards.
        threads = torch.get_num_threads()
        deterministic = (torch.are_deterministic_algorithms_enabled(),
                         torch.is_deterministic_algorithms_warn_only_enabled())
        if c.num_threads:
            torch.set_num_threads(c.num_threads)
        if c.deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True, warn_only=self.device.type != "cpu")
        bar = None
        try:
            if self.step == 0 and self.monitor is not None:
                self.run_monitor()
            if not self.quiet:
                from tqdm import tqdm

                bar = tqdm(total=c.steps, initial=self.step, desc=c.model_name, unit="step", dynamic_ncols=True)
            self._clock = (time.perf_counter(), time.process_time())
            self._window_start = self._clock[0]
            while self.step < c.steps and not self._stop:
                stats = self.train_step()
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(d=f"{stats['d_loss']:.3f}", g=f"{stats['g_loss']:.3f}", refresh=False)
                if self._due(c.log_every):
                    now = time.perf_counter()
                    elapsed, cpu = self._timers()
                    record = {"kind": "train", "step": self.step,
                              **{k: v / self._window_n for k, v in self._window.items()},
                              "steps_per_s": self._window_n / max(now - self._window_start + self._window_s, 1e-9),
                              "elapsed_s": elapsed, "cpu_s": cpu}
                    self._log(record)
                    self._window, self._window_n, self._window_s, self._window_start = {}, 0, 0.0, now
                if self._due(c.sample_every):
                    self.save_samples()
                if self._due(c.monitor_every):
                    result = self.run_monitor()
                    if bar is not None and result:
                        bar.set_postfix(d=f"{stats['d_loss']:.3f}", g=f"{stats['g_loss']:.3f}",
                                        cov=result.get("covered"), fid=f"{result.get('fid', float('nan')):.1f}")
                if self.out is not None and self._due(c.checkpoint_every) and self.step < c.steps:
                    self.save_checkpoint()
            if bar is not None:
                bar.close()
                bar = None
            if self.out is not None:
                self.save_checkpoint()
                elapsed, cpu = self._timers()
                # steps_run / elapsed_s / cpu_s count every session of the run (they survive --resume).
                self._log({"kind": "event", "step": self.step,
                           "event": "interrupted" if self._stop else "finished",
                           "steps_run": self.step, "elapsed_s": elapsed, "cpu_s": cpu})
            if self._stop:
                return INTERRUPTED
            if not self._due(c.sample_every):
                self.save_samples()
            if self.monitor is not None and not self._due(c.monitor_every):
                self.run_monitor(final=True)
            if self.out is not None and not c.is_toy:  # exports are image generators; 2-D runs keep checkpoints
                from .export import export_generator

                export_generator(self.model, self.config, self.step, self.out / "export")
            return 0
        finally:
            if self._clock is not None:  # fold this session's time into the run's totals
                self._window_s += time.perf_counter() - self._window_start
                self._elapsed_s, self._cpu_s = self._timers()
                self._clock = None
            if bar is not None:
                bar.close()
            torch.set_num_threads(threads)
            torch.use_deterministic_algorithms(deterministic[0], warn_only=deterministic[1])
            if previous is not None:
                signal.signal(signal.SIGINT, previous)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def truncate_log(path: Path, step: int) -> None:
    """Drop log records written after ``step`` (a resumed run rewrites them)."""
    if not path.is_file():
        return
    kept = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise GandiagError(f"{path} is not a text log (corrupt); move it away to resume without the old "
                           "log records") from None
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                continue  # the last line, cut by a crash
            raise GandiagError(f"{path}: line {number} is not JSON (corrupt log); move the file away to resume "
                               "without the old log records") from None
        if not isinstance(record, dict):
            raise GandiagError(f"{path}: line {number} is not a JSON object (corrupt log); move the file away "
                               "to resume without the old log records")
        at_end = record.get("kind") == "event" or record.get("final", False)
        if record.get("step", 0) <= step and not (at_end and record.get("step") == step):
            kept.append(line)
    atomic_write_text(path, "".join(k + "\n" for k in kept))


def resume_config(stored: TrainConfig, overrides: Sequence[str], steps: Optional[int]) -> TrainConfig:
    """The stored config with schedule-only overrides; anything else would break exactness."""
    config = config_mod.apply_overrides(stored, overrides)
    if steps is not None:
        config = config.replace(steps=steps)
    if stored.ada_components > 1 and config.steps != stored.steps:
        raise GandiagError(f"--resume cannot change steps of an AdaGAN run (ada_components={stored.ada_components}: "
                           f"each component trains steps/{stored.ada_components} = {stored.ada_component_steps} "
                           "steps); start a new --out folder instead")
    changed = [k for k, v in config.to_dict().items() if stored.to_dict()[k] != v and k not in RESUMABLE_KEYS]
    if changed:
        raise GandiagError(
            f"--resume cannot change {', '.join(changed)} (the run would no longer be the same run); only "
            f"{', '.join(RESUMABLE_KEYS)} may change. Start a new --out folder instead"
        )
    return config


def build_parser() -> argparse.ArgumentParser:
    presets = "\n".join(f"  {name:<20} {desc}" for name, (desc, _) in config_mod.PRESETS.items())
    parser = argparse.ArgumentParser(
        prog="python -m reference_models.train",
        description="Train a reference GAN on the embedded MNIST subset.\n\npresets:\n" + presets,
        epilog="examples:\n"
               "  python -m reference_models.train --config dcgan-mnist --out runs/dcgan\n"
               "  python -m reference_models.train --config collapse --out runs/collapse --steps 300\n"
               "  python -m reference_models.train --config dcgan-mnist --out runs/x --set d_steps=2 --set seed=1\n"
               "  python -m reference_models.train --out runs/dcgan --resume --steps 3000",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="preset name (see list above); not needed with --resume")
    parser.add_argument("--out", required=True, help="run folder to create (or resume)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one config field, repeatable (e.g. --set d_steps=2)")
    parser.add_argument("--steps", type=int, default=None, help="shorthand for --set steps=N")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/last.pt exactly")
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda, ...); exact resume is CPU-only")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    from .runlock import check_config_values, lock_run_folder, remove_checkpoints_after, remove_stale_temporaries

    args = build_parser().parse_args(argv)
    trainer = None
    try:
        out = Path(args.out)
        last = out / "checkpoints" / "last.pt"
        from gandiag.commands._common import resolve_device

        args.device = resolve_device(args.device)  # banana, or cuda without a GPU: one line, before any folder
        if args.resume and not last.is_file():  # before the lock: a mistyped --out creates no folder
            read_checked(last, "checkpoint to resume")  # raises "checkpoint to resume not found: ..."
        lock = lock_run_folder(out)  # noqa: F841 - held until the process exits; checks below run under it
        remove_stale_temporaries(out)
        if args.resume:
            state = read_checked(last, "checkpoint to resume")
            config = resume_config(config_of(state, last), args.set, args.steps)
            check_config_values(config.to_dict())
            if args.config and config_mod.preset(args.config).to_dict() != {**state["config"]}:
                print(f"note: --config {args.config} ignored; resuming the stored config", file=sys.stderr)
            trainer = Trainer(config, out, quiet=args.quiet, device=args.device)
            trainer.load_state_dict(state)
            truncate_log(out / "log.jsonl", trainer.step)
            remove_checkpoints_after(out, trainer.step)
        else:
            if not args.config:
                raise GandiagError(f"--config is required (one of: {', '.join(config_mod.preset_names())})")
            if last.exists():
                raise GandiagError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
            config = config_mod.apply_overrides(config_mod.preset(args.config), args.set)
            if args.steps is not None:
                config = config.replace(steps=args.steps)
            check_config_values(config.to_dict())
            trainer = Trainer(config, out, quiet=args.quiet, device=args.device)
        code = trainer.fit()
    except GandiagError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before fit() installs its handler: nothing trained, nothing to save
        print("interrupted during start-up; nothing was trained" if trainer is None or trainer.step == 0
              else f"interrupted at step {trainer.step}", file=sys.stderr)
        return 130
    except OSError as exc:
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        print(f"error:{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if code == INTERRUPTED:
        print(f"interrupted at step {trainer.step}; checkpoint saved to {out / 'checkpoints' / 'last.pt'}; "
              f"continue with: python -m reference_models.train --out {out} --resume", file=sys.stderr)
    elif not args.quiet:
        print(f"finished {trainer.step} steps; exports in {out / 'export'}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
