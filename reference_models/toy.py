"""2-D toy benchmarks of the mode-collapse literature: the ring of 8 and the grid of 25 Gaussians.

Metz et al. 2017 ("Unrolled GANs", Sec. 3.1) introduced the ring; Srivastava et al. 2017
(VEEGAN, Sec. 5.1) added the grid; Lin et al. 2018 (PacGAN, Sec. 5) report both. The mixtures
and their metrics (modes covered within 3 sigma, high-quality fraction, KL over modes) are
gandiag's :mod:`gandiag.metrics.toy_modes`, shared with ``gandiag evaluate --toy``:

* ``ring8``: 8 modes on a circle of radius 1, sigma 0.01;
* ``grid25``: 25 modes at ``(-4 + 2i, -4 + 2j)``, sigma 0.05.

The trainer draws a fixed training set of :data:`TOY_TRAIN_SIZE` points once per run seed
(so the stateless batch order and exact resume work as for MNIST), trains MLPs on it (G:
``z -> (Linear, [BN,] ReLU) x depth -> Linear(2)``, D: ``2 -> (Linear, LeakyReLU) x depth ->
Linear(1)``), monitors a fixed z batch and saves scatter plots instead of image grids.
"""
from __future__ import annotations

import io
import os
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

from gandiag.fileio import atomic_write_bytes

TOY_DATASETS = ("ring8", "grid25")
TOY_TRAIN_SIZE = 51_200  # 200 batches of 256


def toy_setup(name: str):
    from gandiag.metrics.toy_modes import get_toy_setup

    return get_toy_setup(name)


def toy_points(name: str, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """The run's training points (float32 ``(N, 2)``) and their mode index, drawn with ``seed``."""
    from gandiag.metrics.toy_modes import assign_toy_modes, sample_toy

    points = sample_toy(name, TOY_TRAIN_SIZE, seed=int(seed) * 7 + 11).astype(np.float32)
    modes, _ = assign_toy_modes(points, name)
    return points, modes


class PointGenerator(nn.Module):
    """``z -> (Linear, [BatchNorm,] ReLU) x len(hidden) -> Linear(2)``: points, unbounded."""

    def __init__(self, z_dim: int, hidden: Tuple[int, ...], batchnorm: bool = False, out_dim: int = 2):
        super().__init__()
        layers, width = [], z_dim
        for units in hidden:
            layers += [nn.Linear(width, units), nn.BatchNorm1d(units) if batchnorm else nn.Identity(), nn.ReLU()]
            width = units
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(width, out_dim)

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.out(self.body(z))


@torch.no_grad()
def generate_points(generator: nn.Module, z: torch.Tensor, batch_size: int = 2500) -> np.ndarray:
    """G(z) in eval mode as float64 numpy ``(N, 2)``; mode restored, no RNG consumed."""
    was_training = generator.training
    generator.eval()
    try:
        out = [generator(z[i:i + batch_size]).double().cpu().numpy() for i in range(0, len(z), batch_size)]
    finally:
        generator.train(was_training)
    return np.concatenate(out)


class ToyMonitor:
    """Modes covered / high-quality fraction / KL over modes of a fixed z batch."""

    def __init__(self, config, device=None):
        from .samples import sample_prior

        self.config = config
        gen = torch.Generator().manual_seed(config.seed * 7919 + 3)
        self.z = sample_prior(config.prior, config.monitor_samples, config.z_dim, gen)
        self.device = device or torch.device("cpu")

    def evaluate(self, generator: nn.Module) -> Dict[str, Any]:
        from gandiag.metrics.toy_modes import toy_mode_metrics

        points = generate_points(generator, self.z.to(self.device))
        if not np.isfinite(points).all():
            return {"covered": 0, "num_modes": toy_setup(self.config.dataset).num_modes, "finite": False}
        m = toy_mode_metrics(points, self.config.dataset)
        return {"covered": m["modes_covered"], "num_modes": m["num_modes"], "missing": m["missing"],
                "high_quality_fraction": m["high_quality_fraction"], "kl_to_uniform": m["kl_to_uniform"],
                "counts": m["counts"], "num_samples": m["num_samples"]}


def scatter_png(panels: Sequence[Tuple[str, np.ndarray]], dataset: str, size: float = 2.6) -> bytes:
    """One row of scatter plots (title, points) with the mode centres marked; PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    setup = toy_setup(dataset)
    lim = 1.6 if dataset == "ring8" else 5.5
    fig, axes = plt.subplots(1, len(panels), figsize=(size * len(panels), size), squeeze=False)
    for ax, (title, pts) in zip(axes[0], panels):
        ax.scatter(setup.centres[:, 0], setup.centres[:, 1], s=40, facecolors="none", edgecolors="tab:red",
                   linewidths=0.8)
        pts = np.asarray(pts)
        ax.scatter(np.clip(pts[:, 0], -lim, lim), np.clip(pts[:, 1], -lim, lim), s=1.5, c="tab:blue",
                   alpha=0.5, linewidths=0)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


def save_scatter(path: Union[str, os.PathLike], panels, dataset: str) -> None:
    atomic_write_bytes(path, scatter_png(panels, dataset))
