"""Stimulus pixels: matching real/fake sets, noise checks, backward masks, PNG bytes.

All inputs and outputs are canonical images (float32 NCHW in ``[0, 1]``, see
:mod:`gandiag.images`); PNG encoding goes through :func:`gandiag.images.to_uint8`.
"""
from __future__ import annotations

import io
from typing import List, Tuple

import numpy as np

from ..errors import GandiagError
from ..images import check_canonical, to_rgb, to_uint8


def match_formats(real: np.ndarray, fake: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Make real and fake images look alike in everything but content.

    Grayscale is promoted to RGB when the other set is RGB (a colour difference
    would give the answer away). Different resolutions are an error, for the same
    reason: on screen the pixel size would tell real from fake.
    """
    check_canonical(real, "real images")
    check_canonical(fake, "fake images")
    if real.shape[2:] != fake.shape[2:]:
        raise GandiagError(
            f"real images are {real.shape[2]}x{real.shape[3]} but fake images are "
            f"{fake.shape[2]}x{fake.shape[3]}; observers could tell them apart by resolution alone, "
            "so resize one set to the other's size before building the kit"
        )
    if real.shape[1] != fake.shape[1]:
        real, fake = to_rgb(real), to_rgb(fake)
    return real, fake


def noise_images(n: int, shape: Tuple[int, int, int], seed: int) -> np.ndarray:
    """``n`` uniform-noise images of ``shape`` (C, H, W): obvious fakes for attention checks."""
    rng = np.random.default_rng([seed, 4])
    return rng.random((n,) + tuple(shape), dtype=np.float64).astype(np.float32)


def scramble_masks(pool: np.ndarray, n: int, seed: int, grid: int = 7, candidates: int = 8) -> np.ndarray:
    """Backward masks: each a ``grid x grid`` mosaic of tiles cut from random stimuli.

    A mask built from the stimuli themselves has their contrast, colour and
    spatial frequencies, so it interrupts processing of the image just shown
    without favouring real or fake (tiles come from both classes). Each tile is
    the most varied (highest pixel standard deviation) of ``candidates`` random
    cuts: on sparse images such as MNIST digits a random cut is mostly
    background, and masks of random cuts were ~80 % black, masking little.

    Args:
        pool: canonical images ``(N, C, H, W)`` to cut tiles from.
        n: number of masks.
        seed: seed of the tile choices.
        grid: tiles per side (each tile is about ``H/grid`` pixels).

    Returns:
        ``(n, C, H, W)`` canonical masks.
    """
    check_canonical(pool, "mask pool")
    _, c, h, w = pool.shape
    rng = np.random.default_rng([seed, 5])
    ys = np.linspace(0, h, grid + 1).astype(int)
    xs = np.linspace(0, w, grid + 1).astype(int)
    masks = np.empty((n, c, h, w), dtype=np.float32)
    for m in range(n):
        for i in range(grid):
            for j in range(grid):
                th, tw = ys[i + 1] - ys[i], xs[j + 1] - xs[j]
                best, best_sd = None, -1.0
                for _ in range(candidates):
                    src = pool[rng.integers(len(pool))]
                    # A tile from a random place, so the mask shows no coherent object.
                    y0 = int(rng.integers(0, h - th + 1))
                    x0 = int(rng.integers(0, w - tw + 1))
                    tile = src[:, y0:y0 + th, x0:x0 + tw]
                    sd = float(tile.std())
                    if sd > best_sd:
                        best, best_sd = tile, sd
                masks[m, :, ys[i]:ys[i + 1], xs[j]:xs[j + 1]] = best
    return masks


def png_bytes(image: np.ndarray) -> bytes:
    """Encode one canonical image ``(C, H, W)`` as PNG bytes (8-bit, lossless)."""
    from PIL import Image

    pixels = to_uint8(image[None])[0]
    if pixels.shape[0] == 1:
        pil = Image.fromarray(pixels[0])  # 2-D uint8 -> mode "L"
    else:
        pil = Image.fromarray(np.ascontiguousarray(pixels.transpose(1, 2, 0)))  # HxWx3 -> "RGB"
    buffer = io.BytesIO()
    # No timestamps or text chunks: the same pixels always give the same bytes.
    pil.save(buffer, format="PNG", optimize=False, compress_level=9)
    return buffer.getvalue()


def png_batch(images: np.ndarray) -> List[bytes]:
    """PNG bytes of each canonical image in ``images``."""
    check_canonical(images)
    return [png_bytes(im) for im in images]
