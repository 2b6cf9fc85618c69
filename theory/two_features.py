"""Two features in one hidden dimension: the exact phase diagram (Wattenberg's small models).

docs/non_uniform_features.md#two-features-in-one-dimension. Two features ``x_1, x_2``, each
active with probability ``s`` (the density) and then U[0, 1), independent; the second feature
carries importance ``r`` relative to the first. One hidden neuron, ``y = ReLU(W_out W_in x + b)``
with ``W_in`` of shape (1, 2), ``W_out`` (2, 1). The loss is the importance-weighted sum over
both features of ``E[(y_i - x_i)^2]`` (Elhage et al. 2022, "Toy Models of Superposition", phase
diagram of n = 2, m = 1; closed forms from Wattenberg's "Exploring exact toy models" notebook):

* **drop the second** (``W_in = (1, 0)``, ``W_out = (1, 0)^T``, ``b = (0, s/2)``): the second
  output is its mean, loss ``r (s/3 - s^2/4)``;
* **drop the first**: ``s/3 - s^2/4``;
* **antipodal** (``W_in = (1, -1)``, ``W_out = (1, -1)^T``, ``b = 0``): ``y_1 = ReLU(x_1 - x_2)``
  errs only when both are active, by ``min(x_1, x_2)``; ``E[min(u, v)^2] = 1/6``, loss
  ``(1 + r) s^2 / 6``.

The antipodal layout beats dropping the less important feature when
``min(r, 1/r) > 2 s / (4 - 5 s)`` (:func:`antipodal_boundary`), which needs ``s < 4/7``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toyforge.core.errors import InvalidParameter

__all__ = [
    "TWO_FEATURE_LAYOUTS",
    "TwoFeatureDiagram",
    "antipodal_boundary",
    "two_feature_diagram",
    "two_feature_layout",
    "two_feature_losses",
]

TWO_FEATURE_LAYOUTS = ("drop-second", "drop-first", "antipodal")
"""The three candidate optima, in the order of the ``phase`` index."""


def _check(density: np.ndarray, importance: np.ndarray) -> None:
    if np.any(~((density > 0) & (density <= 1))):
        raise InvalidParameter(
            "density", density[~((density > 0) & (density <= 1))][0], "0 < s <= 1"
        )
    if np.any(~(np.isfinite(importance) & (importance >= 0))):
        raise InvalidParameter("relative_importance", importance.min(), "finite, >= 0")


def two_feature_losses(
    density: np.ndarray | float, relative_importance: np.ndarray | float
) -> np.ndarray:
    """Losses of the three layouts, stacked on a last axis in :data:`TWO_FEATURE_LAYOUTS` order.

    Parameters
    ----------
    density, relative_importance : array_like
        Broadcastable ``s`` in (0, 1] and ``r >= 0``.

    Returns
    -------
    ndarray, shape broadcast(s, r) + (3,)
    """
    s, r = np.broadcast_arrays(np.asarray(density, float), np.asarray(relative_importance, float))
    _check(s, r)
    dropped = s / 3.0 - s**2 / 4.0
    return np.stack([r * dropped, dropped, (1.0 + r) * s**2 / 6.0], axis=-1)


def two_feature_layout(name: str, density: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights ``(W_in (1, 2), W_out (2, 1), b (2,))`` of a layout at density ``s``."""
    if name not in TWO_FEATURE_LAYOUTS:
        raise InvalidParameter("layout", name, "one of " + ", ".join(TWO_FEATURE_LAYOUTS))
    s = float(density)
    if name == "antipodal":
        return np.array([[1.0, -1.0]]), np.array([[1.0], [-1.0]]), np.zeros(2)
    keep = 0 if name == "drop-second" else 1
    w_in = np.zeros((1, 2))
    w_in[0, keep] = 1.0
    bias = np.full(2, s / 2.0)
    bias[keep] = 0.0
    return w_in, w_in.T.copy(), bias


def antipodal_boundary(density: np.ndarray | float) -> np.ndarray:
    """The relative importance ``r = 2 s / (4 - 5 s)`` (``r <= 1`` side) where the antipodal
    layout ties with dropping the second feature; between it and its reciprocal the antipodal
    layout wins, so an antipodal phase exists only for ``s < 4/7`` (where the boundary is
    below 1). ``inf`` when ``s >= 4/5`` (the formula's pole)."""
    s = np.asarray(density, float)
    with np.errstate(divide="ignore"):
        return np.where(5.0 * s < 4.0, 2.0 * s / np.maximum(4.0 - 5.0 * s, 1e-300), np.inf)


@dataclass(frozen=True, kw_only=True, slots=True)
class TwoFeatureDiagram:
    """The phase diagram on a grid: ``losses`` (n_r, n_s, 3), ``phase`` (index of the best
    layout in :data:`TWO_FEATURE_LAYOUTS`), ``loss`` (the minimum)."""

    density: np.ndarray
    relative_importance: np.ndarray
    losses: np.ndarray
    phase: np.ndarray
    loss: np.ndarray


def two_feature_diagram(density: np.ndarray, relative_importance: np.ndarray) -> TwoFeatureDiagram:
    """Phase diagram over a density axis and a relative-importance axis (1-D each)."""
    s = np.atleast_1d(np.asarray(density, float))
    r = np.atleast_1d(np.asarray(relative_importance, float))
    losses = two_feature_losses(s[None, :], r[:, None])
    return TwoFeatureDiagram(
        density=s,
        relative_importance=r,
        losses=losses,
        phase=np.argmin(losses, axis=-1),
        loss=losses.min(axis=-1),
    )
