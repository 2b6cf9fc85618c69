"""Exact piecewise-polynomial arithmetic for the block-interference densities of
:mod:`toyforge.theory.families` (docs/solution_families.md#exact-block-losses).

A :class:`Piecewise` function is a sorted array of breakpoints ``b_0 < ... < b_n`` and one
polynomial per piece in the *local* variable ``t - anchor`` (ascending powers): row 0 is the
left extension (``t < b_0``, anchored at ``b_0``), rows ``1..n`` the pieces ``[b_{i-1}, b_i)``
anchored at their left end, row ``n + 1`` the right extension (``t >= b_n``, anchored at
``b_n``). Local coordinates keep every coefficient of the size of the function on a piece, so
the operations below (sum, shift, convolution with a uniform box, right-tail antiderivatives)
lose at most a digit or two each, never the ``2^m``-fold cancellation of the finite-difference
formula for sums of uniforms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Piecewise", "box_density", "convolve_box", "right_tail_integral"]

_MERGE_TOLERANCE = 1e-11


@dataclass(frozen=True, slots=True)
class Piecewise:
    """Piecewise polynomial (module docstring): ``breaks`` (n + 1,), ``coef`` (n + 2, deg + 1)."""

    breaks: np.ndarray
    coef: np.ndarray

    @property
    def anchors(self) -> np.ndarray:
        """Anchor of every row of ``coef``."""
        return np.concatenate([self.breaks[:1], self.breaks])

    def rows(self, t: np.ndarray) -> np.ndarray:
        """Row index of ``coef`` that applies at each ``t``."""
        return np.searchsorted(self.breaks, t, side="right")

    def __call__(self, t: np.ndarray | float) -> np.ndarray:
        t = np.asarray(t, float)
        index = self.rows(t)
        local = t - self.anchors[index]
        coef = self.coef[index]
        out = coef[..., -1].copy()
        for j in range(coef.shape[-1] - 2, -1, -1):
            out *= local
            out += coef[..., j]
        return out

    def scaled(self, factor: float) -> Piecewise:
        """``factor * self``."""
        return Piecewise(self.breaks, self.coef * factor)

    def shifted(self, delta: float) -> Piecewise:
        """``t -> self(t - delta)``."""
        return Piecewise(self.breaks + delta, self.coef)


def _taylor_shift(coef: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """Coefficients of ``q(s) = p(s + delta)`` per row (Horner-style repeated division)."""
    out = coef.copy()
    degree = out.shape[1] - 1
    for i in range(degree):
        for j in range(degree - 1, i - 1, -1):
            out[:, j] += delta * out[:, j + 1]
    return out


def _pad(coef: np.ndarray, width: int) -> np.ndarray:
    if coef.shape[1] >= width:
        return coef
    return np.concatenate([coef, np.zeros((coef.shape[0], width - coef.shape[1]))], axis=1)


def _merge_breaks(*arrays: np.ndarray) -> np.ndarray:
    values = np.sort(np.concatenate(arrays))
    keep = np.concatenate([[True], np.diff(values) > _MERGE_TOLERANCE * (1 + np.abs(values[1:]))])
    return values[keep]


def _restrict(f: Piecewise, breaks: np.ndarray, width: int) -> np.ndarray:
    """Coefficients of ``f`` on the pieces of a finer breakpoint set ``breaks``."""
    anchors = np.concatenate([breaks[:1], breaks])
    probes = np.concatenate([[breaks[0] - 1.0], 0.5 * (breaks[:-1] + breaks[1:]), [breaks[-1] + 1]])
    index = f.rows(probes)
    source = _pad(f.coef, width)[index]
    return _taylor_shift(source, anchors - f.anchors[index])


def add(*functions: Piecewise) -> Piecewise:
    """Sum of piecewise polynomials on the union of their breakpoints."""
    breaks = _merge_breaks(*(f.breaks for f in functions))
    width = max(f.coef.shape[1] for f in functions)
    coef = sum(_restrict(f, breaks, width) for f in functions)
    return Piecewise(breaks, coef)


def box_density(low: float, high: float) -> Piecewise:
    """Density of the uniform distribution on ``[low, high]``."""
    coef = np.array([[0.0], [1.0 / (high - low)], [0.0]])
    return Piecewise(np.array([low, high], float), coef)


def _integral_rows(coef: np.ndarray) -> np.ndarray:
    """Antiderivative coefficients (zero at the anchor) of each row."""
    powers = np.arange(1, coef.shape[1] + 1)
    return np.concatenate([np.zeros((coef.shape[0], 1)), coef / powers], axis=1)


def _row_values(coef: np.ndarray, local: np.ndarray) -> np.ndarray:
    out = coef[:, -1].copy()
    for j in range(coef.shape[1] - 2, -1, -1):
        out = out * local + coef[:, j]
    return out


def left_integral(f: Piecewise) -> Piecewise:
    """``F(t) = integral of f from -inf to t`` for ``f`` zero left of its support."""
    integ = _integral_rows(f.coef)
    lengths = np.diff(f.breaks)
    piece_totals = _row_values(integ[1:-1], lengths)
    start = np.concatenate([[0.0], np.cumsum(piece_totals)])
    integ[1:-1, 0] += start[:-1]
    integ[0] = 0.0
    integ[-1] = 0.0
    integ[-1, 0] = start[-1]
    return Piecewise(f.breaks.copy(), integ)


def convolve_box(f: Piecewise, width: float) -> Piecewise:
    """Density of ``T + width * U`` for ``T`` with density ``f`` and ``U ~ U[0, 1]``.

    ``(F(t - lo) - F(t - hi)) / (hi - lo)`` with ``F`` the left integral of ``f`` and
    ``[lo, hi]`` the range of ``width * U``; the right extension is exactly zero.
    """
    low, high = min(0.0, width), max(0.0, width)
    cumulative = left_integral(f)
    out = add(cumulative.shifted(low), cumulative.shifted(high).scaled(-1.0))
    coef = out.coef / (high - low)
    coef[-1] = 0.0
    coef[0] = 0.0
    return Piecewise(out.breaks, coef)


def right_tail_integral(f: Piecewise) -> Piecewise:
    """``R(y) = integral of f from y to +inf`` for ``f`` zero right of its support."""
    integ = _integral_rows(f.coef)
    lengths = np.diff(f.breaks)
    piece_totals = _row_values(integ[1:-1], lengths)
    tail = np.concatenate([np.cumsum(piece_totals[::-1])[::-1], [0.0]])  # R at each break
    coef = -integ
    coef[1:-1, 0] += piece_totals + tail[1:]
    coef[0, 0] += tail[0]
    coef[-1] = 0.0
    return Piecewise(f.breaks.copy(), coef)
