"""Training data for the reference trainer and a stateless, resumable batch order.

The order of real batches is a pure function of ``(seed, batch index)``: batch ``b`` is
rows ``perm_e[j*B:(j+1)*B]`` of epoch ``e = b // batches_per_epoch`` with ``perm_e`` a
``torch.randperm`` seeded by ``(seed, e)``. A checkpoint therefore only needs the batch
counter to continue the exact data order (no iterator state to pickle).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from gandiag.data import load_mnist_subset
from gandiag.errors import GandiagError

from .config import TrainConfig
from .nets import output_range

STACKED_MNIST_SIZE = 8000  # stacked triples drawn once per run seed (1000 modes)


@dataclass(frozen=True)
class TrainData:
    """Training images in the generator's value range, with labels.

    Attributes:
        images: float32 tensor ``(N, C, H, W)`` scaled to ``output_range(config)``.
        labels: int64 tensor ``(N,)``; for Stacked MNIST ``100*d_R + 10*d_G + d_B``.
        canonical: the same images as canonical numpy (float32 in [0, 1]) for monitors.
    """

    images: torch.Tensor
    labels: torch.Tensor
    canonical: np.ndarray

    def __len__(self) -> int:
        return len(self.images)


def stratified_subset(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Indices of ``size`` rows, classes as balanced as possible, chosen with ``seed``.

    Classes are visited round-robin over per-class seeded permutations, so a subset of 64
    digits has 6-7 of each class instead of whatever a plain random draw gives.
    """
    rng = np.random.default_rng(seed)
    per_class = [rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)]
    order = []
    for rank in range(max(len(p) for p in per_class)):
        order.extend(int(p[rank]) for p in per_class if rank < len(p))
        if len(order) >= size:
            break
    return np.sort(np.asarray(order[:size], dtype=np.int64))


def rare_subset(labels: np.ndarray, rare: tuple, keep: float, seed: int) -> np.ndarray:
    """Indices of all rows except that each class in ``rare`` keeps only ``ceil(keep * count)``
    of its rows (a seeded choice): the data of a GAN that is to drop those modes."""
    rng = np.random.default_rng([seed, 5])
    rows = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        if int(c) in rare:
            idx = rng.permutation(idx)[:int(np.ceil(keep * len(idx)))]
        rows.append(idx)
    return np.sort(np.concatenate(rows))


def load_train_data(config: TrainConfig) -> TrainData:
    """The embedded MNIST train split (or Stacked MNIST / a subset / 2-D points) prepared for ``config``."""
    if config.is_toy:
        from .toy import toy_points

        points, modes = toy_points(config.dataset, config.seed)
        return TrainData(torch.from_numpy(points.copy()), torch.from_numpy(modes), points)
    data = load_mnist_subset("train")
    images, labels = np.asarray(data.images), np.asarray(data.labels)
    if config.dataset == "stacked-mnist":
        rng = np.random.default_rng([config.seed, 3])
        idx = rng.integers(0, len(images), size=(STACKED_MNIST_SIZE, 3))
        images = np.concatenate([images[idx[:, c]] for c in range(3)], axis=1)
        labels = 100 * labels[idx[:, 0]] + 10 * labels[idx[:, 1]] + labels[idx[:, 2]]
    if config.rare_digits:
        keep = rare_subset(labels, config.rare_digit_list, config.rare_keep, config.seed)
        images, labels = images[keep], labels[keep]
    if config.train_size:
        if config.train_size > len(images):
            raise GandiagError(f"config train_size={config.train_size} exceeds the {len(images)} training images")
        keep = stratified_subset(labels, config.train_size, config.seed)
        images, labels = images[keep], labels[keep]
    if config.image_size == 32 and images.shape[-1] == 28:
        images = np.pad(images, ((0, 0), (0, 0), (2, 2), (2, 2)))
    canonical = np.ascontiguousarray(images, dtype=np.float32)
    lo, hi = output_range(config)
    tensor = torch.from_numpy(canonical.copy()) * (hi - lo) + lo
    if config.batch_size > len(tensor):
        raise GandiagError(
            f"config batch_size={config.batch_size} is larger than the training set ({len(tensor)} images); "
            "lower batch_size or raise train_size"
        )
    return TrainData(tensor, torch.from_numpy(labels.astype(np.int64)), canonical)


class BatchOrder:
    """Batch ``b`` of the epoch-wise shuffled data order (stateless, see module doc)."""

    def __init__(self, num_rows: int, batch_size: int, seed: int):
        self.num_rows, self.batch_size, self.seed = num_rows, batch_size, seed
        self.per_epoch = num_rows // batch_size  # the last incomplete batch is dropped
        self._epoch: Optional[int] = None
        self._perm: Optional[torch.Tensor] = None

    def indices(self, batch: int) -> torch.Tensor:
        epoch, j = divmod(batch, self.per_epoch)
        if epoch != self._epoch:
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._perm, self._epoch = torch.randperm(self.num_rows, generator=gen), epoch
        return self._perm[j * self.batch_size:(j + 1) * self.batch_size]
