"""Input protocols of the FID InceptionV3: how canonical images become network input.

The same network gives different FIDs under different resizing (Parmar et al.,
"On Aliased Resizing and Surprising Subtleties in GAN Evaluation", CVPR 2022), so
the transform has a name and is recorded with every number:

==================  ==========================================================  ============================
protocol            transform (canonical ``x`` in ``[0, 1]``)                   numbers it reproduces
==================  ==========================================================  ============================
``pytorch-fid``     ``F.interpolate(x, 299, bilinear, align_corners=False)``;    pytorch-fid 0.3 (the most
                    then ``2 x - 1``                                           common PyTorch FIDs)
``clean``           ``255 x`` resized per channel with PIL bicubic on float    clean-fid ``mode="clean"``
                    (``Image.resize(BICUBIC)`` on mode ``F``), clipped to      (its resize and
                    ``[0, 255]``; then ``(v - 128) / 128``                     normalisation)
``torch-fidelity``  ``round(255 x)`` to uint8, TensorFlow-1.x bilinear         torch-fidelity, the TF FID/IS
                    resize (no half-pixel offset); then ``(v - 128) / 128``    code, torchmetrics with
                                                                               ``antialias=False``
==================  ==========================================================  ============================

torchmetrics' default FID (``antialias=True`` bilinear, float input truncated to
uint8) is a fourth transform that none of these reproduces.

All three return a float32 ``(N, 3, 299, 299)`` tensor in roughly ``[-1, 1]``;
grayscale input is repeated to three channels first, as ``PIL.Image.convert("RGB")``
does for the peers.
"""
from __future__ import annotations

from typing import Callable, Dict

import numpy as np

INCEPTION_SIZE = 299


def _to_rgb(x):
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def pytorch_fid_transform(x, size: int = INCEPTION_SIZE):
    """pytorch-fid's ``InceptionV3.forward`` preprocessing (bilinear, then ``2x - 1``)."""
    import torch.nn.functional as F

    x = F.interpolate(_to_rgb(x), size=(size, size), mode="bilinear", align_corners=False)
    return 2 * x - 1


def pil_bicubic_resize(values: np.ndarray, size: int = INCEPTION_SIZE) -> np.ndarray:
    """clean-fid's ``make_resizer("PIL", False, "bicubic", (size, size))`` on an NCHW stack.

    Args:
        values: float32 ``(N, C, H, W)`` in ``[0, 255]``.

    Returns:
        float32 ``(N, C, size, size)`` clipped to ``[0, 255]``; each channel is resized
        separately as a PIL mode-``F`` (32-bit float) image, exactly as clean-fid does,
        so no quantisation happens before the network.
    """
    from PIL import Image

    n, c = values.shape[:2]
    out = np.empty((n, c, size, size), dtype=np.float32)
    for i in range(n):
        for ch in range(c):
            img = Image.fromarray(np.ascontiguousarray(values[i, ch], dtype=np.float32))
            out[i, ch] = np.asarray(img.resize((size, size), resample=Image.BICUBIC))
    return np.clip(out, 0.0, 255.0, out=out)


def clean_transform(x, size: int = INCEPTION_SIZE):
    """clean-fid ``mode="clean"``: PIL bicubic on float ``255 x``, then ``(v - 128) / 128``.

    PIL runs on the CPU, so the batch makes a round trip when ``x`` lives on a GPU.
    """
    import torch

    values = x.detach().float().cpu().numpy() * np.float32(255.0)
    resized = torch.from_numpy(pil_bicubic_resize(values, size)).to(x.device)
    return (_to_rgb(resized) - 128.0) / 128.0


def tf1_bilinear_resize(x, size: int = INCEPTION_SIZE):
    """TensorFlow 1.x ``resize_bilinear(align_corners=False)`` on an NCHW float tensor.

    TF 1.x samples source position ``i * in/out`` (no half-pixel offset), unlike
    ``F.interpolate``; the arithmetic below follows torch-fidelity's
    ``interpolate_bilinear_2d_like_tensorflow1x(method="slow")``, which is bit-exact
    to TF on CPU.
    """
    import torch

    def axis(in_size: int):
        grid = torch.arange(0, size, 1, dtype=x.dtype, device=x.device)
        grid = grid * torch.tensor(in_size / size, dtype=torch.float32, device=x.device)
        lo = grid.long()
        hi = (lo + 1).clamp_max(in_size - 1)
        return lo, hi, grid - lo.float()

    y_lo, y_hi, dy = axis(x.shape[2])
    x_lo, x_hi, dx = axis(x.shape[3])
    top, bottom = x.index_select(2, y_lo), x.index_select(2, y_hi)
    in_00, in_01 = top.index_select(3, x_lo), top.index_select(3, x_hi)
    in_10, in_11 = bottom.index_select(3, x_lo), bottom.index_select(3, x_hi)
    dx = dx.view(1, 1, 1, size)
    in_0 = in_00 + (in_01 - in_00) * dx
    in_1 = in_10 + (in_11 - in_10) * dx
    return in_0 + (in_1 - in_0) * dy.view(1, 1, size, 1)


def torch_fidelity_transform(x, size: int = INCEPTION_SIZE):
    """torch-fidelity: quantise to uint8 (its input type), TF-1.x bilinear, ``(v - 128) / 128``."""
    import torch

    values = torch.round(_to_rgb(x).float() * 255.0).clamp_(0, 255)
    return (tf1_bilinear_resize(values, size) - 128) / 128


PROTOCOLS: Dict[str, Callable] = {
    "pytorch-fid": pytorch_fid_transform,
    "clean": clean_transform,
    "torch-fidelity": torch_fidelity_transform,
}
PROTOCOL_DESCRIPTIONS = {
    "pytorch-fid": "bilinear resize to 299 (F.interpolate, align_corners=False), 2x-1; matches pytorch-fid",
    "clean": "PIL bicubic resize of float 255x to 299, (v-128)/128; matches clean-fid mode='clean'",
    "torch-fidelity": "uint8 quantisation, TF1 bilinear resize to 299, (v-128)/128; matches torch-fidelity",
}

#: Which published tables each protocol's numbers can be put next to (``gandiag conformance``).
PROTOCOL_TABLES = {
    "pytorch-fid": "FIDs computed with pytorch-fid 0.3 (most PyTorch papers since 2019; its README's numbers)",
    "clean": "clean-fid mode='clean' FIDs/KIDs (Parmar et al. 2022 and the clean-fid leaderboards)",
    "torch-fidelity": "the original TensorFlow FID (Heusel et al. 2017, TTUR code) and IS (Salimans et al. 2016) "
                      "tables, torch-fidelity, torchmetrics with antialias=False",
}
