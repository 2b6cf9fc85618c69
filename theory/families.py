"""Exact losses of block solution families of the ReLU-output autoencoder.

docs/solution_families.md#exact-block-losses. A *block family* puts ``k`` features on ``k``
unit vectors ``w_1..w_k`` of a ``d``-dimensional polytope (``d`` hidden neurons per block,
``d / k`` per feature), ``W_in`` = the vectors, ``W_out = s W_in^T`` and one bias ``b = s c``
per output, so feature ``i`` reads out::

    y_i = ReLU(s (x_i + T_i + c)),   T_i = sum_{j != i} G_ij x_j,   G = Gram matrix,

with ``x_j = Bernoulli(p) * U[0, 1)`` independent (Elhage et al. 2022, "Toy Models of
Superposition"; TMS). All polytopes here are vertex-transitive, so one feature's loss is the
per-feature loss. Conditioning on which of the other ``K = k - 1`` features are active (``m``
of them, probability weight ``p^m (1 - p)^(K - m)``) the interference ``T`` is a weighted sum
of uniforms with a piecewise-polynomial density; :mod:`toyforge.theory._piecewise` builds the
sum over subsets of those densities exactly, and every needed expectation is a truncated power
moment ``E[(T + c + e)_+^n]`` (``e`` in {0, 1}, ``n`` in {2, 3}), read off right-tail
antiderivatives. With ``A2(t) = E_u[(u + t)_+^2]`` and ``A1(t) = E_u[u (u + t)_+]``::

    L(s, c) = s^2 Q(c) - 2 s P(c) + p/3,
    Q = p E[A2(T + c)] + (1 - p) E[(T + c)_+^2],   P = p E[A1(T + c)],

so ``s* = P / Q`` and ``L*(c) = p/3 - P^2 / Q``; ``c`` is minimised numerically (grid plus
local parabolic refinement, vectorised over ``p``). The ``m = 0`` term is evaluated in direct
form (no cancellation at small ``p``). No Monte Carlo anywhere.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from toyforge.core.errors import InvalidParameter
from toyforge.theory._piecewise import (
    Piecewise,
    add,
    box_density,
    convolve_box,
    right_tail_integral,
)

__all__ = [
    "EQUIVALENT",
    "FAMILIES",
    "AsymmetricDigon",
    "BlockFamily",
    "FamilyOptimum",
    "dropped_loss",
    "family",
    "family_loss",
    "asymmetric_digon_optimum",
    "family_optimum",
    "interference_densities",
]

_ZERO_WEIGHT = 1e-12
_C_LOW, _C_HIGH, _C_POINTS = -1.5, 2.5, 161


@dataclass(frozen=True, kw_only=True, slots=True)
class BlockFamily:
    """A polytope block: ``name``, ``vectors`` (k, d) unit rows, derived Gram and counts."""

    name: str
    vectors: np.ndarray

    @property
    def k(self) -> int:
        """Features per block."""
        return int(self.vectors.shape[0])

    @property
    def d(self) -> int:
        """Hidden neurons per block."""
        return int(self.vectors.shape[1])

    @property
    def dims_per_feature(self) -> float:
        """``d / k``."""
        return self.d / self.k

    @property
    def gram(self) -> np.ndarray:
        """``G = V V^T`` (ones on the diagonal)."""
        return self.vectors @ self.vectors.T

    @property
    def interference_weights(self) -> np.ndarray:
        """``G_0j`` for ``j != 0`` (feature 0 stands for every feature)."""
        return self.gram[0, 1:]


def _polygon(k: int) -> np.ndarray:
    angles = 2.0 * math.pi * np.arange(k) / k
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _simplex(d: int) -> np.ndarray:
    """``d + 1`` unit vectors in ``R^d`` with pairwise cosine ``-1/d``."""
    corners = np.eye(d + 1) - 1.0 / (d + 1)
    basis = np.linalg.svd(corners)[2][:d]  # orthonormal basis of the sum-zero plane
    points = corners @ basis.T
    return points / np.linalg.norm(points, axis=1, keepdims=True)


def _cross_polytope(d: int) -> np.ndarray:
    return np.concatenate([np.eye(d), -np.eye(d)])


def _square_antiprism() -> np.ndarray:
    """Equal-edge square antiprism on the unit sphere: ``h^2 = rho^2 sqrt(2)/4``."""
    rho2 = 1.0 / (1.0 + math.sqrt(2.0) / 4.0)
    rho, height = math.sqrt(rho2), math.sqrt(1.0 - rho2)
    angles = np.pi / 2 * np.arange(4)
    top = np.stack([rho * np.cos(angles), rho * np.sin(angles), np.full(4, height)], axis=1)
    turned = angles + np.pi / 4
    bottom = np.stack([rho * np.cos(turned), rho * np.sin(turned), np.full(4, -height)], axis=1)
    return np.concatenate([top, bottom])


_POLYGON_NAMES = {
    3: "triangle",
    4: "square",
    5: "pentagon",
    6: "hexagon",
    7: "heptagon",
    8: "octagon",
    9: "nonagon",
    10: "decagon",
    11: "hendecagon",
    12: "dodecagon",
}
_SIMPLEX_NAMES = {3: "tetrahedron", 4: "5-cell", 5: "5-simplex", 6: "6-simplex"}


def _catalogue() -> dict[str, BlockFamily]:
    out = {"digon": BlockFamily(name="digon", vectors=np.array([[1.0], [-1.0]]))}
    for k, name in _POLYGON_NAMES.items():
        out[name] = BlockFamily(name=name, vectors=_polygon(k))
    for d, name in _SIMPLEX_NAMES.items():
        out[name] = BlockFamily(name=name, vectors=_simplex(d))
    out["octahedron"] = BlockFamily(name="octahedron", vectors=_cross_polytope(3))
    out["16-cell"] = BlockFamily(name="16-cell", vectors=_cross_polytope(4))
    out["square-antiprism"] = BlockFamily(name="square-antiprism", vectors=_square_antiprism())
    return out


FAMILIES: dict[str, BlockFamily] = _catalogue()
"""Every polytope block family by name (dedicated and dropped are handled separately)."""

EQUIVALENT = {"square": "digon", "octahedron": "digon", "16-cell": "digon"}
"""Families whose every feature sees exactly a digon's interference (one antipode, the other
neighbours orthogonal): same dims per feature and same loss as the digon."""


def family(name: str) -> BlockFamily:
    """The block family called ``name`` (InvalidParameter naming the choices otherwise)."""
    if name not in FAMILIES:
        raise InvalidParameter("family", name, "one of " + ", ".join(FAMILIES))
    return FAMILIES[name]


def dropped_loss(feature_prob: np.ndarray | float) -> np.ndarray:
    """Loss ``p/3 - p^2/4`` of a dropped feature whose output is the best constant ``p/2``."""
    p = np.asarray(feature_prob, float)
    return p / 3.0 - p * p / 4.0


@dataclass(frozen=True, slots=True)
class _SubsetMoments:
    """For ``m`` active others: atom at 0 and the right-tail integrals ``R3``, ``R4``."""

    count: float
    atom: float
    tail3: Piecewise | None
    tail4: Piecewise | None

    def truncated(self, y: np.ndarray, power: int) -> np.ndarray:
        """``sum over subsets of E[(T + y)_+^power]`` for ``power`` in {2, 3}."""
        out = self.atom * np.maximum(y, 0.0) ** power
        tail = self.tail3 if power == 2 else self.tail4
        if tail is not None:
            out = out + math.factorial(power) * tail(-y)
        return out


def interference_densities(weights: np.ndarray) -> list[tuple[float, Piecewise | None]]:
    """Sum over size-m subsets of the others of (atom at 0, continuous density), m = 0..K."""
    table: list[tuple[float, Piecewise | None]] = [(1.0, None)]
    for weight in weights:
        new = [table[0]]
        for m in range(1, len(table) + 1):
            atom, dens = table[m] if m < len(table) else (0.0, None)
            prev_atom, prev_dens = table[m - 1]
            if abs(weight) < _ZERO_WEIGHT:
                atom += prev_atom
                parts = [f for f in (dens, prev_dens) if f is not None]
            else:
                parts = [f for f in (dens,) if f is not None]
                if prev_atom:
                    parts.append(box_density(min(0.0, weight), max(0.0, weight)).scaled(prev_atom))
                if prev_dens is not None:
                    parts.append(convolve_box(prev_dens, weight))
            new.append((atom, add(*parts) if parts else None))
        table = new
    return table


@functools.lru_cache(maxsize=64)
def _moment_table(name: str) -> tuple[_SubsetMoments, ...]:
    """Moment tables of a family, or of ``"partner:<w>"``: one other feature at weight ``-w``."""
    if name.startswith("partner:"):
        weights = np.array([-float(name.split(":", 1)[1])])
    else:
        weights = FAMILIES[name].interference_weights
    out = []
    for m, (atom, dens) in enumerate(interference_densities(weights)):
        tail3 = tail4 = None
        if dens is not None:
            tail1 = right_tail_integral(dens)
            tail2 = right_tail_integral(tail1)
            tail3 = right_tail_integral(tail2)
            tail4 = right_tail_integral(tail3)
        out.append(_SubsetMoments(math.comb(len(weights), m), atom, tail3, tail4))
    return tuple(out)


def _direct_active(scale: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``E_u[(s (u + c)_+ - u)^2]`` in closed form (no other feature active)."""
    a = np.clip(-c, 0.0, 1.0)
    alpha, beta = scale - 1.0, scale * c
    return (
        a**3 / 3.0
        + alpha * alpha * (1.0 - a**3) / 3.0
        + alpha * beta * (1.0 - a * a)
        + beta * beta * (1.0 - a)
    )


def _subset_terms(moments: _SubsetMoments, c: np.ndarray) -> tuple[np.ndarray, ...]:
    """(E A2, E A1, E (T + c)_+^2) summed over the subsets of one size."""
    cube1 = moments.truncated(c + 1.0, 3)
    cube0 = moments.truncated(c, 3)
    square1 = moments.truncated(c + 1.0, 2)
    a2 = (cube1 - cube0) / 3.0
    a1 = -cube1 / 6.0 + square1 / 2.0 + cube0 / 6.0
    return a2, a1, moments.truncated(c, 2)


def _weights(p: np.ndarray, n_others: int) -> list[np.ndarray]:
    return [p**m * (1.0 - p) ** (n_others - m) for m in range(n_others + 1)]


def _all_terms(name: str, c: np.ndarray) -> list[tuple[np.ndarray, ...]]:
    """(E A2, E A1, E (T + c)_+^2) for every number m of active others (depends on c only)."""
    return [_subset_terms(moments, c) for moments in _moment_table(name)]


@functools.lru_cache(maxsize=64)
def _grid_terms(name: str) -> tuple[np.ndarray, list]:
    """The p-independent terms on the common c grid (computed once per family)."""
    grid = np.linspace(_C_LOW, _C_HIGH, _C_POINTS)
    terms = _all_terms(name, grid)
    for part in terms:
        for array in part:
            array.flags.writeable = False
    return grid, terms


def _combine(
    name: str, terms: list, c: np.ndarray, p: np.ndarray, scale: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(L(s, c), s)``; ``s = s*(c)`` unless given. ``terms`` from :func:`_all_terms`."""
    table = _moment_table(name)
    weights = _weights(p, len(table) - 1)
    if scale is None:
        q = sum(w * (p * a2 + (1 - p) * sq) for w, (a2, _, sq) in zip(weights, terms, strict=True))
        cross = sum(w * p * a1 for w, (_, a1, _) in zip(weights, terms, strict=True))
        scale = np.where(q > 0, cross / np.where(q > 0, q, 1.0), 0.0)
    inactive0 = scale**2 * np.maximum(c, 0) ** 2
    total = weights[0] * (p * _direct_active(scale, c) + (1 - p) * inactive0)
    for m in range(1, len(table)):
        a2, a1, sq = terms[m]
        active = scale**2 * a2 - 2.0 * scale * a1 + table[m].count / 3.0
        total = total + weights[m] * (p * active + (1 - p) * scale**2 * sq)
    return np.maximum(total, 0.0), scale


def _loss_at(name: str, scale: np.ndarray, c: np.ndarray, p: np.ndarray) -> np.ndarray:
    return _combine(name, _all_terms(name, c), c, p, scale)[0]


def _profile(name: str, c: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(L*(c), s*(c))`` with the optimal scale for each c."""
    return _combine(name, _all_terms(name, c), c, p)


def family_loss(name: str, scale: float, bias: float, feature_prob: float) -> float:
    """Exact per-feature loss of family ``name`` at a given scale ``s`` and bias ``b = s c``."""
    fam = family(name)
    if scale <= 0:
        raise InvalidParameter("scale", scale, "a positive number")
    c = np.array([bias / scale])
    return float(_loss_at(fam.name, np.array([scale]), c, np.array([float(feature_prob)]))[0])


@dataclass(frozen=True, kw_only=True, slots=True)
class FamilyOptimum:
    """Optimal scale, bias and loss of a family, arrays over ``feature_prob``."""

    name: str
    dims_per_feature: float
    loss: np.ndarray
    scale: np.ndarray
    bias: np.ndarray


def refine_minimum(profile, grid: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Minimiser in c of ``profile(c)[0]`` per row, from its values on a grid.

    ``values`` (n, n_grid) on the common ``grid``; then two rounds of a 9-point local grid
    around the parabolic vertex through the best point and its neighbours (each round shrinks
    the spacing 8-fold), keeping the best value seen. ``profile`` takes c of shape (n, j).
    """
    rows = np.arange(values.shape[0])
    best = np.argmin(values, axis=1)
    c = grid[best]
    f = values[rows, best]
    step = grid[1] - grid[0]
    for _ in range(2):
        local = c[:, None] + step * np.linspace(-1.0, 1.0, 9)[None, :]
        vals = profile(local)[0]
        k = np.clip(np.argmin(vals, axis=1), 1, 7)
        y0, y1, y2 = vals[rows, k - 1], vals[rows, k], vals[rows, k + 1]
        h = step / 4.0
        denominator = y0 - 2.0 * y1 + y2
        with np.errstate(divide="ignore", invalid="ignore"):
            shift = np.where(denominator > 0, 0.5 * h * (y0 - y2) / denominator, 0.0)
        candidate = local[rows, k] + np.clip(shift, -h, h)
        value = profile(candidate[:, None])[0][:, 0]
        take_local = vals[rows, k] < value
        candidate = np.where(take_local, local[rows, k], candidate)
        value = np.where(take_local, vals[rows, k], value)
        improved = value < f
        c, f = np.where(improved, candidate, c), np.where(improved, value, f)
        step = h / 2.0
    return c


def _optimum(name: str, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(loss, scale, c) optimised for each p, for a family or ``"partner:<w>"`` name."""
    grid, terms = _grid_terms(name)
    values, _ = _combine(name, terms, grid, p[:, None])
    c = refine_minimum(lambda x: _profile(name, x, p[:, None]), grid, values)
    loss, scale = _profile(name, c, p)
    return loss, scale, c


_ASYMMETRY_GRID = tuple(float(v) for v in np.geomspace(0.1, 1.0, 17))


@dataclass(frozen=True, kw_only=True, slots=True)
class AsymmetricDigon:
    """Asymmetric digon optimum per ``p``: the pair ``+h, -lambda h`` on one neuron, each feature
    with its own scale and bias (arrays over ``feature_prob``).

    Feature ``a`` reads ``ReLU(s_a (x_a - lambda x_b + c_a))``, feature ``b`` reads
    ``ReLU(s_b (x_b - x_a / lambda + c_b))``; ``loss`` is the mean over the two.
    """

    loss: np.ndarray
    asymmetry: np.ndarray
    scale_a: np.ndarray
    bias_a: np.ndarray
    scale_b: np.ndarray
    bias_b: np.ndarray
    dims_per_feature: float = 0.5


def asymmetric_digon_optimum(feature_prob: np.ndarray | float) -> AsymmetricDigon:
    """The asymmetric digon (docs/solution_families.md#asymmetric-digons), optimised.

    For a partner weight ``w`` let ``L1(w)`` be the optimised loss of a feature whose one
    partner enters with weight ``-w`` (exact, as every block here); the pair's loss per
    feature is ``(L1(lambda) + L1(1/lambda)) / 2``, minimised over 17 geometric values of
    ``lambda`` in [0.1, 1] (``lambda = 1`` is the digon), each exact.
    """
    p = np.atleast_1d(np.asarray(feature_prob, float))
    best = None
    for lam in _ASYMMETRY_GRID:
        loss_a, scale_a, c_a = _optimum(f"partner:{lam!r}", p)
        loss_b, scale_b, c_b = _optimum(f"partner:{1.0 / lam!r}", p)
        value = 0.5 * (loss_a + loss_b)
        row = (value, np.full(p.size, lam), scale_a, scale_a * c_a, scale_b, scale_b * c_b)
        if best is None:
            best = [np.array(v, float) for v in row]
            continue
        better = value < best[0]
        best = [np.where(better, new, old) for new, old in zip(row, best, strict=True)]
    assert best is not None
    return AsymmetricDigon(
        loss=best[0],
        asymmetry=best[1],
        scale_a=best[2],
        bias_a=best[3],
        scale_b=best[4],
        bias_b=best[5],
    )


def family_optimum(name: str, feature_prob: np.ndarray | float) -> FamilyOptimum:
    """Loss of family ``name`` with scale and bias optimised, for each ``feature_prob``.

    A grid of 161 threshold offsets ``c`` in [-1.5, 2.5] (the same for every ``p``, so the
    p-independent moment tables are evaluated once), then :func:`refine_minimum` (c to about
    1e-6, the loss to about 1e-12 relative).
    """
    fam = family(name)
    p = np.atleast_1d(np.asarray(feature_prob, float))
    loss, scale, c = _optimum(fam.name, p)
    return FamilyOptimum(
        name=fam.name,
        dims_per_feature=fam.dims_per_feature,
        loss=loss,
        scale=scale,
        bias=scale * c,
    )
