"""Feature and data-point dimensionalities of a trained or built model.

Definitions (docs/memorisation.md#dimensionality):

* feature dimensionality (Elhage et al. 2022, "Toy Models of Superposition")
  ``D_i = ‖W_i‖² / Σ_j (Ŵ_i·W_j)²`` for the columns W_i of W (shape m x n); sticky values 1,
  3/4, 2/3, 1/2, 2/5, 3/8; 0 for a column that is not learned;
* dimensions per feature ``D* = m / ‖W‖_F²`` (same paper);
* interference (superposition) of feature i, ``Σ_{j≠i} (Ŵ_i·W_j)²`` (same paper);
* data-point dimensionality (Henighan et al. 2023) ``D_{X_i} = ‖h_i‖² / Σ_j (ĥ_i·h_j)²`` for
  the hidden vectors h_i = W x_i of the training points (rows of H, shape T x m); a regular
  T-gon in m = 2 gives 2/T;
* maximal data dimensionality (Olah's comment in Henighan et al. 2023; Hobbhahn 2023)
  ``D*_i = sup_v (v·h_i)² / Σ_j (v·h_j)² = h_iᵀ (HᵀH)⁺ h_i``, the statistical leverage of row i
  of H; 0 <= D*_i <= 1 and Σ_i D*_i = rank(H).
"""

from __future__ import annotations

import numpy as np

from toyforge.core.errors import InvalidParameter

__all__ = [
    "data_dimensionality",
    "dimensions_per_feature",
    "feature_dimensionality",
    "feature_interference",
    "max_data_dimensionality",
]


def _matrix(name: str, value: object) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim != 2 or array.size == 0:
        raise InvalidParameter(name, np.shape(value), "a non-empty 2-D array")
    if not np.all(np.isfinite(array)):
        raise InvalidParameter(name, "non-finite entries", "finite numbers")
    return array


def _row_dimensionality(vectors: np.ndarray) -> np.ndarray:
    """``‖v_i‖² / Σ_j (v̂_i·v_j)²`` for the rows v_i; 0 for zero rows."""
    norms = np.linalg.norm(vectors, axis=1)
    safe = np.where(norms > 0, norms, 1.0)
    unit = vectors / safe[:, None]
    overlaps = unit @ vectors.T
    denominator = np.sum(overlaps * overlaps, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        result = np.where(norms > 0, norms**2 / np.where(denominator > 0, denominator, 1.0), 0.0)
    return result


def feature_dimensionality(W: object) -> np.ndarray:
    """``D_i`` of every feature (column of ``W``).

    Parameters
    ----------
    W : array, shape (n_hidden, n_features)
        Feature directions as columns (``ReluAutoencoder.W_in``).

    Returns
    -------
    ndarray, shape (n_features,)
        Values in [0, 1]; 0 for a zero column.
    """
    return _row_dimensionality(_matrix("W", W).T)


def feature_interference(W: object) -> np.ndarray:
    """``Σ_{j≠i} (Ŵ_i·W_j)²`` for every feature (0 for a zero column), shape (n_features,)."""
    columns = _matrix("W", W).T
    norms = np.linalg.norm(columns, axis=1)
    unit = columns / np.where(norms > 0, norms, 1.0)[:, None]
    overlaps = unit @ columns.T
    total = np.sum(overlaps * overlaps, axis=1) - np.where(norms > 0, norms**2, 0.0)
    return np.maximum(total, 0.0)


def dimensions_per_feature(W: object) -> float:
    """``D* = m / ‖W‖_F²`` for W of shape (m, n); inf for a zero matrix."""
    matrix = _matrix("W", W)
    squared = float(np.sum(matrix * matrix))
    return float("inf") if squared == 0 else matrix.shape[0] / squared


def data_dimensionality(hidden: object) -> np.ndarray:
    """``D_{X_i}`` of every training point from its hidden vector.

    Parameters
    ----------
    hidden : array, shape (n_points, n_hidden)
        ``h_i = W x_i`` for each training point.

    Returns
    -------
    ndarray, shape (n_points,)
    """
    return _row_dimensionality(_matrix("hidden", hidden))


def max_data_dimensionality(hidden: object) -> np.ndarray:
    """``D*_i = h_iᵀ (HᵀH)⁺ h_i``, the leverage of each row of H.

    Parameters
    ----------
    hidden : array, shape (n_points, n_hidden)

    Returns
    -------
    ndarray, shape (n_points,)
        Values in [0, 1] summing to rank(H).
    """
    H = _matrix("hidden", hidden)
    # leverage = squared row norms of the left singular vectors of the numerical range of H
    left, singular, _ = np.linalg.svd(H, full_matrices=False)
    tolerance = singular.max(initial=0.0) * max(H.shape) * np.finfo(np.float64).eps
    kept = left[:, singular > tolerance]
    return np.clip(np.sum(kept * kept, axis=1), 0.0, 1.0)
