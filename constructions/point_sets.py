"""Validation of point sets and their targets, shared by the dictionary constructions
(:mod:`toyforge.constructions.dictionary`) and the decompiler
(:mod:`toyforge.constructions.decompile`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from toyforge.core.errors import InvalidParameter

__all__ = ["check_points", "check_targets"]


def check_points(name: str, value: Any, min_rows: int = 1) -> np.ndarray:
    """``value`` as a finite float64 array of shape (n_points >= min_rows, dim >= 1)."""
    array = np.asarray(value, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] < min_rows or array.shape[1] < 1:
        raise InvalidParameter(name, np.shape(value), f"a 2-D array with >= {min_rows} rows")
    if not np.all(np.isfinite(array)):
        raise InvalidParameter(name, "non-finite entries", "finite numbers")
    return array


def check_targets(name: str, value: Any, n_rows: int) -> np.ndarray:
    """``value`` as a finite float64 array of shape (n_rows, n_outputs); 1-D means one output."""
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[0] != n_rows:
        raise InvalidParameter(name, np.shape(value), f"shape ({n_rows},) or ({n_rows}, C)")
    if not np.all(np.isfinite(array)):
        raise InvalidParameter(name, "non-finite entries", "finite numbers")
    return array
