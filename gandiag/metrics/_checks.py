"""Input checks shared by the metric functions (one place, actionable messages).

Every metric validates its arrays here, so a user mistake (1-D input, wrong
feature dimension, NaN/Inf, too few rows) always produces the same kind of
:class:`~gandiag.errors.GandiagError` naming the argument, what was received
and what to do.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..errors import GandiagError


def as_matrix(x, name: str, *, min_rows: int = 1, dim: Optional[int] = None,
              dtype=np.float64) -> np.ndarray:
    """Return ``x`` as a finite 2-D ``dtype`` array of shape (N, D).

    Args:
        x: array-like (numpy array, list, CPU torch tensor).
        name: argument name used in error messages.
        min_rows: smallest accepted N.
        dim: required D, or None for any.
        dtype: result dtype (float64 for statistics); None keeps float32/float64 as given
            (and turns integers/bools into float64), for large inputs upcast block-wise.

    Raises:
        GandiagError: not 2-D, wrong D, too few rows, non-numeric, NaN or Inf.
    """
    try:
        arr = np.asarray(x)
    except Exception as exc:  # e.g. a CUDA tensor or a ragged list
        raise GandiagError(f"{name}: cannot convert {type(x).__name__} to a numpy array ({exc}); "
                           "pass a numpy array or a CPU tensor (tensor.cpu().numpy())") from None
    if arr.ndim != 2:
        hint = " (reshape a single vector with x.reshape(1, -1), or a flat batch with x.reshape(len(x), -1))"
        raise GandiagError(f"{name}: expected a 2-D array of shape (N, D), got {arr.ndim}-D "
                           f"shape {arr.shape}{hint}")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
            or arr.dtype == np.bool_):
        raise GandiagError(f"{name}: expected numbers, got dtype {arr.dtype}")
    if dim is not None and arr.shape[1] != dim:
        raise GandiagError(f"{name}: expected feature dimension D={dim}, got shape {arr.shape}; "
                           "both sides must come from the same extractor/layer")
    if arr.shape[0] < min_rows:
        raise GandiagError(f"{name}: needs at least {min_rows} rows, got {arr.shape[0]} "
                           f"(shape {arr.shape}); use more samples")
    if dtype is None:
        dtype = arr.dtype if arr.dtype in (np.float32, np.float64) else np.float64
    arr = np.asarray(arr, dtype=dtype)
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).any(axis=1).sum())
        raise GandiagError(f"{name}: contains NaN or Inf in {bad} of {arr.shape[0]} rows; "
                           "check the extractor input (images in [0, 1]?) or drop those rows")
    return arr


def as_vector(x, name: str, *, length: Optional[int] = None) -> np.ndarray:
    """Return ``x`` as a finite 1-D float64 array (optionally of a given length)."""
    arr = np.asarray(x, dtype=np.float64) if not isinstance(x, np.ndarray) else x.astype(np.float64, copy=False)
    if arr.ndim != 1:
        raise GandiagError(f"{name}: expected a 1-D vector, got shape {arr.shape}")
    if length is not None and arr.shape[0] != length:
        raise GandiagError(f"{name}: expected length {length}, got {arr.shape[0]}; "
                           "both statistics must come from the same extractor/layer")
    if not np.isfinite(arr).all():
        raise GandiagError(f"{name}: contains NaN or Inf")
    return arr


def check_int(value, name: str, *, minimum: int, maximum: Optional[int] = None, hint: str = "") -> int:
    """Return ``value`` as int if it is an integer in [minimum, maximum]."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise GandiagError(f"{name}: expected an integer, got {value!r}")
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f" and <= {maximum}"
        raise GandiagError(f"{name}: must be >= {minimum}{upper}, got {value}{hint}")
    return value


def default_chunk_rows(columns: int, budget_bytes: int = 256 << 20) -> int:
    """Rows per block so that a (rows, columns) float64 block fits ``budget_bytes``."""
    return max(1, min(8192, budget_bytes // (8 * max(1, columns))))


def sq_norms(x: np.ndarray) -> np.ndarray:
    """Squared row norms, computed like scikit-learn's ``row_norms(squared=True)``."""
    return np.einsum("ij,ij->i", x, x)
