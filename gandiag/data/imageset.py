"""``ImageSet``: canonical images plus optional labels and where they came from."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..errors import GandiagError
from ..images import check_canonical


@dataclass(frozen=True)
class ImageSet:
    """Canonical images (float32 NCHW in [0, 1]) with optional integer labels.

    Attributes:
        images: ``(N, C, H, W)`` float32 in ``[0, 1]``.
        labels: ``(N,)`` int64 class labels, or ``None``.
        source: human-readable description of where the images came from.
    """

    images: np.ndarray
    labels: Optional[np.ndarray] = None
    source: str = ""
    _hash: list = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self):
        check_canonical(self.images, self.source or "images")
        if self.labels is not None and len(self.labels) != len(self.images):
            raise GandiagError(
                f"{self.source}: {len(self.labels)} labels for {len(self.images)} images"
            )

    def __len__(self) -> int:
        return len(self.images)

    @property
    def shape(self):
        return self.images.shape[1:]

    def subset(self, index, source: Optional[str] = None) -> "ImageSet":
        labels = None if self.labels is None else self.labels[index]
        return ImageSet(self.images[index], labels, source or f"{self.source}[subset]")

    def content_hash(self) -> str:
        """sha256 of the image bytes and shape (labels excluded); cached."""
        if not self._hash:
            digest = hashlib.sha256(str(self.images.shape).encode())
            digest.update(np.ascontiguousarray(self.images).tobytes())
            self._hash.append(digest.hexdigest())
        return self._hash[0]
