"""The solution-family envelope: lower convex hull over families at each feature probability.

docs/solution_families.md#the-envelope. Block-diagonal mixtures of families are always
constructible (each block uses its own neurons), so at fixed ``p`` every point of the lower
convex hull of the family points in the plane (hidden neurons per feature, loss per feature)
is achievable: a ratio ``r`` between hull vertices ``A`` and ``B`` gives a fraction
``(x_B - r) / (x_B - x_A)`` of the features to ``A`` and the rest to ``B``. Family points:

* ``dropped`` (0, p/3 - p^2/4) and ``dedicated`` (1, 0);
* every polytope block of :data:`toyforge.theory.families.FAMILIES` (``d / k``, exact loss),
  except those equivalent to digons (square, cross-polytopes: same point);
* the asymmetric digon (0.5, exact; scale and bias reported for its first feature);
* the Persian-rug curve ``(r', L_sym(r', p))`` and the pair-rug curve ``(r', L_pair(r', p))``
  (:mod:`toyforge.theory.structured_rug`) on fixed geometric grids of ``r'``.

:func:`solution_points` is the one list of these points and :func:`solution_hulls` their hull
per ``p``, with tangent points to the rug curves refined off the grids; the feature-class
allocation (:mod:`toyforge.theory.feature_classes`) uses the same hulls. Time sharing
(dropped + rug) is the special case with vertices ``dropped`` and a rug point. The envelope
that :func:`toyforge.theory.predict.predict` reports is the minimum of the hull value and the
exactly evaluated single solutions at ``r`` itself (symmetric, time sharing, pair rug), so it
is never above the existing ``loss`` and every value is the loss of an explicit mixture.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from toyforge.theory.families import (
    EQUIVALENT,
    FAMILIES,
    asymmetric_digon_optimum,
    dropped_loss,
    family_optimum,
)
from toyforge.theory.large_n_loss import symmetric_optimum
from toyforge.theory.solution_hull import lower_hull
from toyforge.theory.structured_rug import pair_rug_optimum

__all__ = [
    "CURVE_GRIDS",
    "Envelope",
    "RUG_CURVES",
    "SolutionHull",
    "SolutionPoints",
    "envelope",
    "solution_hulls",
    "solution_points",
]

RUG_CURVES = ("persian-rug", "pair-rug")
CURVE_GRIDS = {
    "persian-rug": np.geomspace(1e-3, 1.0, 40)[:-1],
    "pair-rug": np.geomspace(1e-3, 0.5, 32)[:-1],
}
"""Neurons per feature at which each rug curve is sampled (the pair rug needs <= 1/2)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Envelope:
    """Envelope on a grid: ``loss`` (n_r, n_p); per component (last axis of length 2):
    ``family`` names (``""`` if unused), ``feature_share``, ``dims`` (neurons per feature
    inside the component), ``scale`` and ``bias``."""

    loss: np.ndarray
    family: np.ndarray
    feature_share: np.ndarray
    dims: np.ndarray
    scale: np.ndarray
    bias: np.ndarray


@dataclass(frozen=True, kw_only=True, slots=True)
class SolutionPoints:
    """Every solution point at each ``p``: ``dims`` (n_c,) neurons per feature, ``loss``,
    ``scale``, ``bias`` (n_p, n_c) and the family ``names`` (n_c)."""

    dims: np.ndarray
    loss: np.ndarray
    scale: np.ndarray
    bias: np.ndarray
    names: tuple[str, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class SolutionHull:
    """The lower convex hull at one ``p``: vertices by increasing ``dims`` (neurons per
    feature, 0 to 1), their ``loss``, ``scale``, ``bias`` and family ``names``."""

    dims: np.ndarray
    loss: np.ndarray
    scale: np.ndarray
    bias: np.ndarray
    names: tuple[str, ...]


def solution_points(feature_probs: np.ndarray) -> SolutionPoints:
    """Every solution the envelope knows, as points per feature probability (module
    docstring): dropped, dedicated, the polytopes, the asymmetric digon, and the rug curves
    on :data:`CURVE_GRIDS`."""
    p = np.atleast_1d(np.asarray(feature_probs, float))
    names, xs, ys, scales, biases = [], [], [], [], []
    n_p = p.size
    names += ["dropped", "dedicated"]
    xs += [0.0, 1.0]
    ys += [dropped_loss(p), np.zeros(n_p)]
    scales += [np.zeros(n_p), np.ones(n_p)]
    biases += [p / 2.0, np.zeros(n_p)]
    for name in FAMILIES:
        if name in EQUIVALENT:
            continue
        opt = family_optimum(name, p)
        names.append(name)
        xs.append(opt.dims_per_feature)
        ys.append(opt.loss)
        scales.append(opt.scale)
        biases.append(opt.bias)
    asym = asymmetric_digon_optimum(p)
    names.append("asymmetric-digon")
    xs.append(0.5)
    ys.append(asym.loss)
    scales.append(asym.scale_a)
    biases.append(asym.bias_a)
    for name in RUG_CURVES:
        grid = CURVE_GRIDS[name]
        opt = _curve_optimum(name, grid[:, None], p[None, :])
        for i, x in enumerate(grid):
            names.append(name)
            xs.append(float(x))
            ys.append(opt.loss[i])
            scales.append(opt.scale[i])
            biases.append(opt.bias[i])
    loss, scale, bias = (np.stack(v, axis=1) for v in (ys, scales, biases))
    return SolutionPoints(dims=np.array(xs), loss=loss, scale=scale, bias=bias, names=tuple(names))


def _curve_optimum(name: str, r: np.ndarray, p: np.ndarray):
    """The optimum of a rug curve at (r, p), exactly (loss, scale, bias arrays)."""
    return symmetric_optimum(r, p) if name == "persian-rug" else pair_rug_optimum(r, p)


def _curve(name: str, r: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, ...]:
    """(loss, scale, bias) of a rug curve at (r, p), exactly."""
    opt = _curve_optimum(name, r, p)
    return opt.loss, opt.scale, np.asarray(opt.bias)


def _tangent_points(tasks: list[tuple], p: np.ndarray) -> list[tuple[float, ...]]:
    """Refine tangent points from fixed vertices to the rug curves (all tasks at once).

    Each task ``(column, curve, k, x_a, y_a)``: the hull joins the fixed point (x_a, y_a)
    to grid point k of the curve. The tangent point minimises
    ``(L(r') - y_a) / |r' - x_a|`` (the supporting line through the fixed point); two
    rounds of 9 geometric points in the bracket of the grid neighbours, each shrinking it 4x.
    """
    out: list[tuple[float, ...]] = [()] * len(tasks)
    for curve in RUG_CURVES:
        index = [t for t, task in enumerate(tasks) if task[1] == curve]
        if not index:
            continue
        grid = CURVE_GRIDS[curve]
        top = 0.5 if curve == "pair-rug" else 1.0
        k = np.array([tasks[t][2] for t in index])
        low = grid[np.maximum(k - 1, 0)]
        high = np.where(k + 1 < grid.size, grid[np.minimum(k + 1, grid.size - 1)], top)
        col = np.array([tasks[t][0] for t in index])
        xa = np.array([tasks[t][3] for t in index])[:, None]
        ya = np.array([tasks[t][4] for t in index])[:, None]
        for _ in range(2):
            trial = np.geomspace(low, high, 9, axis=1)
            loss, _, _ = _curve(curve, trial, p[col][:, None])
            with np.errstate(divide="ignore", invalid="ignore"):
                slope = (loss - ya) / np.abs(trial - xa)
            best = np.argmin(np.where(np.isfinite(slope), slope, np.inf), axis=1)
            rows = np.arange(best.size)
            low = trial[rows, np.maximum(best - 1, 0)]
            high = trial[rows, np.minimum(best + 1, 8)]
            chosen = trial[rows, best]
        loss, scale, bias = _curve(curve, chosen, p[col])
        for i, t in enumerate(index):
            out[t] = (float(chosen[i]), float(loss[i]), float(scale[i]), float(bias[i]))
    return out


def _column_vertices(points: SolutionPoints, j: int) -> list[list]:
    """Hull vertices of column j as ``[name, x, loss, scale, bias]`` lists."""
    hull = lower_hull(points.dims, points.loss[j])
    return [
        [
            points.names[i],
            points.dims[i],
            points.loss[j, i],
            points.scale[j, i],
            points.bias[j, i],
        ]
        for i in hull
    ]


def _refined_hulls(points: SolutionPoints, p: np.ndarray) -> list[list[list]]:
    """Per p column, the hull vertices plus, for every fixed-point-to-rug-curve edge, its
    refined tangent point (the hull of these is taken by :func:`_as_hull`)."""
    grid_index = {}
    for curve, grid in CURVE_GRIDS.items():
        for k, x in enumerate(grid):
            grid_index[(curve, float(x))] = k
    hulls = [_column_vertices(points, j) for j in range(p.size)]
    tasks, where = [], []
    for j, vertices in enumerate(hulls):
        for v, (name, x, *_rest) in enumerate(vertices):
            if name not in RUG_CURVES:
                continue
            for side in (-1, 1):
                u = v + side
                if 0 <= u < len(vertices) and vertices[u][0] not in RUG_CURVES:
                    k = grid_index[(name, float(x))]
                    tasks.append((j, name, k, vertices[u][1], vertices[u][2]))
                    where.append((j, v, side))
    refined = _tangent_points(tasks, p)
    replacements: dict[tuple[int, int], dict[int, list]] = {}
    for (j, v, side), point in zip(where, refined, strict=True):
        name = hulls[j][v][0]
        replacements.setdefault((j, v), {})[side] = [name, *point]
    for (j, v), sides in sorted(replacements.items(), reverse=True):
        new = [sides[side] for side in (-1, 1) if side in sides]
        hulls[j][v : v + 1] = sorted([*new, hulls[j][v]], key=lambda vertex: vertex[1])
    return hulls


def _as_hull(vertices: list[list]) -> SolutionHull:
    """The lower convex hull of the grid vertices and refined tangent points, frozen."""
    names = [v[0] for v in vertices]
    dims, loss, scale, bias = (np.array([v[i] for v in vertices], float) for i in (1, 2, 3, 4))
    keep = lower_hull(dims, loss)
    arrays = {"dims": dims[keep], "loss": loss[keep], "scale": scale[keep], "bias": bias[keep]}
    for array in arrays.values():
        array.flags.writeable = False
    return SolutionHull(names=tuple(names[i] for i in keep), **arrays)


@functools.lru_cache(maxsize=64)
def _hulls_for(p_key: tuple[float, ...]) -> tuple[SolutionHull, ...]:
    p = np.array(p_key)
    return tuple(_as_hull(v) for v in _refined_hulls(solution_points(p), p))


def solution_hulls(feature_probs: np.ndarray) -> list[SolutionHull]:
    """The lower convex hull of :func:`solution_points` at each feature probability.

    Every edge from a fixed point (dropped, dedicated, a polytope) to a rug curve ends at its
    tangent point refined off the grid (:func:`_tangent_points`). The hulls depend on ``p``
    only, so repeated calls with the same probabilities (a sweep over ratios) reuse them.
    """
    p = np.atleast_1d(np.asarray(feature_probs, float))
    return list(_hulls_for(tuple(float(v) for v in p)))


def envelope(ratios: np.ndarray, feature_probs: np.ndarray) -> Envelope:
    """Hull envelope at every (ratio, feature_prob) of a grid (no exact-point comparison).

    Tangent points from fixed family points to the rug curves are refined off the grid
    (:func:`_tangent_points`).

    Parameters
    ----------
    ratios, feature_probs : ndarray
        1-D axes, values in (0, 1] (validated by :func:`toyforge.theory.predict`).

    Returns
    -------
    Envelope
        Arrays of shape (len(ratios), len(feature_probs)[, 2]).
    """
    r = np.asarray(ratios, float)
    p = np.asarray(feature_probs, float)
    hulls = solution_hulls(p)
    shape = (r.size, p.size)
    out = {
        "loss": np.empty(shape),
        "family": np.empty(shape + (2,), dtype=object),
        "feature_share": np.zeros(shape + (2,)),
        "dims": np.zeros(shape + (2,)),
        "scale": np.zeros(shape + (2,)),
        "bias": np.zeros(shape + (2,)),
    }
    for j, hull in enumerate(hulls):
        hname = np.array(hull.names, dtype=object)
        hx, hy, hs, hb = hull.dims, hull.loss, hull.scale, hull.bias
        right = np.clip(np.searchsorted(hx, r, side="left"), 1, hx.size - 1)
        a, b = right - 1, right
        share_a = (hx[b] - r) / (hx[b] - hx[a])
        out["loss"][:, j] = share_a * hy[a] + (1 - share_a) * hy[b]
        for slot, idx, share in ((0, a, share_a), (1, b, 1 - share_a)):
            out["family"][:, j, slot] = hname[idx]
            out["feature_share"][:, j, slot] = share
            out["dims"][:, j, slot] = hx[idx]
            out["scale"][:, j, slot] = hs[idx]
            out["bias"][:, j, slot] = hb[idx]
    out["family"] = out["family"].astype(str)
    return Envelope(**out)
