"""``pixels``: the canonical pixels themselves, flattened, as features.

Pixel space is the baseline every learned feature space should beat (and the
space of the Parzen-window log-likelihood of Goodfellow et al., 2014). Features
are ``(N, C*H*W)`` float32 in ``[0, 1]``; channels are kept as given.
"""
from __future__ import annotations

import torch.nn as nn

from .base import Extractor


class _Flatten(nn.Module):
    def forward(self, x):
        return x.reshape(x.shape[0], -1), None


class PixelsExtractor(Extractor):
    """Flattened canonical pixels; ``feature_dim`` becomes ``C*H*W`` after the first batch."""

    name = "pixels"
    num_classes = None
    protocol = "canonical float32 pixels in [0,1], flattened NCHW"
    default_batch_size = 1024

    def __init__(self, device: str = "cpu"):
        super().__init__(device)
        self.network = _Flatten()
        self._runnable = self.network
