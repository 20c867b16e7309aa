"""Out-of-domain guard for classifier-based metrics (MNIST / Fashion / Stacked MNIST classifiers).

Mode coverage, MNIST-FID and MNIST-IS read a classifier's output as if every sample were a digit
(or a garment). A classifier always answers: Fashion-MNIST clothing evaluated as digits gets
"6/10 digits covered" and a KL verdict, although nothing in the samples is a digit. This check
asks whether the samples are plausibly in the classifier's domain at all, by comparing them with
the real data *in the classifier's own feature space*:

* **distance**: each sample's distance to its nearest real feature vector, against the same
  distance for real images (a seeded probe of up to 2,000 reference rows against the rest). A
  sample is *far* when it is farther than the 99th percentile of the real probe's distances; real
  data have 1 % far rows by construction.
* **confidence**: the mean top-class probability of the samples and of the real probe, reported
  alongside (a supporting number: poor GANs are unconfident too, so it does not decide).

Verdict: out of domain when more than ``max_far_fraction`` (35 %) of the samples are far.
Measured with the shipped MNIST classifier against the embedded training split (1,000 samples each):
real test digits 2.0 % far, a half-trained gan2014
generator 1.4 %, the demo's DCGAN after 2,000 steps (10/10 digits, MNIST-FID 273) 27.8 %,
Fashion-MNIST clothing 44.6 %, uniform noise 49.9 %. A 20 % threshold flagged that DCGAN's
recognisable digits as "not digits"; 35 % sits between the worst real GAN and the clothing
(``tests/gandiag/metrics/test_domain.py`` re-checks the digit and clothing cases).
"""
from __future__ import annotations

from typing import Dict

import numpy as np

FAR_QUANTILE = 0.99
MAX_FAR_FRACTION = 0.35
MAX_PROBE = 2000


def _confidence(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    return (p / p.sum(axis=1, keepdims=True)).max(axis=1)


def domain_check(fake_feats, fake_logits, ref_feats, ref_logits, *, classifier: str, seed: int = 0,
                 max_far_fraction: float = MAX_FAR_FRACTION) -> Dict[str, object]:
    """Are the samples plausibly in the classifier's domain? (see module doc)

    Args:
        fake_feats, fake_logits: the samples' classifier features (N, D) and logits (N, K).
        ref_feats, ref_logits: the same for the real reference data (at least 20 rows).
        classifier: the extractor's name (recorded).
        seed: seeds the real probe split.

    Returns:
        JSON-able dict with ``out_of_domain`` (bool), ``far_fraction`` (samples), ``real_far_fraction``,
        ``threshold``, ``confidence`` / ``real_confidence`` and a one-line ``message``.
    """
    from ..metrics import nearest_neighbours

    ref = np.asarray(ref_feats, dtype=np.float64)
    fake = np.asarray(fake_feats, dtype=np.float64)
    order = np.random.default_rng(seed).permutation(len(ref))
    n_probe = min(MAX_PROBE, len(ref) // 4)
    probe, rest = order[:n_probe], np.sort(order[n_probe:])
    _, d_real = nearest_neighbours(ref[np.sort(probe)], ref[rest], k=1)
    _, d_fake = nearest_neighbours(fake, ref[rest], k=1)
    threshold = float(np.quantile(d_real[:, 0], FAR_QUANTILE))
    far = float(np.mean(d_fake[:, 0] > threshold))
    conf, real_conf = float(_confidence(fake_logits).mean()), float(_confidence(np.asarray(ref_logits)[probe]).mean())
    out = far > max_far_fraction
    what = "digits" if "mnist" in classifier else "images of the classifier's classes"
    if out:
        message = (f"samples look out of domain for {classifier}: {far:.0%} of them are farther from every real image "
                   f"(in its feature space) than 99% of real images are ({float(np.mean(d_real[:, 0] > threshold)):.0%} "
                   f"of real); mean confidence {conf:.2f} vs {real_conf:.2f} for real data. They may not be {what} "
                   "at all: classifier-based coverage, MNIST-FID/IS and mode verdicts are not meaningful here")
    else:
        message = (f"samples are plausibly in {classifier}'s domain ({far:.1%} far from all real images; mean "
                   f"confidence {conf:.2f} vs {real_conf:.2f} for real data)")
    return {"out_of_domain": out, "classifier": classifier, "far_fraction": far,
            "real_far_fraction": float(np.mean(d_real[:, 0] > threshold)), "threshold": threshold,
            "far_quantile": FAR_QUANTILE, "max_far_fraction": max_far_fraction, "confidence": conf,
            "real_confidence": real_conf, "num_probe": int(n_probe), "seed": seed, "message": message}
