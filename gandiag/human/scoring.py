"""Scores of a "real or fake?" study: pure functions over answer arrays (float64).

Conventions (signal-detection view with **fake as the signal**):

* ``hit``: a fake image answered "fake"; ``false alarm``: a real image answered "fake".
* accuracy = correct / answered (main trials only; practice and attention checks excluded).
* fool rate = P(answer "real" | fake image) -- how often the generator fooled people.
* real error rate = P(answer "fake" | real image).
* HYPE_inf-style score (Zhou et al. 2019) = 100 * (fool rate + real error rate) / 2,
  the percentage of images misjudged with the two classes weighted equally
  (50 = indistinguishable from real; > 50 = "hyper-realistic").
* d' = z(H) - z(F) and criterion c = -(z(H) + z(F)) / 2 (Macmillan & Creelman 2005),
  with the log-linear correction of Hautus (1995): ``H = (hits + 0.5) / (n_fake + 1)``,
  ``F = (false alarms + 0.5) / (n_real + 1)``, applied to every participant so
  rates of 0 and 1 stay finite. c > 0 means a bias towards answering "real".
  The study-level d' and c are the means over participants.
* HYPE_time (staircase kits) = mean over participants of each one's modal
  staircase exposure (ties: the mean of the tied exposures).

Confidence intervals: a two-way bootstrap (participants and images resampled
with replacement, independently, as both are random samples; HYPE also
bootstraps both), percentile 95% intervals, seeded.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Sequence

import numpy as np
from scipy.special import ndtri

from ..errors import GandiagError

STATS = ("accuracy", "fool_rate", "real_error_rate", "hype_infinity", "d_prime", "criterion")
# Per-participant count columns.
N_FAKE, HITS, N_REAL, FALSE_ALARMS = range(4)


def loglinear_rates(hits, n_fake, false_alarms, n_real):
    """Hautus (1995) corrected hit and false-alarm rates (arrays broadcast)."""
    hits, n_fake = np.asarray(hits, np.float64), np.asarray(n_fake, np.float64)
    fas, n_real = np.asarray(false_alarms, np.float64), np.asarray(n_real, np.float64)
    return (hits + 0.5) / (n_fake + 1.0), (fas + 0.5) / (n_real + 1.0)


def dprime_criterion(hits, n_fake, false_alarms, n_real):
    """d' = z(H) - z(F) and c = -(z(H) + z(F)) / 2 with log-linear rates.

    Returns:
        ``(d_prime, criterion)`` float64 arrays of the broadcast shape.
    """
    h, f = loglinear_rates(hits, n_fake, false_alarms, n_real)
    zh, zf = ndtri(h), ndtri(f)
    return zh - zf, -(zh + zf) / 2.0


def _ratio(num, den):
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def stats_from_counts(counts: np.ndarray, participant_weights: Optional[np.ndarray] = None) -> Dict[str, np.ndarray]:
    """Study-level statistics from per-participant counts.

    Args:
        counts: ``(..., P, 4)`` float64 columns ``n_fake, hits, n_real, false_alarms``
            (possibly bootstrap-weighted, hence float).
        participant_weights: ``(..., P)`` weight of each participant (bootstrap
            multiplicities); ones when ``None``.

    Returns:
        dict of :data:`STATS`, each of shape ``counts.shape[:-2]``. Rates pool the
        trials of all (weighted) participants; d' and c average per-participant values
        over participants who saw both classes.
    """
    counts = np.asarray(counts, np.float64)
    w = np.ones(counts.shape[:-1]) if participant_weights is None else np.asarray(participant_weights, np.float64)
    n_fake, hits, n_real, fas = (counts[..., k] for k in range(4))
    tot = lambda a: (w * a).sum(axis=-1)  # noqa: E731 - weighted sum over participants
    fool = _ratio(tot(n_fake - hits), tot(n_fake))
    real_err = _ratio(tot(fas), tot(n_real))
    acc = _ratio(tot(hits + (n_real - fas)), tot(n_fake + n_real))
    d, c = dprime_criterion(hits, n_fake, fas, n_real)
    valid = (n_fake > 0) & (n_real > 0)
    wv = np.where(valid, w, 0.0)
    d_mean = _ratio((wv * np.where(valid, d, 0.0)).sum(axis=-1), wv.sum(axis=-1))
    c_mean = _ratio((wv * np.where(valid, c, 0.0)).sum(axis=-1), wv.sum(axis=-1))
    return {"accuracy": acc, "fool_rate": fool, "real_error_rate": real_err,
            "hype_infinity": 100.0 * (fool + real_err) / 2.0, "d_prime": d_mean, "criterion": c_mean}


@dataclass(frozen=True)
class AnswerTable:
    """Scored trials as parallel arrays (one row per answered main trial).

    Attributes:
        participant: ``(T,)`` int participant index in ``0..P-1``.
        image: ``(T,)`` int image index in ``0..I-1``.
        truth_fake: ``(T,)`` bool, the image is fake.
        said_fake: ``(T,)`` bool, the answer was "fake".
        exposure: ``(T,)`` float64 exposure in ms, NaN for untimed (paper) trials.
        n_participants, n_images: P and I.
        model: ``(T,)`` int index of the generator of a fake image, -1 for real images
            (``None``: one generator).
    """

    participant: np.ndarray
    image: np.ndarray
    truth_fake: np.ndarray
    said_fake: np.ndarray
    exposure: np.ndarray
    n_participants: int
    n_images: int
    model: Optional[np.ndarray] = None

    def indicators(self) -> np.ndarray:
        """``(T, 4)`` float64 per-trial contributions to the count columns."""
        tf, sf = self.truth_fake, self.said_fake
        return np.stack([tf, tf & sf, ~tf, ~tf & sf], axis=1).astype(np.float64)

    def counts(self, mask: Optional[np.ndarray] = None) -> np.ndarray:
        """``(P, 4)`` unweighted counts per participant (rows in ``mask`` only)."""
        ind = self.indicators()
        if mask is not None:
            ind = ind * mask[:, None]
        out = np.zeros((self.n_participants, 4))
        np.add.at(out, self.participant, ind)
        return out


def bootstrap_weights(n_participants: int, n_images: int, n_boot: int, seed: int):
    """Multinomial resampling multiplicities ``(B, P)`` and ``(B, I)`` (seeded)."""
    rng = np.random.default_rng([seed, 7])
    wp = rng.multinomial(n_participants, np.full(n_participants, 1.0 / n_participants), size=n_boot)
    wi = rng.multinomial(n_images, np.full(n_images, 1.0 / n_images), size=n_boot)
    return wp.astype(np.float64), wi.astype(np.float64)


def bootstrap_stats(table: AnswerTable, wp: np.ndarray, wi: np.ndarray, mask: Optional[np.ndarray] = None,
                    chunk: int = 256) -> Dict[str, np.ndarray]:
    """:func:`stats_from_counts` for each bootstrap replicate: dict of ``(B,)`` arrays."""
    ind = table.indicators()
    if mask is not None:
        ind = ind * mask[:, None]
    onehot = np.zeros((len(table.participant), table.n_participants))
    onehot[np.arange(len(table.participant)), table.participant] = 1.0
    parts = []
    for b0 in range(0, len(wp), chunk):
        g = wi[b0:b0 + chunk][:, table.image]  # (b, T): weight of each trial's image
        counts = np.stack([(g * ind[:, k]) @ onehot for k in range(4)], axis=-1)  # (b, P, 4)
        parts.append(stats_from_counts(counts, wp[b0:b0 + chunk]))
    return {k: np.concatenate([p[k] for p in parts]) for k in STATS}


def percentile_ci(samples: np.ndarray, level: float = 0.95):
    """Percentile interval of the finite bootstrap replicates (``None`` if there are none)."""
    finite = np.asarray(samples, np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return None
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(finite, [alpha, 1.0 - alpha])
    return [float(lo), float(hi)]


def modal_exposure(exposures: Sequence[float]) -> Optional[float]:
    """Most frequent exposure (HYPE_time threshold); ties give the mean of the tied values."""
    values = np.asarray(exposures, np.float64)
    if values.size == 0:
        return None
    uniq, n = np.unique(values, return_counts=True)
    return float(uniq[n == n.max()].mean())


def mean_with_ci(values: Sequence[float], n_boot: int, seed: int, level: float = 0.95) -> Dict:
    """Mean of per-participant values with a participant-bootstrap percentile CI."""
    v = np.asarray(values, np.float64)
    if v.size == 0:
        return {"value": None, "ci95": None}
    rng = np.random.default_rng([seed, 8])
    w = rng.multinomial(v.size, np.full(v.size, 1.0 / v.size), size=n_boot).astype(np.float64)
    reps = (w @ v) / v.size
    return {"value": float(v.mean()), "ci95": percentile_ci(reps, level)}


def check_bootstrap(n_boot: int) -> None:
    if n_boot < 0:
        raise GandiagError(f"--bootstrap must be >= 0 (0 = no confidence intervals), got {n_boot}")
