"""Mode metrics for the 2-D toy benchmarks: ring of 8 and grid of 25 Gaussians.

The protocol of VEEGAN (Srivastava et al., NeurIPS 2017, Sec. 5.1) and PacGAN
(Lin et al., NeurIPS 2018, Sec. 5; their ``MetricLogger`` in
``synthetic_data_experiments/PacGAN/pacgan/extensions.py``), on the mixtures
Metz et al. (2017, "Unrolled GANs") introduced:

* each point is assigned to the mode centre ``c_k`` with the smallest
  standardised distance ``d_k = ||x - c_k|| / sigma``;
* it is *high quality* when that distance is below ``threshold`` (3 sigma);
* a mode is *covered* when at least ``min_count`` high-quality points fall in
  it (PacGAN: one);
* ``p_k`` = share of the high-quality points in mode k; reported as
  ``KL(p || u) = sum_k p_k log(K p_k)`` (natural log, 0 log 0 = 0; PacGAN's
  "reverse KL" to the uniform mode weights u = 1/K) and the Jensen-Shannon
  divergence ``JS(p, u)`` (PacGAN's ``JSD`` column).

Setups (:data:`TOY_SETUPS`), as in PacGAN's configs which follow VEEGAN:

* ``ring8``: 8 modes ``(cos 2 pi k/8, sin 2 pi k/8)``, radius 1, sigma 0.01.
* ``grid25``: 25 modes ``(-4 + 2i, -4 + 2j)``, i, j in 0..4, sigma 0.05.

(Metz et al.'s own ring has radius 2 and sigma 0.02; build it with
:func:`ring_setup` if you reproduce that paper.)

These are pure functions over an (N, 2) array; the reference trainer's monitor
and ``gandiag evaluate POINTS.npy --toy ring8|grid25`` both call
:func:`toy_mode_metrics`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Union

import numpy as np

from ..errors import GandiagError
from ._checks import as_matrix, check_int

TOY_PAPER = ("Srivastava, Valkov, Russell, Gutmann, Sutton. VEEGAN: Reducing Mode Collapse in GANs using "
           "Implicit Variational Learning. NeurIPS 2017")


def _check_positive(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not math.isfinite(float(value)) or float(value) <= 0:
        raise GandiagError(f"{name}: must be a positive finite number, got {value!r}")


@dataclass(frozen=True)
class ToySetup:
    """A mixture of equal-weight isotropic 2-D Gaussians.

    Attributes:
        name: short id (``ring8``, ``grid25`` or a custom one).
        centres: (K, 2) float64 mode centres.
        std: the common per-axis standard deviation sigma.
        description: one line for reports.
    """

    name: str
    centres: np.ndarray
    std: float
    description: str = ""

    @property
    def num_modes(self) -> int:
        return int(self.centres.shape[0])


def ring_setup(num_modes: int = 8, radius: float = 1.0, std: float = 0.01, name: str = "") -> ToySetup:
    """Modes equally spaced on a circle: centre k at ``radius * (cos 2 pi k/K, sin 2 pi k/K)``."""
    num_modes = check_int(num_modes, "ring_setup(num_modes)", minimum=2)
    _check_positive(radius, "ring_setup(radius)")
    _check_positive(std, "ring_setup(std)")
    angles = 2.0 * np.pi * np.arange(num_modes) / num_modes
    centres = float(radius) * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return ToySetup(name or f"ring{num_modes}", centres, float(std),
                    f"{num_modes} Gaussians on a circle of radius {radius:g}, sigma {std:g}")


def grid_setup(side: int = 5, spacing: float = 2.0, std: float = 0.05, name: str = "") -> ToySetup:
    """A ``side x side`` grid centred on 0: centres ``spacing * (i - (side-1)/2, j - (side-1)/2)``."""
    side = check_int(side, "grid_setup(side)", minimum=2)
    _check_positive(spacing, "grid_setup(spacing)")
    _check_positive(std, "grid_setup(std)")
    axis = float(spacing) * (np.arange(side) - (side - 1) / 2.0)
    xx, yy = np.meshgrid(axis, axis, indexing="ij")
    centres = np.stack([xx.ravel(), yy.ravel()], axis=1)
    return ToySetup(name or f"grid{side * side}", centres, float(std),
                    f"{side}x{side} grid of Gaussians, spacing {spacing:g}, sigma {std:g}")


TOY_SETUPS: Dict[str, ToySetup] = {
    "ring8": ring_setup(8, radius=1.0, std=0.01, name="ring8"),
    "grid25": grid_setup(5, spacing=2.0, std=0.05, name="grid25"),
}


def get_toy_setup(setup: Union[str, ToySetup]) -> ToySetup:
    """Return a :class:`ToySetup` by name (``ring8``/``grid25``) or pass one through."""
    if isinstance(setup, ToySetup):
        return setup
    if isinstance(setup, str) and setup in TOY_SETUPS:
        return TOY_SETUPS[setup]
    raise GandiagError(f"toy setup: unknown {setup!r}; valid values are {sorted(TOY_SETUPS)} "
                       "(or build one with ring_setup()/grid_setup())")


def sample_toy(setup: Union[str, ToySetup], num_samples: int, *, seed: int) -> np.ndarray:
    """Draw ``num_samples`` points (float64, (N, 2)) from the mixture, modes chosen uniformly.

    Args:
        setup: ``"ring8"``, ``"grid25"`` or a :class:`ToySetup`.
        num_samples: N >= 1.
        seed: seed of ``numpy.random.default_rng`` (explicit: every draw is reproducible).
    """
    s = get_toy_setup(setup)
    n = check_int(num_samples, "sample_toy(num_samples)", minimum=1)
    seed = check_int(seed, "sample_toy(seed)", minimum=0)
    rng = np.random.default_rng(seed)
    modes = rng.integers(0, s.num_modes, size=n)
    return s.centres[modes] + s.std * rng.standard_normal((n, 2))


def assign_toy_modes(points, setup: Union[str, ToySetup] = "ring8"):
    """Nearest mode and its standardised distance for each point.

    Returns:
        ``(modes, distances)``: (N,) int64 index of the nearest centre and (N,) float64
        ``||x - c|| / sigma`` to it.
    """
    s = get_toy_setup(setup)
    x = as_matrix(points, "toy_mode_metrics(points)", dim=2)
    d2 = ((x[:, None, :] - s.centres[None, :, :]) ** 2).sum(axis=2)  # (N, K); K <= a few dozen
    modes = np.argmin(d2, axis=1)
    dist = np.sqrt(d2[np.arange(x.shape[0]), modes]) / s.std
    return modes.astype(np.int64), dist


def toy_mode_metrics(points, setup: Union[str, ToySetup] = "ring8", *, threshold: float = 3.0,
                     min_count: int = 1) -> Dict[str, object]:
    """Modes covered, high-quality fraction and KL over modes of 2-D samples.

    Args:
        points: (N, 2) generated samples (finite).
        setup: ``"ring8"``, ``"grid25"`` or a :class:`ToySetup`.
        threshold: a point is high quality within ``threshold`` sigmas of its nearest centre (3).
        min_count: high-quality points a mode needs to count as covered (1, as PacGAN).

    Returns:
        dict with ``setup``, ``num_modes``, ``num_samples``, ``threshold``, ``min_count``,
        ``modes_covered`` (int), ``missing`` (uncovered mode indices), ``high_quality_fraction``,
        ``counts`` (high-quality points per mode), ``kl_to_uniform`` (KL(p||u), natural log) and
        ``js_to_uniform``; both are None when no point is high quality (p undefined).
    """
    s = get_toy_setup(setup)
    _check_positive(threshold, "toy_mode_metrics(threshold)")
    min_count = check_int(min_count, "toy_mode_metrics(min_count)", minimum=1)
    modes, dist = assign_toy_modes(points, s)
    good = dist < float(threshold)
    counts = np.bincount(modes[good], minlength=s.num_modes)
    n_good = int(good.sum())
    k = s.num_modes
    kl = js = None
    if n_good:
        p = counts / n_good
        nz = p > 0
        kl = float(np.sum(p[nz] * np.log(p[nz] * k)))
        m = 0.5 * (p + 1.0 / k)
        js = float(0.5 * np.sum(p[nz] * np.log(p[nz] / m[nz])) + 0.5 * np.sum((1.0 / k) * np.log((1.0 / k) / m)))
    covered = counts >= min_count
    return {
        "setup": s.name,
        "num_modes": k,
        "num_samples": int(modes.size),
        "threshold": float(threshold),
        "min_count": min_count,
        "modes_covered": int(covered.sum()),
        "missing": [int(i) for i in np.flatnonzero(~covered)],
        "high_quality_fraction": n_good / modes.size,
        "counts": [int(c) for c in counts],
        "kl_to_uniform": kl,
        "js_to_uniform": js,
    }

