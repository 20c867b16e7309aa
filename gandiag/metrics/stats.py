"""Streaming float64 feature statistics (mean and covariance) for FID.

:class:`FeatureStats` accumulates ``(count, mean, M2)`` where
``M2 = sum_i (x_i - mean)(x_i - mean)^T`` is the centred scatter matrix. Batches
and partial results are combined with the pairwise update of Chan, Golub &
LeVeque (1979)::

    n    = n_a + n_b
    d    = mean_b - mean_a
    mean = mean_a + d * n_b / n
    M2   = M2_a + M2_b + outer(d, d) * n_a * n_b / n

This is numerically sound (no ``E[xx^T] - mu mu^T`` cancellation) and makes
streaming, merging and batch size give the same result as one pass over the
concatenated features, up to float64 rounding.

Speed: :meth:`FeatureStats.update` does not run the pairwise update per batch (an
O(D^2) pass per batch: 2048^2 doubles for every batch of 50 images). Rows are
copied, in float64 and minus a fixed *shift* K (the mean of the first batch), into
a block of ``BLOCK_ROWS`` rows; each full block is added to a shifted scatter
``S = sum (x - K)(x - K)^T`` by one BLAS ``dsyrk`` that accumulates in place (one
triangle, half the flops of a general product, no temporary D x D matrix). When the
statistics are read or merged, the block accumulator becomes a centred
``(n, mean, M2)`` with ``mean = K + s/n`` and ``M2 = S - s s^T / n`` (``s`` the sum
of the shifted rows; K is close to the mean, so the subtraction loses no digits) and
joins the state by the pairwise update above. Float32 features are never copied
whole to float64, unlike ``numpy.cov``.

Covariance convention: ``cov = M2 / (count - 1)`` (the unbiased N-1 denominator),
the same as ``numpy.cov(x, rowvar=False)`` and pytorch-fid.

Distributed use: every rank calls :meth:`FeatureStats.to_arrays`, the arrays
are *all-gathered* (not all-reduced: ``mean`` and ``M2`` are not plain sums),
and each rank rebuilds them with :meth:`FeatureStats.from_arrays` and merges
them in rank order with :meth:`FeatureStats.merge`.
"""
from __future__ import annotations

import os
from typing import Dict, Optional, Union

import numpy as np

from ..errors import GandiagError
from ..fileio import atomic_save_npz
from ._checks import as_matrix, check_int

FORMAT_VERSION = 1
_STATE_KEYS = ("count", "mean", "m2")
# Rows per dsyrk call: large enough for BLAS-3 speed (measured: 1024 rows reach the
# throughput of one whole-array product), small enough (16 MiB at D=2048) to stay flat.
BLOCK_ROWS = 1024


class FeatureStats:
    """Streaming float64 mean / covariance of (N, D) feature batches.

    Args:
        dim: feature dimension D (e.g. 2048 for InceptionV3 pool3).

    Example:
        >>> stats = FeatureStats(2048)
        >>> for batch in batches:          # each (n, 2048)
        ...     stats.update(batch)
        >>> mu, sigma = stats.mean, stats.cov
    """

    def __init__(self, dim: int):
        self.dim = check_int(dim, "FeatureStats(dim)", minimum=1)
        self._count = 0
        self._mean = np.zeros(self.dim, dtype=np.float64)
        # None while count == 0 (allocated by the first pairwise update).
        self._m2: Optional[np.ndarray] = None
        # Pending block accumulator (see the module doc): shift K, buffered shifted rows,
        # and n, s = sum(x - K), S = sum (x - K)(x - K)^T (lower triangle, Fortran order).
        self._shift: Optional[np.ndarray] = None
        self._block: Optional[np.ndarray] = None
        self._block_rows = 0
        self._acc_n = 0
        self._acc_sum: Optional[np.ndarray] = None
        self._acc_s: Optional[np.ndarray] = None
        # Set only for statistics loaded from a plain pytorch-fid mu/sigma file:
        # those have no count/M2, so they can be used for FID but never merged.
        self._fixed_cov: Optional[np.ndarray] = None

    # ------------------------------------------------------------------ state
    @property
    def count(self) -> Optional[int]:
        """Number of feature rows seen; None for plain mu/sigma files (count unknown)."""
        return None if self._fixed_cov is not None else self._count + self._acc_n + self._block_rows

    @property
    def mergeable(self) -> bool:
        """False for statistics loaded from a plain pytorch-fid mu/sigma file."""
        return self._fixed_cov is None

    @property
    def mean(self) -> np.ndarray:
        """Mean feature vector, shape (D,), float64."""
        self._fold()
        if self._fixed_cov is None and self._count == 0:
            raise GandiagError("FeatureStats.mean: no features yet; call update(feats) first")
        return self._mean.copy()

    @property
    def cov(self) -> np.ndarray:
        """Covariance, shape (D, D), float64, with the N-1 denominator (like numpy.cov)."""
        if self._fixed_cov is not None:
            return self._fixed_cov.copy()
        self._fold()
        if self._count < 2:
            raise GandiagError(f"FeatureStats.cov: needs at least 2 feature rows, got {self._count}; "
                               "the N-1 covariance of fewer rows is undefined")
        return self._m2 / (self._count - 1)

    # --------------------------------------------------------------- updating
    def _require_mergeable(self, what: str) -> None:
        if self._fixed_cov is not None:
            raise GandiagError(
                f"FeatureStats.{what}: these statistics were loaded from a plain mu/sigma file "
                "(pytorch-fid format) that has no sample count, so they cannot be updated or merged; "
                "recompute them from features, or save them with FeatureStats.save() which keeps the count")

    def _combine(self, n_b: int, mean_b: np.ndarray, m2_b: np.ndarray, *, owned: bool = False) -> None:
        """Pairwise update with another (n, mean, M2); ``owned``: m2_b may be kept without a copy."""
        if n_b == 0:
            return
        n_a = self._count
        if n_a == 0:
            self._count, self._mean = n_b, mean_b.copy()
            self._m2 = m2_b if owned else m2_b.copy()
            return
        n = n_a + n_b
        delta = mean_b - self._mean
        self._mean = self._mean + delta * (n_b / n)
        # Chan et al. pairwise update of the centred scatter matrix (in place: no D x D temporaries
        # beyond the outer product).
        self._m2 += m2_b
        self._m2 += np.outer(delta, delta * (n_a * n_b / n))
        self._count = n

    def _flush_block(self) -> None:
        """Add the buffered shifted rows to the block accumulator (one in-place dsyrk)."""
        rows = self._block_rows
        if rows == 0:
            return
        from scipy.linalg.blas import dsyrk

        block = self._block[:rows]
        if self._acc_s is None:
            self._acc_s = np.zeros((self.dim, self.dim), dtype=np.float64, order="F")
            self._acc_sum = np.zeros(self.dim, dtype=np.float64)
        # block (rows, D) C-order is block.T (D, rows) in Fortran order, so no copy is made;
        # S += block^T block into the lower triangle of the Fortran-ordered S, in place.
        out = dsyrk(1.0, block.T, beta=1.0, c=self._acc_s, trans=0, lower=1, overwrite_c=1)
        if out is not self._acc_s:  # pragma: no cover - f2py copies only for a mis-laid-out c
            self._acc_s = out
        self._acc_sum += block.sum(axis=0)
        self._acc_n += rows
        self._block_rows = 0

    def _fold(self) -> None:
        """Turn the pending block accumulator into centred (n, mean, M2) and merge it (Chan et al.)."""
        if self._block_rows == 0 and self._acc_n == 0:
            return
        self._flush_block()
        n = self._acc_n
        s = self._acc_sum
        # The Fortran-ordered lower triangle of S is the C-ordered upper triangle of S.T.
        half = self._acc_s.T
        m2 = np.triu(half)
        m2 += np.triu(half, 1).T
        m2 -= np.outer(s, s / n)  # M2 = S - s s^T / n
        mean = self._shift + s / n
        self._acc_n, self._acc_sum, self._acc_s, self._block, self._shift = 0, None, None, None, None
        self._combine(n, mean, m2, owned=True)

    def update(self, feats) -> "FeatureStats":
        """Add a batch of features.

        Args:
            feats: (N, D) array (any float dtype; accumulated in float64).

        Returns:
            self, so calls can be chained.
        """
        self._require_mergeable("update")
        # float32 stays float32 here: rows are upcast block by block below.
        x = as_matrix(feats, "FeatureStats.update(feats)", dim=self.dim, min_rows=0, dtype=None)
        n_b = x.shape[0]
        if n_b == 0:
            return self
        if self._shift is None:
            # Any fixed shift is exact; one near the mean keeps S - s s^T / n free of cancellation.
            self._shift = self._mean.copy() if self._count else x.mean(axis=0, dtype=np.float64)
        if self._block is None:
            self._block = np.empty((min(BLOCK_ROWS, max(n_b, 64)), self.dim), dtype=np.float64)
        lo = 0
        while lo < n_b:
            if self._block_rows == self._block.shape[0]:
                self._flush_block()
                if self._block.shape[0] < BLOCK_ROWS:  # a second block: the stream is long, use full ones
                    self._block = np.empty((BLOCK_ROWS, self.dim), dtype=np.float64)
            take = min(n_b - lo, self._block.shape[0] - self._block_rows)
            # Upcast and shift in one pass, straight into the block.
            np.subtract(x[lo:lo + take], self._shift, out=self._block[self._block_rows:self._block_rows + take])
            self._block_rows += take
            lo += take
        return self

    def merge(self, other: "FeatureStats") -> "FeatureStats":
        """Merge another accumulator into this one (== concatenating their features).

        Returns:
            self.
        """
        if not isinstance(other, FeatureStats):
            raise GandiagError(f"FeatureStats.merge: expected a FeatureStats, got {type(other).__name__}")
        self._require_mergeable("merge")
        other._require_mergeable("merge")
        if other.dim != self.dim:
            raise GandiagError(f"FeatureStats.merge: dimension mismatch ({self.dim} vs {other.dim}); "
                               "both must come from the same extractor/layer")
        self._fold()
        other._fold()
        self._combine(other._count, other._mean, other._m2)
        return self

    def __add__(self, other: "FeatureStats") -> "FeatureStats":
        if not isinstance(other, FeatureStats):
            return NotImplemented
        return self.copy().merge(other)

    def copy(self) -> "FeatureStats":
        self._fold()
        out = FeatureStats(self.dim)
        out._count = self._count
        out._mean = self._mean.copy()
        out._m2 = None if self._m2 is None else self._m2.copy()
        out._fixed_cov = None if self._fixed_cov is None else self._fixed_cov.copy()
        return out

    # ---------------------------------------------------------- constructors
    @classmethod
    def from_features(cls, feats) -> "FeatureStats":
        """One-shot statistics of an (N, D) feature array."""
        x = as_matrix(feats, "FeatureStats.from_features(feats)")
        return cls(x.shape[1]).update(x)

    def to_arrays(self) -> Dict[str, np.ndarray]:
        """Merge state as float64 arrays: ``count`` (scalar), ``mean`` (D,), ``m2`` (D, D).

        All-gather these across ranks and merge with :meth:`from_arrays` +
        :meth:`merge`; do not sum them.
        """
        self._require_mergeable("to_arrays")
        self._fold()
        m2 = np.zeros((self.dim, self.dim)) if self._m2 is None else self._m2.copy()
        return {"count": np.asarray(float(self._count)), "mean": self._mean.copy(), "m2": m2}

    @classmethod
    def from_arrays(cls, arrays) -> "FeatureStats":
        """Rebuild an accumulator from :meth:`to_arrays` output (numpy arrays or CPU tensors)."""
        missing = [k for k in _STATE_KEYS if k not in arrays]
        if missing:
            raise GandiagError(f"FeatureStats.from_arrays: missing keys {missing}; expected {list(_STATE_KEYS)} "
                               "as produced by FeatureStats.to_arrays()")
        count = float(np.asarray(arrays["count"]).reshape(()))
        if not np.isfinite(count) or count < 0 or count != int(count):
            raise GandiagError(f"FeatureStats.from_arrays: count must be a non-negative integer, got {count}")
        mean = np.asarray(arrays["mean"], dtype=np.float64)
        m2 = np.asarray(arrays["m2"], dtype=np.float64)
        if mean.ndim != 1 or m2.shape != (mean.shape[0], mean.shape[0]):
            raise GandiagError(f"FeatureStats.from_arrays: inconsistent shapes mean {mean.shape}, m2 {m2.shape}; "
                               "expected (D,) and (D, D)")
        if not (np.isfinite(mean).all() and np.isfinite(m2).all()):
            raise GandiagError("FeatureStats.from_arrays: mean or m2 contains NaN or Inf")
        out = cls(mean.shape[0])
        out._count = int(count)
        out._mean = mean.copy()
        out._m2 = m2.copy()
        return out

    # -------------------------------------------------------------- file I/O
    def save(self, path: Union[str, os.PathLike]) -> None:
        """Write ``path`` atomically as .npz with ``mu``, ``sigma`` (pytorch-fid compatible) + merge state.

        pytorch-fid (``np.load(path)['mu']``, ``['sigma']``) reads the file as is;
        ``count`` and ``m2`` let :meth:`load` restore a mergeable accumulator.
        """
        self._require_mergeable("save")
        self._fold()
        if self._count < 2:
            raise GandiagError(f"FeatureStats.save: needs at least 2 feature rows to define sigma, got {self._count}")
        atomic_save_npz(path, {
            "mu": self._mean, "sigma": self.cov,
            "count": np.asarray(self._count, dtype=np.int64), "m2": self._m2,
            "gandiag_featurestats_version": np.asarray(FORMAT_VERSION, dtype=np.int64),
        })

    @classmethod
    def load(cls, path: Union[str, os.PathLike]) -> "FeatureStats":
        """Read a file written by :meth:`save`, or a plain pytorch-fid ``mu``/``sigma`` .npz.

        Plain mu/sigma files give statistics usable for FID whose :attr:`count`
        is None; updating or merging them raises :class:`GandiagError`.
        """
        if not os.path.exists(path):
            raise GandiagError(f"FeatureStats.load: no such file {str(path)!r}")
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except Exception as exc:
            raise GandiagError(f"FeatureStats.load: cannot read {str(path)!r} as .npz ({exc})") from None
        if "mu" not in arrays or "sigma" not in arrays:
            raise GandiagError(f"FeatureStats.load: {str(path)!r} has keys {sorted(arrays)}, expected 'mu' and "
                               "'sigma' (pytorch-fid format) or a file written by FeatureStats.save()")
        if "count" in arrays and "m2" in arrays:
            out = cls.from_arrays({"count": arrays["count"], "mean": arrays["mu"], "m2": arrays["m2"]})
            _check_sigma_agrees(out, arrays["sigma"], path)  # pytorch-fid reads sigma: both must say the same
            return out
        mu = np.asarray(arrays["mu"], dtype=np.float64)
        sigma = np.asarray(arrays["sigma"], dtype=np.float64)
        if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
            raise GandiagError(f"FeatureStats.load: {str(path)!r} has mu {mu.shape} and sigma {sigma.shape}; "
                               "expected (D,) and (D, D)")
        if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
            raise GandiagError(f"FeatureStats.load: {str(path)!r} contains NaN or Inf")
        out = cls(mu.shape[0])
        out._mean = mu
        out._m2 = None
        out._fixed_cov = sigma
        return out

    def __repr__(self) -> str:
        count = "unknown (plain mu/sigma)" if self._fixed_cov is not None else self.count
        return f"FeatureStats(dim={self.dim}, count={count})"


def _check_sigma_agrees(stats: "FeatureStats", sigma, path) -> None:
    """A file holding both ``sigma`` and the merge state (``count``, ``m2``) is read by two kinds of
    tools: pytorch-fid uses ``sigma``, gandiag ``m2 / (count - 1)``. If they disagree the file was
    edited or corrupted, and whichever we picked, one tool would report a wrong FID: refuse it."""
    sigma = np.asarray(sigma, dtype=np.float64)
    if sigma.shape != (stats.dim, stats.dim):
        raise GandiagError(f"FeatureStats.load: {str(path)!r} has sigma {sigma.shape} but m2 "
                           f"{(stats.dim, stats.dim)}; the file is inconsistent: recompute it")
    if not np.isfinite(sigma).all():
        raise GandiagError(f"FeatureStats.load: {str(path)!r}: sigma contains NaN or Inf; recompute the file")
    if stats.count is None or stats.count < 2:
        raise GandiagError(f"FeatureStats.load: {str(path)!r} counts {stats.count} rows; sigma needs at least 2")
    cov = stats.cov
    scale = max(float(np.abs(cov).max()), 1e-300)
    if not np.allclose(sigma, cov, rtol=1e-6, atol=1e-9 * scale):
        worst = float(np.abs(sigma - cov).max())
        raise GandiagError(f"FeatureStats.load: {str(path)!r}: sigma disagrees with m2/(count-1) (max difference "
                           f"{worst:.3g}); the file was edited or corrupted: recompute it, or keep only mu and sigma")
