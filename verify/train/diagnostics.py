"""What a trained ReLU autoencoder does with each feature: the *silent* features.

A feature ``i`` of ``y = ReLU(W_out W_in x + b)`` is **silent** when its own output stays zero
whenever it is the only active feature, at any value in (0, 1]: with
``d_i = (W_out W_in)_ii`` the output is ``ReLU(x_i d_i + b_i)``, which is zero for every
``x_i ∈ (0, 1]`` exactly when ``b_i ≤ 0`` and ``d_i + b_i ≤ 0``. A silent output gets no
gradient from the samples where its feature is active (the ReLU is off there), so once an
output falls silent, Adam cannot bring it back: the run settles in a local minimum in which
the feature is dropped, and each silent feature adds its whole ``E[x_i²]`` to the loss.

This is why trained baselines sit far above the large-N theory at very sparse points (see
``docs/training.md#silent-features``): the run has converged, to a worse minimum. Reporting
the count beside every trained loss says which of the two a gap is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from toyforge.core.errors import InvalidParameter

__all__ = ["silent_feature_mask", "silent_features"]


def silent_feature_mask(model: Any) -> np.ndarray:
    """Boolean mask, shape (n_features,): the features whose output is silent.

    Parameters
    ----------
    model : ReluAutoencoder
        Tied or untied (anything with ``W_in`` (m, n), ``W_out`` (n, m) and ``b`` (n,)).

    Returns
    -------
    ndarray of bool
        ``b_i ≤ 0 and (W_out W_in)_ii + b_i ≤ 0`` (module docstring).
    """
    try:
        W_in, W_out, b = model.W_in, model.W_out, model.b
    except AttributeError:
        raise InvalidParameter(
            "model", type(model).__name__, "a ReLU autoencoder (W_in, W_out, b)"
        ) from None
    W_in, W_out, b = np.asarray(W_in), np.asarray(W_out), np.asarray(b)
    diagonal = np.einsum("ih,hi->i", W_out, W_in)
    return (b <= 0) & (diagonal + b <= 0)


def silent_features(model: Any) -> int:
    """Number of silent features of ``model`` (:func:`silent_feature_mask`)."""
    return int(np.count_nonzero(silent_feature_mask(model)))
