"""FID-infinity: the effectively unbiased FID of Chong & Forsyth (2020).

"Effectively Unbiased FID and Inception Score and where to find them" (CVPR 2020)
shows that FID_N computed from N generated samples is, to first order, linear
in 1/N: ``FID_N = FID_inf + slope / N``. Their procedure (mchong6/FID_IS_infinity,
``calculate_FID_infinity``): evaluate FID on random subsets of sizes
``linspace(5000, N, 15)``, fit a least-squares line of FID against 1/N and report
the intercept (the value at 1/N = 0).

Differences from the reference code, on purpose: the subsets come from a
seeded ``RandomState`` (the reference shuffles with the global numpy state,
cumulatively, exactly as done here when seeded identically); the real
covariance is factored once and reused for every subset.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np

from ..errors import GandiagError
from ._checks import as_matrix, as_vector, check_int
from .frechet import _as_covariance, psd_factor, trace_sqrt_product, trace_sqrt_product_rows


def default_subset_sizes(n: int, num_points: int = 15) -> np.ndarray:
    """Reference sizes ``linspace(5000, N, num_points)``; start at N // 2 when N < 10000."""
    start = 5000 if n >= 10000 else max(2, n // 2)
    return np.unique(np.linspace(start, n, num_points).astype(np.int64))


def fid_infinity(fake_feats, real_mu, real_sigma, *, ns: Optional[Sequence[int]] = None,
                 num_points: int = 15, seed: int = 0) -> Dict[str, object]:
    """Extrapolate FID to infinitely many generated samples (Chong & Forsyth 2020).

    For each size n in ``ns``: shuffle the rows of ``fake_feats`` in place-style
    with ``np.random.RandomState(seed)`` (cumulative shuffles, as the reference
    code does with ``np.random.shuffle``), take the first n rows, compute
    ``FID_n`` against (real_mu, real_sigma); then fit ``FID_n = a + b / n`` by
    least squares and return ``a``.

    Args:
        fake_feats: generated-sample features, shape (N, D).
        real_mu: real mean (D,); real_sigma: real covariance (D, D).
        ns: subset sizes (each 2..N, at least 2 distinct); default
            :func:`default_subset_sizes` (``linspace(5000, N, 15)`` for N >= 10000).
        num_points: number of sizes when ``ns`` is None.
        seed: seed of the subset shuffles.

    Returns:
        ``{"fid_inf": a, "slope": b, "ns": [...], "fids": [...]}`` (python floats/ints).
    """
    x = as_matrix(fake_feats, "fid_infinity(fake_feats)", min_rows=4)
    n_total, dim = x.shape
    mu_r = as_vector(real_mu, "fid_infinity(real_mu)", length=dim)
    sigma_r, tol = _as_covariance(real_sigma, "fid_infinity(real_sigma)", dim)
    seed = check_int(seed, "fid_infinity(seed)", minimum=0)
    if ns is None:
        num_points = check_int(num_points, "fid_infinity(num_points)", minimum=2)
        sizes = default_subset_sizes(n_total, num_points)
    else:
        sizes = np.asarray(ns)
        if sizes.ndim != 1 or not np.issubdtype(sizes.dtype, np.integer):
            raise GandiagError(f"fid_infinity(ns): expected a 1-D list of integers, got {ns!r}")
        if sizes.min() < 2 or sizes.max() > n_total:
            raise GandiagError(f"fid_infinity(ns): sizes must lie in [2, {n_total}] (the number of fake rows), "
                               f"got min {sizes.min()} max {sizes.max()}")
        sizes = sizes.astype(np.int64)
    if len(np.unique(sizes)) < 2:
        raise GandiagError(f"fid_infinity: need at least 2 distinct subset sizes to fit a line, got {sizes.tolist()} "
                           f"(N={n_total}); pass ns=[...] or more fake samples")

    factor_r = psd_factor(sigma_r, "fid_infinity(real_sigma)", tol)
    tr_r = float(np.trace(sigma_r))
    rng = np.random.RandomState(seed)
    order = np.arange(n_total)
    fids = []
    for n in sizes:
        rng.shuffle(order)  # same draws as np.random.shuffle(activations) in the reference
        sub = x[order[:n]]
        mu_f = sub.mean(axis=0)
        centred = sub - mu_f
        diff = mu_f - mu_r
        tr_f = float(np.einsum("ij,ij->", centred, centred)) / (n - 1)
        if n <= dim:  # singular subset covariance: the rows give the exact trace (no eigenvalue floor)
            tr_sqrt = trace_sqrt_product_rows(factor_r, centred)
        else:
            sigma_f = centred.T @ centred / (n - 1)
            tr_sqrt = trace_sqrt_product(factor_r, sigma_f, "fid_infinity(fake_feats covariance)", tol)
        fids.append(max(float(diff @ diff + tr_f + tr_r - 2.0 * tr_sqrt), 0.0))
    inv_n = 1.0 / sizes.astype(np.float64)
    design = np.stack([np.ones_like(inv_n), inv_n], axis=1)
    (intercept, slope), *_ = np.linalg.lstsq(design, np.asarray(fids), rcond=None)
    return {"fid_inf": float(intercept), "slope": float(slope),
            "ns": [int(n) for n in sizes], "fids": [float(f) for f in fids]}


# ------------------------------------------------------------------------------------ metric record
def _fid_inf_step(ctx):
    name = ctx.default_extractor()
    ref = ctx.ref_stats(name)
    out = fid_infinity(ctx.features(name, "fake"), ref.mean, ref.cov, seed=ctx.options.seed)
    return {**out, "extractor": name}


def _fid_inf_rows(r):
    from .record import Row, fmt

    ns = r.get("ns") or []
    detail = f"fit over N = {fmt(min(ns))}…{fmt(max(ns))}" if ns else ""
    return [Row("fid-inf", fmt(r.get("fid_inf")), detail, str(r.get("extractor", "")))]


def _register():
    from .record import Metric, register_metric

    register_metric(Metric(
        "fid-inf", "FID extrapolated to infinite samples (FID∞)", False, None,
        "Intercept of a line fitted to FID on random subsets against 1/N; removes the sample-size bias of FID. "
        "Extrapolation can go slightly below 0.",
        "Chong, Forsyth. Effectively Unbiased FID and Inception Score and where to find them. CVPR 2020",
        run=_fid_inf_step, min_samples=10, aliases=("fid_inf",), rows=_fid_inf_rows,
        summary=lambda r: f"FID-infinity: {r['fid_inf']:.3f}", section="FID against sample size",
        function="gandiag.metrics.fid_infinity", order=12))


_register()
