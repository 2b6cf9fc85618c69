"""Gaussian ReLU moments ``M_k(m) = E[(m + sigma z)_+^k]``, z ~ N(0, 1), for k = 0..3.

Closed forms (docs/large_n_theory.md#gaussian-relu-moments; derived and checked with sympy in
:mod:`toyforge.theory._derive`), with ``t = m / sigma``::

    M0(m) = Phi(t)
    M1(m) = m Phi(t) + sigma phi(t)
    M2(m) = (m^2 + sigma^2) Phi(t) + m sigma phi(t)
    M3(m) = (m^3 + 3 m sigma^2) Phi(t) + (m^2 + 2 sigma^2) sigma phi(t)

and ``d M_k / dm = k M_{k-1}``. Deep in the left tail (``t <= -12``) the closed forms cancel
catastrophically, so there ``M_k = sigma^k phi(t) h_k(-t)`` with the asymptotic series
``h_k(s) = sum_j (-1/2)^j (k + 2j)! / (j! s^(k + 2j + 1))`` (22 terms: relative error below
1e-15 for s >= 12). ``sigma = 0`` gives the exact limit ``M_k = max(m, 0)^k``.
Pure numpy/scipy; no sympy at call time.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erfcx

__all__ = ["GaussianReluMoments", "relu_moments"]

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TAIL_START = 12.0
_TAIL_TERMS = 22
_T_MAX = 1e150
_SQRT_HALF_PI = math.sqrt(0.5 * math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)


class GaussianReluMoments:
    """``M0..M3`` at ``+m`` and at ``-m`` from one evaluation of ``exp`` and ``erfcx``.

    Attributes ``plus`` and ``minus`` are tuples ``(M0, M1, M2, M3)`` of arrays shaped like the
    broadcast of ``mean`` and ``sigma``: ``plus[k] = M_k(m)``, ``minus[k] = M_k(-m)``.
    """

    __slots__ = ("minus", "plus")

    def __init__(self, mean: np.ndarray, sigma: np.ndarray) -> None:
        mean, sigma = np.broadcast_arrays(np.asarray(mean, float), np.asarray(sigma, float))
        upper, lower = _both_sides(mean.reshape(-1), sigma.reshape(-1))
        positive = (mean >= 0).reshape(-1)
        plus = tuple(
            np.where(positive, hi, lo).reshape(mean.shape)
            for hi, lo in zip(upper, lower, strict=True)
        )
        minus = tuple(
            np.where(positive, lo, hi).reshape(mean.shape)
            for hi, lo in zip(upper, lower, strict=True)
        )
        self.plus = plus
        self.minus = minus


def relu_moments(
    mean: np.ndarray | float, sigma: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(M0, M1, M2, M3)`` of ``(mean + sigma z)_+`` for z ~ N(0, 1).

    Parameters
    ----------
    mean, sigma : array_like
        Broadcastable arrays; ``sigma >= 0``.

    Returns
    -------
    tuple of four ndarrays
        ``E[1{y > 0}]``, ``E[y_+]``, ``E[y_+^2]``, ``E[y_+^3]`` with ``y = mean + sigma z``,
        each shaped like the broadcast of the inputs.
    """
    return GaussianReluMoments(mean, sigma).plus  # type: ignore[return-value]


def _both_sides(m: np.ndarray, sigma: np.ndarray) -> tuple[tuple, tuple]:
    """Moments at ``+|m|`` (all terms positive) and at ``-|m|`` (Mills-ratio form).

    With ``a = |m| / sigma``, ``phi = phi(a)`` and the Mills ratio
    ``R = Phi(-a) / phi(a) = sqrt(pi/2) erfcx(a / sqrt 2)``: at ``-|m|``,
    ``M_k = sigma^k phi h_k`` with ``h_0 = R``, ``h_1 = 1 - a R``, ``h_2 = R - a h_1``,
    ``h_3 = 2 h_1 - a h_2`` (series for ``a >= 12``; every ``h_k > 0``); at ``+|m|`` the
    identity ``(y)_+^k = y^k - (-1)^k (-y)_+^k`` with the raw Gaussian moments
    ``E[y] = x``, ``E[y^2] = x^2 + s^2``, ``E[y^3] = x^3 + 3 x s^2``::

        M0(x) = 1 - M0(-x),  M1(x) = x + M1(-x),
        M2(x) = x^2 + s^2 - M2(-x),  M3(x) = x (x^2 + 3 s^2) + M3(-x)

    (no cancellation: ``M_k(-x) <= M_k(x)`` for ``x >= 0``).
    """
    absolute = np.abs(m)
    if np.all(sigma > 0):
        sd = sigma
        with np.errstate(over="ignore"):
            a = np.minimum(absolute / sd, _T_MAX)
    else:
        sd = np.where(sigma > 0, sigma, 0.0)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            a = np.where(sd > 0, absolute / np.where(sd > 0, sd, 1.0), _T_MAX)
        a = np.minimum(a, _T_MAX)
    with np.errstate(under="ignore"):
        density = np.exp(-0.5 * (a * a))
        density *= _INV_SQRT_2PI
    mills = erfcx(a * _INV_SQRT_2)
    mills *= _SQRT_HALF_PI
    tail = density * mills  # Phi(-a)
    h1 = 1.0 - a * mills
    h2 = mills - a * h1
    h3 = 2.0 * h1 - a * h2
    deep = a >= _TAIL_START
    if np.any(deep):
        h1[deep], h2[deep], h3[deep] = _tail_series(a[deep])
    with np.errstate(under="ignore"):
        scaled = sd * density
        sd2 = sd * sd
        lower = (tail, scaled * h1, (sd * scaled) * h2, (sd2 * scaled) * h3)
    x = absolute
    upper = (1.0 - tail, x + lower[1], (x * x + sd2) - lower[2], x * (x * x + 3.0 * sd2) + lower[3])
    return upper, lower


def _series_coefficients(k: int) -> tuple[float, ...]:
    """``(-1/2)^j (k + 2j)! / j!`` for ``j < _TAIL_TERMS`` (module docstring)."""
    out = [float(math.factorial(k))]
    for j in range(_TAIL_TERMS - 1):
        out.append(out[-1] * -0.5 * (k + 2 * j + 1) * (k + 2 * j + 2) / (j + 1))
    return tuple(out)


_SERIES = {k: _series_coefficients(k) for k in (1, 2, 3)}


def _tail_series(s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``h_1, h_2, h_3`` by the asymptotic series of the module docstring (``s >= 12``).

    Horner's scheme in ``1 / s^2``: ``h_k = s^-(k+1) sum_j c_kj (1/s^2)^j``.
    """
    out = []
    with np.errstate(under="ignore"):  # far terms may underflow harmlessly
        inv_s = 1.0 / s
        inv_s2 = inv_s * inv_s
        for k in (1, 2, 3):
            coefficients = _SERIES[k]
            total = np.full_like(s, coefficients[-1])
            for coefficient in coefficients[-2::-1]:
                total *= inv_s2
                total += coefficient
            out.append(total * inv_s ** (k + 1))
    return out[0], out[1], out[2]
