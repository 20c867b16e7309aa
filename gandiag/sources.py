"""Sources: "anything that yields images", resolved from one string spec.

A *source spec* is either a data spec understood by :func:`gandiag.data.load_images`
(folders, ``.npz``/``.npy``, idx files, ``mnist-subset``, ...) or, for generators,
a TorchScript file, a ``torch.export`` ``.pt2`` program, a ``package.module:callable``
or a reference-trainer checkpoint (added by the evaluate front door).

Everything returned is an :class:`~gandiag.data.ImageSet` of canonical images.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .data import ImageSet, load_images
from .errors import GandiagError


def load_source(
    spec: str,
    *,
    num_samples: Optional[int] = None,
    seed: int = 0,
    value_range=None,
    layout: Optional[str] = None,
    npz_key: Optional[str] = None,
) -> ImageSet:
    """Resolve ``spec`` into canonical images.

    Args:
        spec: a data spec or path (see :mod:`gandiag.data`).
        num_samples: for data sources, take a seeded random subset of this size
            (all rows when ``None``); asking for more rows than exist is an error.
        seed: seed of that subset choice.
        value_range, layout, npz_key: resolve ambiguous array files (see :mod:`gandiag.images`).
    """
    data = load_images(spec, value_range=value_range, layout=layout, npz_key=npz_key)
    if num_samples is None or num_samples == len(data):
        return data
    if num_samples <= 0:
        raise GandiagError(f"num_samples must be positive, got {num_samples}")
    if num_samples > len(data):
        raise GandiagError(f"{spec}: asked for {num_samples} samples but the source holds only {len(data)}")
    index = np.sort(np.random.default_rng(seed).choice(len(data), num_samples, replace=False))
    return data.subset(index, f"{data.source}[{num_samples} of {len(data)}, seed {seed}]")
