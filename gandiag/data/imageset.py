"""``ImageSet``: canonical images plus optional labels and where they came from."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

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
        kind: the registered source kind that produced them (``npz``, ``torchscript``, ...;
            "" for arrays built in code), see :mod:`gandiag.data.kinds`.
        provenance: JSON-able facts about the source (spec, kind, generator metadata, seed),
            recorded as is in results.
    """

    images: np.ndarray
    labels: Optional[np.ndarray] = None
    source: str = ""
    kind: str = ""
    provenance: Dict[str, Any] = field(default_factory=dict, compare=False)
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
        source = source or f"{self.source}[subset]"
        provenance = {**self.provenance, "description": source} if self.provenance else {}
        return ImageSet(self.images[index], labels, source, self.kind, provenance)

    def with_origin(self, kind: str, provenance: Dict[str, Any]) -> "ImageSet":
        """The same images (shared, not copied) labelled with their source kind and provenance."""
        return ImageSet(self.images, self.labels, self.source, kind, dict(provenance))

    def content_hash(self) -> str:
        """sha256 of the image bytes and shape (labels excluded); cached."""
        if not self._hash:
            digest = hashlib.sha256(str(self.images.shape).encode())
            digest.update(np.ascontiguousarray(self.images).tobytes())
            self._hash.append(digest.hexdigest())
        return self._hash[0]
