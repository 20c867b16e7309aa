"""Gaussian Parzen-window log-likelihood, the protocol of Goodfellow et al. (2014).

"Generative Adversarial Nets" (NIPS 2014), Table 1, estimated the test-set
log-likelihood of a generator by fitting an isotropic Gaussian kernel density
to generated samples ``mu_1..mu_n`` (Breuleux et al. 2011). Their code
(goodfeli/adversarial, ``parzen_ll.py``, credit Yann N. Dauphin) computes for
each test point x::

    E(x) = log_mean_exp_j( -0.5 * ||(x - mu_j) / sigma||^2 )
    Z    = D * log(sigma * sqrt(2 pi))
    ll(x) = E(x) - Z

with ``log_mean_exp(a) = max(a) + log(mean(exp(a - max(a))))``, reports
``mean(ll)`` and ``std(ll) / sqrt(n_test)`` (numpy's default ddof=0), and picks
sigma on a validation set by maximising the mean log-likelihood over
``sigmas = numpy.logspace(-1, 0, 10)``.

This port computes the same quantities in float64, but gets the squared
distances from a matrix product (``|x|^2 - 2 x.mu + |mu|^2``) instead of a
(batch, n, D) difference tensor, and reuses one distance block for every
candidate sigma. Known limitation of the method itself: it is a poor likelihood
estimate in high dimension (Theis et al. 2016) -- report it only for comparison
with the 2014 numbers.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np

from ..errors import GandiagError
from ._checks import as_matrix, check_int, default_chunk_rows, sq_norms


def _sigmas(values, name: str) -> np.ndarray:
    s = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if s.ndim != 1 or s.size == 0 or not np.isfinite(s).all() or (s <= 0).any():
        raise GandiagError(f"{name}: expected positive finite kernel width(s), got {values!r}")
    return s


def _log_likelihoods(samples: np.ndarray, test: np.ndarray, sigmas: np.ndarray, batch_size: int) -> np.ndarray:
    """Per-test-point log-likelihood for each sigma, shape (len(sigmas), n_test)."""
    dim = samples.shape[1]
    s_sq = sq_norms(samples)
    t_sq = sq_norms(test)
    out = np.empty((sigmas.size, test.shape[0]), dtype=np.float64)
    log_n = np.log(samples.shape[0])
    for lo in range(0, test.shape[0], batch_size):
        hi = min(test.shape[0], lo + batch_size)
        d2 = test[lo:hi] @ samples.T
        d2 *= -2.0
        d2 += t_sq[lo:hi, None]
        d2 += s_sq[None, :]
        np.maximum(d2, 0.0, out=d2)  # rounding can make tiny distances negative
        # The max term of log-mean-exp is the nearest sample, the same for every sigma.
        d2_min = d2.min(axis=1)
        shifted = d2 - d2_min[:, None]
        for i, sigma in enumerate(sigmas):
            scale = -0.5 / (sigma * sigma)
            # log_mean_exp(a) = max(a) + log(mean(exp(a - max(a)))) with a = scale * d2.
            lme = scale * d2_min + np.log(np.exp(scale * shifted).sum(axis=1)) - log_n
            out[i, lo:hi] = lme - dim * np.log(sigma * np.sqrt(2.0 * np.pi))
    return out


def _prepare(samples, test, name_s: str, name_t: str, batch_size: Optional[int]):
    s = as_matrix(samples, name_s, min_rows=1)
    t = as_matrix(test, name_t, min_rows=1, dim=s.shape[1])
    if batch_size is None:
        batch_size = default_chunk_rows(s.shape[0], budget_bytes=128 << 20)
    return s, t, check_int(batch_size, "batch_size", minimum=1)


def parzen_log_likelihood(samples, test, sigma: float, batch_size: Optional[int] = None) -> Dict[str, float]:
    """Mean Parzen-window log-likelihood of ``test`` under a KDE on ``samples``.

    Args:
        samples: generated samples (n, D), e.g. 10 000 flattened images in [0, 1].
        test: held-out real data (n_test, D), same scale as samples.
        sigma: Gaussian kernel width (choose it with :func:`parzen_select_sigma`).
        batch_size: test rows per distance block (memory ~ batch_size * n * 8 bytes).

    Returns:
        ``{"mean": mean ll (nats), "stderr": std(ll)/sqrt(n_test) (ddof=0), "sigma": sigma}``.
    """
    s, t, batch_size = _prepare(samples, test, "parzen_log_likelihood(samples)",
                                "parzen_log_likelihood(test)", batch_size)
    sig = _sigmas(sigma, "parzen_log_likelihood(sigma)")
    if sig.size != 1:
        raise GandiagError(f"parzen_log_likelihood(sigma): expected one value, got {sig.size}; "
                           "use parzen_select_sigma to choose among several")
    ll = _log_likelihoods(s, t, sig, batch_size)[0]
    return {"mean": float(ll.mean()), "stderr": float(ll.std() / np.sqrt(t.shape[0])), "sigma": float(sig[0])}


def parzen_select_sigma(samples, validation, sigmas: Sequence[float] = np.logspace(-1, 0, 10),
                        batch_size: Optional[int] = None) -> Dict[str, object]:
    """Choose the kernel width maximising the mean validation log-likelihood (Goodfellow et al. 2014).

    Args:
        samples: generated samples (n, D).
        validation: real validation rows (n_val, D), disjoint from the test set.
        sigmas: candidate widths (default ``numpy.logspace(-1, 0, 10)``, as in parzen_ll.py).
        batch_size: validation rows per distance block.

    Returns:
        ``{"sigma": best, "sigmas": [...], "mean_log_likelihoods": [...]}``; ties go to the first
        (numpy.argmax), as in the reference.
    """
    s, v, batch_size = _prepare(samples, validation, "parzen_select_sigma(samples)",
                                "parzen_select_sigma(validation)", batch_size)
    sig = _sigmas(sigmas, "parzen_select_sigma(sigmas)")
    means = _log_likelihoods(s, v, sig, batch_size).mean(axis=1)
    return {"sigma": float(sig[int(np.argmax(means))]), "sigmas": [float(x) for x in sig],
            "mean_log_likelihoods": [float(x) for x in means]}


# ------------------------------------------------------------------------------------ metric record
def _parzen_step(ctx):
    from ..images import flatten

    ctx.require_same_shape("parzen")
    held = ctx.heldout
    order = np.random.default_rng(ctx.options.seed).permutation(len(held))
    half = len(held) // 2
    validation, test = flatten(held.images[np.sort(order[:half])]), flatten(held.images[np.sort(order[half:])])
    samples = flatten(ctx.fake.images)
    chosen = parzen_select_sigma(samples, validation, sigmas=ctx.options.parzen_sigmas)
    result = parzen_log_likelihood(samples, test, chosen["sigma"])
    return {**result, "ci95": [result["mean"] - 1.96 * result["stderr"], result["mean"] + 1.96 * result["stderr"]],
            "sigmas": chosen["sigmas"], "validation_log_likelihoods": chosen["mean_log_likelihoods"],
            "num_samples": len(samples), "num_validation": len(validation), "num_test": len(test),
            "heldout": held.source, "space": "pixels"}


def _parzen_rows(r):
    from .record import Row, ci_text, fmt

    detail = f"{ci_text(r.get('ci95'))}\n± {fmt(r.get('stderr'))} s.e., σ = {fmt(r.get('sigma'))}"
    return [Row("parzen", fmt(r.get("mean")), detail, "pixels")]


def _register():
    from typing import Tuple

    from ..options import Option
    from .record import Metric, register_metric

    register_metric(Metric(
        "parzen", "Parzen-window log-likelihood (nats)", True, None,
        "Mean test log-likelihood under a Gaussian KDE on generated samples, sigma chosen on validation data; the "
        "2014 GAN paper's protocol, a poor likelihood estimate in high dimension.",
        "Goodfellow et al. Generative Adversarial Nets. NeurIPS 2014 (estimator: Breuleux, Bengio, Vincent 2011)",
        run=_parzen_step, feature_space="pixels", min_samples=2, needs_heldout=True,
        options=(Option("parzen_sigmas", Tuple[float, ...], tuple(float(s) for s in np.logspace(-1, 0, 10)),
                        "Parzen window widths searched on the validation half of the held-out data"),),
        rows=_parzen_rows,
        summary=lambda p: f"Parzen log-likelihood: {p['mean']:.1f} ± {p['stderr']:.1f} nats (sigma {p['sigma']:.3f})",
        section="Parzen-window log-likelihood", default_for=("mnist",),
        function="gandiag.metrics.parzen_log_likelihood", order=60))


_register()
