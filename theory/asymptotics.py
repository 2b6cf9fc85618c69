"""High-sparsity asymptotics of the large-N loss at fixed ratio
(docs/large_n_theory.md#high-sparsity-laws).

Leading law::

    L ~ (1/r - 1) p^2 ln(1/p) / 6

Refined (small-sigma expansion of docs/large_n_theory.md#the-closed-form-loss)::

    L ~ sigma^2 [p (1 + u^2/4) + F2(u)],   F2(u) = (1 + u^2) Phi(-u) - u phi(u),
    u solves phi(u) - u Phi(-u) = p u / 4,

with ``sigma^2 = (1/r - 1)(p/3 - p^2/4)``. The refined law is accurate to 25% at p = 1e-2 and
to 0.05% at 1e-8 (docs/large_n_theory.md#high-sparsity-laws); the leading law converges slowly
(log-log corrections).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erfcx

from toyforge.theory.large_n_loss import interference_sigma

__all__ = ["leading_asymptotic_loss", "refined_asymptotic_loss", "threshold_u"]

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def leading_asymptotic_loss(
    ratio: np.ndarray | float, feature_prob: np.ndarray | float
) -> np.ndarray:
    """``(1/r - 1) p^2 ln(1/p) / 6`` (docs/large_n_theory.md#high-sparsity-laws). Arguments
    broadcast."""
    r = np.asarray(ratio, float)
    p = np.asarray(feature_prob, float)
    return (1.0 / r - 1.0) * p * p * np.log(1.0 / p) / 6.0


def _excess_mean(u: np.ndarray) -> np.ndarray:
    """``E[(z - u)_+] = phi(u) - u Phi(-u) = phi(u) (1 - u R(u))``, R the Mills ratio."""
    mills = math.sqrt(math.pi / 2.0) * erfcx(u / math.sqrt(2.0))
    with np.errstate(under="ignore"):
        return _INV_SQRT_2PI * np.exp(-0.5 * u * u) * (1.0 - u * mills)


def threshold_u(feature_prob: np.ndarray | float) -> np.ndarray:
    """Root ``u > 0`` of ``phi(u) - u Phi(-u) = p u / 4``
    (docs/large_n_theory.md#high-sparsity-laws), by bisection."""
    p = np.asarray(feature_prob, float)
    low = np.zeros_like(p)
    high = np.full_like(p, 40.0)
    for _ in range(80):
        middle = 0.5 * (low + high)
        above = _excess_mean(middle) > p * middle / 4.0
        low = np.where(above, middle, low)
        high = np.where(above, high, middle)
    return 0.5 * (low + high)


def refined_asymptotic_loss(
    ratio: np.ndarray | float, feature_prob: np.ndarray | float
) -> np.ndarray:
    """``sigma^2 [p (1 + u^2/4) + F2(u)]`` with u from :func:`threshold_u`
    (docs/large_n_theory.md#high-sparsity-laws)."""
    p = np.asarray(feature_prob, float)
    sigma = interference_sigma(ratio, p)
    u = threshold_u(p)
    mills = math.sqrt(math.pi / 2.0) * erfcx(u / math.sqrt(2.0))
    with np.errstate(under="ignore"):
        density = _INV_SQRT_2PI * np.exp(-0.5 * u * u)
    false_positives = density * ((1.0 + u * u) * mills - u)
    return sigma * sigma * (p * (1.0 + u * u / 4.0) + false_positives)
