"""Structured rugs: polytope blocks whose directions form a Walsh–Hadamard frame.

docs/solution_families.md#structured-rugs. Group the ``n`` features into blocks of ``k`` with a
fixed polytope (:mod:`toyforge.theory.families`) inside each block and embed the ``d`` block
directions of every block in the ``m = r n`` hidden neurons with a random subset of
Walsh–Hadamard rows, as the Persian rug (Cowsik, Dolev, Infanger 2024, arXiv:2410.12101) does
for single features. ``n d / k`` frame directions share ``m`` neurons: the *block ratio* is
``r_b = r k / d`` (needs ``r <= d / k``). Inside a block the interference is exact; the other
blocks add, at large N, a Gaussian ``sigma z`` to every readout with::

    sigma^2 = (1 / r_b - 1) (k / d) (p/3 - p^2/4)

(the frame's off-diagonal weights have squared sum ``1 / r_b - 1`` per direction; a block's
hidden vector ``h = sum_j x_j w_j`` has ``E[|h|^2] = k (p/3 - p^2/4)`` spread over ``d``
directions because the polytope vectors sum to zero). ``k = 1`` is the Persian rug; the
**pair rug** is the digon, ``k = 2, d = 1``: ``r_b = 2 r`` and
``sigma^2 = (1/(2r) - 1)(2p/3 - p^2/2)``.

Loss: conditioning on the block interference ``T``, feature ``i`` is the Persian rug's reduced
scalar model at offset ``c + T`` (:func:`toyforge.theory.large_n_loss.reduced_loss`), so::

    L(s, c) = E_T[ L_reduced(s, c + T; sigma, p) ],   s* = E_T[E xR] / E_T[E R^2].

The pair rug has ``T = -u`` with probability ``p`` (else 0) and closes in Gaussian ReLU moments
up to ``M4`` (:func:`pair_rug_optimum`, vectorised for grids). Larger blocks integrate the exact
piecewise-polynomial density of ``T`` with Gauss–Legendre nodes (:func:`structured_rug_loss`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from toyforge.core.errors import InvalidParameter
from toyforge.theory._gauss import GaussianReluMoments
from toyforge.theory.families import family, interference_densities, refine_minimum
from toyforge.theory.large_n_loss import reduced_expectations, reduced_loss

__all__ = [
    "RugOptimum",
    "block_ratio",
    "pair_rug_loss",
    "pair_rug_optimum",
    "rug_sigma",
    "structured_rug_loss",
    "structured_rug_optimum",
]

_C_GRID = np.linspace(-1.2, 1.2, 33)
_GL_NODES = 16


def block_ratio(name: str, ratio: np.ndarray | float) -> np.ndarray:
    """``r_b = r k / d`` for blocks of family ``name``."""
    fam = family(name)
    return np.asarray(ratio, float) * fam.k / fam.d


def rug_sigma(name: str, ratio: np.ndarray | float, feature_prob: np.ndarray | float) -> np.ndarray:
    """Between-block interference ``sigma`` (module docstring); 0 at ``r_b = 1``."""
    fam = family(name)
    rb = block_ratio(name, ratio)
    p = np.asarray(feature_prob, float)
    variance = (fam.k / fam.d) * (p / 3.0 - p * p / 4.0)
    return np.sqrt(np.maximum(1.0 / rb - 1.0, 0.0) * variance)


def _moments4(mean: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, ...]:
    """``M0..M4`` of ``(mean + sigma z)_+``; ``M4`` by ``m M3 + 3 sigma^2 M2`` on the negative
    side (every term positive there after the one-sided identity) and
    ``E[y^4] - M4(-m)`` on the positive side."""
    both = GaussianReluMoments(mean, sigma)
    mean, sigma = np.broadcast_arrays(np.asarray(mean, float), np.asarray(sigma, float))
    x = np.abs(mean)
    s2 = sigma * sigma
    neg = tuple(np.where(mean >= 0, mn, pl) for pl, mn in zip(both.plus, both.minus, strict=True))
    m4_neg = np.maximum(-x * neg[3] + 3.0 * s2 * neg[2], 0.0)
    m4_pos = x**4 + 6.0 * x * x * s2 + 3.0 * s2 * s2 - m4_neg
    m4 = np.where(mean >= 0, m4_pos, m4_neg)
    return (*both.plus, m4)


def _pair_terms(c: np.ndarray, sigma: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, ...]:
    """Partner-active averages over its value ``v ~ U[0,1)``: (E A2, E A1, E M2(c - v))."""
    at = {shift: _moments4(c + shift, sigma) for shift in (1.0, 0.0, -1.0)}
    cube1 = (at[1.0][4] - at[0.0][4]) / 4.0  # E_v M3(c + 1 - v)
    cube0 = (at[0.0][4] - at[-1.0][4]) / 4.0  # E_v M3(c - v)
    square1 = (at[1.0][3] - at[0.0][3]) / 3.0  # E_v M2(c + 1 - v)
    square0 = (at[0.0][3] - at[-1.0][3]) / 3.0  # E_v M2(c - v)
    a2 = (cube1 - cube0) / 3.0
    a1 = -cube1 / 6.0 + square1 / 2.0 + cube0 / 6.0
    return a2, a1, square0


def _pair_profile(c: np.ndarray, sigma: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(L*(c), s*(c))`` of the pair rug."""
    cross0, square0 = reduced_expectations(c, sigma, p)
    a2, a1, sq = _pair_terms(c, sigma, p)
    q = (1 - p) * square0 + p * (p * a2 + (1 - p) * sq)
    cross = (1 - p) * cross0 + p * p * a1
    scale = np.where(q > 0, cross / np.where(q > 0, q, 1.0), 0.0)
    return _pair_loss(scale, c, sigma, p, a2, a1, sq), scale


def _pair_loss(scale, c, sigma, p, a2, a1, sq) -> np.ndarray:
    partner_off = reduced_loss(scale, c, sigma, p)
    partner_on = p * (scale**2 * a2 - 2 * scale * a1 + 1.0 / 3.0) + (1 - p) * scale**2 * sq
    return np.maximum((1 - p) * partner_off + p * partner_on, 0.0)


def pair_rug_loss(
    scale: np.ndarray | float,
    bias: np.ndarray | float,
    ratio: np.ndarray | float,
    feature_prob: np.ndarray | float,
) -> np.ndarray:
    """Large-N pair-rug loss at scale ``s`` and bias ``b = s c`` (``ratio <= 1/2``)."""
    scale, bias, ratio, p = np.broadcast_arrays(
        *(np.asarray(v, float) for v in (scale, bias, ratio, feature_prob))
    )
    c = bias / scale
    sigma = rug_sigma("digon", ratio, p)
    return _pair_loss(scale, c, sigma, p, *_pair_terms(c, sigma, p))


@dataclass(frozen=True, kw_only=True, slots=True)
class RugOptimum:
    """Optimal scale, bias (``s c``), loss and sigma of a structured rug (arrays)."""

    loss: np.ndarray
    scale: np.ndarray
    bias: np.ndarray
    sigma: np.ndarray


def pair_rug_optimum(ratio: np.ndarray | float, feature_prob: np.ndarray | float) -> RugOptimum:
    """Pair rug with scale and bias optimised at every (ratio, feature_prob), vectorised.

    ``ratio`` in (0, 1/2] (at 1/2 the frame is complete and the pair rug is the digon).
    Grid of 33 offsets ``c`` in [-1.2, 1.2], then :func:`~toyforge.theory.families.refine_minimum`.
    """
    ratio, p = np.broadcast_arrays(np.asarray(ratio, float), np.asarray(feature_prob, float))
    shape = ratio.shape
    ratio, p = ratio.reshape(-1), p.reshape(-1)
    if np.any(ratio > 0.5 + 1e-12) or np.any(ratio <= 0):
        raise InvalidParameter("ratio", float(ratio.max()), "0 < ratio <= 1/2 for the pair rug")
    sigma = rug_sigma("digon", ratio, p)
    grid = np.broadcast_to(_C_GRID, (ratio.size, _C_GRID.size))
    values = _pair_profile(grid, sigma[:, None], p[:, None])[0]
    c = refine_minimum(lambda x: _pair_profile(x, sigma[:, None], p[:, None]), _C_GRID, values)
    loss, scale = _pair_profile(c, sigma, p)
    return RugOptimum(
        loss=loss.reshape(shape),
        scale=scale.reshape(shape),
        bias=(scale * c).reshape(shape),
        sigma=sigma.reshape(shape),
    )


def _interference_nodes(name: str, p: float, piece: float) -> tuple[np.ndarray, np.ndarray]:
    """Discrete stand-in for the law of the block interference ``T``: atoms plus
    Gauss–Legendre nodes (16 per sub-piece of length <= ``piece``) of the exact density."""
    nodes, weights = [], []
    table = interference_densities(family(name).interference_weights)
    n_others = len(table) - 1
    gl_x, gl_w = np.polynomial.legendre.leggauss(_GL_NODES)
    for m, (atom, density) in enumerate(table):
        prob = p**m * (1.0 - p) ** (n_others - m)
        if atom:
            nodes.append(np.zeros(1))
            weights.append(np.array([prob * atom]))
        if density is None:
            continue
        for left, right in zip(density.breaks[:-1], density.breaks[1:], strict=True):
            cuts = np.linspace(left, right, max(1, math.ceil((right - left) / piece)) + 1)
            for a, b in zip(cuts[:-1], cuts[1:], strict=True):
                x = 0.5 * (a + b) + 0.5 * (b - a) * gl_x
                nodes.append(x)
                weights.append(prob * 0.5 * (b - a) * gl_w * density(x))
    return np.concatenate(nodes), np.concatenate(weights)


def _check_block_ratio(name: str, ratio: float) -> None:
    limit = family(name).dims_per_feature
    if not 0 < ratio <= limit * (1 + 1e-12):
        raise InvalidParameter("ratio", ratio, f"0 < ratio <= {limit:g} for {name} blocks")


def _rug_profile(name: str, ratio: float, p: float):
    """``profile(c) -> (L*(c), s*(c))`` and ``loss(s, c)`` for one structured rug point."""
    sigma = float(rug_sigma(name, ratio, p))
    nodes, weights = _interference_nodes(name, p, max(sigma, 0.02))

    def loss(scale: np.ndarray, c: np.ndarray) -> np.ndarray:
        shifted = np.asarray(c, float)[..., None] + nodes
        return reduced_loss(np.asarray(scale)[..., None], shifted, sigma, p) @ weights

    def profile(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        shifted = np.asarray(c, float)[..., None] + nodes
        cross, square = reduced_expectations(shifted, sigma, p)
        q = square @ weights
        scale = np.where(q > 0, (cross @ weights) / np.where(q > 0, q, 1.0), 0.0)
        return loss(scale, c), scale

    return profile, loss, sigma


def structured_rug_loss(
    name: str, scale: float, bias: float, ratio: float, feature_prob: float
) -> float:
    """Large-N loss of the structured rug of family ``name`` at scale ``s``, bias ``b = s c``."""
    _check_block_ratio(name, ratio)
    _, loss, _ = _rug_profile(name, ratio, float(feature_prob))
    return float(loss(np.array(scale), np.array(bias / scale)))


def structured_rug_optimum(name: str, ratio: float, feature_prob: float) -> RugOptimum:
    """Large-N loss of the structured rug of family ``name`` at one point, optimised.

    ``ratio`` must satisfy ``0 < ratio <= d / k``. Quadrature: exact interference density,
    Gauss–Legendre (16 nodes) on sub-pieces no longer than ``max(sigma, 0.02)``.
    """
    _check_block_ratio(name, ratio)
    profile, _, sigma = _rug_profile(name, ratio, float(feature_prob))
    values = profile(_C_GRID)[0]
    c = refine_minimum(profile, _C_GRID, values[None, :])
    loss, scale = profile(c)
    return RugOptimum(loss=loss, scale=scale, bias=scale * c, sigma=np.array([sigma]))
