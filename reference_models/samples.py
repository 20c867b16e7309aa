"""Drawing canonical samples from a generator and saving PNG sample grids."""
from __future__ import annotations

import io
import os
from typing import Optional, Sequence, Union

import numpy as np
import torch
from PIL import Image
from torch import nn

from gandiag.fileio import atomic_write_bytes
from gandiag.images import check_canonical, to_uint8


def sample_prior(prior: str, n: int, z_dim: int, generator: torch.Generator) -> torch.Tensor:
    """``z ~ N(0, I)`` (``normal``) or ``U(-1, 1)`` (``uniform``), float32 ``(n, z_dim)``."""
    if prior == "normal":
        return torch.randn(n, z_dim, generator=generator)
    return torch.rand(n, z_dim, generator=generator) * 2.0 - 1.0


@torch.no_grad()
def generate_canonical(generator: nn.Module, z: torch.Tensor, y: Optional[torch.Tensor],
                       value_range: Sequence[float], batch_size: int = 500) -> np.ndarray:
    """Run ``generator`` in eval mode on ``z`` (and labels ``y``) and return canonical images.

    The module's train/eval mode is restored afterwards, and no RNG is consumed, so
    monitoring and sampling during training leave the training trajectory untouched.
    """
    was_training = generator.training
    generator.eval()
    lo, hi = value_range
    try:
        chunks = []
        for start in range(0, len(z), batch_size):
            zb = z[start:start + batch_size]
            out = generator(zb) if y is None else generator(zb, y[start:start + batch_size])
            chunks.append(((out.float() - lo) / (hi - lo)).clamp_(0.0, 1.0).cpu().numpy())
    finally:
        generator.train(was_training)
    return np.concatenate(chunks).astype(np.float32, copy=False)


def grid_png(images: np.ndarray, columns: int, padding: int = 2) -> bytes:
    """Tile canonical images row-major into one PNG (grayscale or RGB), white-ish gaps."""
    check_canonical(images, "sample grid")
    n, c, h, w = images.shape
    rows = -(-n // columns)
    canvas = np.full((c, rows * (h + padding) + padding, columns * (w + padding) + padding), 128, np.uint8)
    pixels = to_uint8(images)
    for i in range(n):
        r, k = divmod(i, columns)
        top, left = padding + r * (h + padding), padding + k * (w + padding)
        canvas[:, top:top + h, left:left + w] = pixels[i]
    mode_image = Image.fromarray(canvas[0]) if c == 1 else Image.fromarray(canvas.transpose(1, 2, 0))
    buffer = io.BytesIO()
    mode_image.save(buffer, format="PNG")
    return buffer.getvalue()


def save_grid(path: Union[str, os.PathLike], images: np.ndarray, columns: int, scale: int = 1) -> None:
    """Write a sample grid PNG atomically; ``scale`` > 1 enlarges it (nearest neighbour)."""
    data = grid_png(images, columns)
    if scale > 1:
        img = Image.open(io.BytesIO(data))
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
        buffer = io.BytesIO()
        img.save(buffer, format="PNG")
        data = buffer.getvalue()
    atomic_write_bytes(path, data)
