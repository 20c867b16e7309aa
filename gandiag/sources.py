"""Sources: "anything that yields images", resolved from one string spec.

A *source spec* is either a data spec understood by :func:`gandiag.data.load_images`
(folders, ``.npz``/``.npy``, idx files, ``mnist-subset``, ...) or a generator
understood by :func:`gandiag.generators.load_generator` (TorchScript, ``torch.export``
``.pt2``, reference-trainer checkpoint or run folder, ``package.module:callable``).

Everything returned is an :class:`~gandiag.data.ImageSet` of canonical images.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .data import ImageSet, load_images
from .errors import GandiagError
from .generators import is_generator_spec, load_generator

DEFAULT_GENERATOR_SAMPLES = 10_000


def load_source(
    spec: str,
    *,
    num_samples: Optional[int] = None,
    seed: int = 0,
    value_range=None,
    layout: Optional[str] = None,
    npz_key: Optional[str] = None,
    z_dim: Optional[int] = None,
    batch_size: int = 250,
    trust_pickle: bool = False,
    device: str = "cpu",
    progress: bool = False,
) -> ImageSet:
    """Resolve ``spec`` into canonical images.

    Args:
        spec: a data spec or path (see :mod:`gandiag.data`) or a generator (see
            :mod:`gandiag.generators`).
        num_samples: data sources: a seeded random subset of this size (all rows when
            ``None``; more rows than exist is an error). Generators: how many images to
            sample (default 10,000).
        seed: seed of the subset choice or of the generator's latents.
        value_range, layout, npz_key: resolve ambiguous arrays or generator outputs
            (see :mod:`gandiag.images`).
        z_dim, batch_size, trust_pickle, device: generator options.
    """
    if is_generator_spec(spec):
        gen = load_generator(spec, z_dim=z_dim, output_range=value_range, layout=layout, device=device,
                             trust_pickle=trust_pickle)
        return gen.sample(num_samples or DEFAULT_GENERATOR_SAMPLES, batch_size=batch_size, seed=seed,
                          progress=progress)
    data = load_images(spec, value_range=value_range, layout=layout, npz_key=npz_key)
    if num_samples is None or num_samples == len(data):
        return data
    if num_samples <= 0:
        raise GandiagError(f"num_samples must be positive, got {num_samples}")
    if num_samples > len(data):
        raise GandiagError(f"{spec}: asked for {num_samples} samples but the source holds only {len(data)}")
    index = np.sort(np.random.default_rng(seed).choice(len(data), num_samples, replace=False))
    return data.subset(index, f"{data.source}[{num_samples} of {len(data)}, seed {seed}]")
