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

Time sharing (dropped + rug) is the special case with vertices ``dropped`` and a rug point.
The reported envelope is the minimum of the hull value and the exactly evaluated single
solutions at ``r`` itself (symmetric, time sharing, pair rug), so it is never above the
existing ``loss`` and every value is the loss of an explicit mixture.
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

__all__ = ["Envelope", "RUG_CURVES", "envelope"]

RUG_CURVES = ("persian-rug", "pair-rug")
_PERSIAN_GRID = np.geomspace(1e-3, 1.0, 40)[:-1]
_PAIR_GRID = np.geomspace(1e-3, 0.5, 32)[:-1]


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


def _candidates(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list]:
    """Family points per p column: x (n_c,), y, scale, bias (n_p, n_c) and names."""
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
    sym = symmetric_optimum(_PERSIAN_GRID[:, None], p[None, :])
    pair = pair_rug_optimum(_PAIR_GRID[:, None], p[None, :])
    for grid, opt, name in ((_PERSIAN_GRID, sym, "persian-rug"), (_PAIR_GRID, pair, "pair-rug")):
        for i, x in enumerate(grid):
            names.append(name)
            xs.append(float(x))
            ys.append(opt.loss[i])
            scales.append(opt.scale[i])
            biases.append(opt.bias[i])
    stack = [np.stack(v, axis=1) for v in (ys, scales, biases)]
    return np.array(xs), stack[0], stack[1], stack[2], names


_CURVE_GRIDS = {"persian-rug": _PERSIAN_GRID, "pair-rug": _PAIR_GRID}


def _curve(name: str, r: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, ...]:
    """(loss, scale, bias) of a rug curve at (r, p), exactly."""
    opt = symmetric_optimum(r, p) if name == "persian-rug" else pair_rug_optimum(r, p)
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
        grid = _CURVE_GRIDS[curve]
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


def _column_vertices(xs, ys, scales, biases, names, j):
    """Hull vertices of column j as ``[name, x, loss, scale, bias, index]`` lists."""
    hull = lower_hull(xs, ys[j])
    vertices = [[names[i], xs[i], ys[j, i], scales[j, i], biases[j, i], i] for i in hull]
    return vertices


def _refined_hulls(xs, ys, scales, biases, names, p) -> list[list[list]]:
    """Per p column, the hull vertices with every fixed-point-to-rug-curve edge ending at its
    refined tangent point (a curve vertex between two fixed points may split in two)."""
    grid_index = {}
    for curve, grid in _CURVE_GRIDS.items():
        for k, x in enumerate(grid):
            grid_index[(curve, float(x))] = k
    hulls = [_column_vertices(xs, ys, scales, biases, names, j) for j in range(p.size)]
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
        replacements.setdefault((j, v), {})[side] = [name, *point, -1]
    for (j, v), sides in sorted(replacements.items(), reverse=True):
        new = [sides.get(-1, hulls[j][v]), sides.get(1, hulls[j][v])]
        if sides.get(-1) is not None and sides.get(1) is not None and new[0][1] > new[1][1]:
            new = new[:1]
        if len(new) == 2 and new[0][1] == new[1][1]:
            new = new[:1]
        hulls[j][v : v + 1] = new
    return hulls


@functools.lru_cache(maxsize=64)
def _hulls_for(p_key: tuple[float, ...]) -> tuple[tuple[tuple, ...], ...]:
    """Refined hull vertices per p column; they depend on p only, so repeated calls with the
    same feature probabilities (a sweep over ratios) reuse them."""
    p = np.array(p_key)
    xs, ys, scales, biases, names = _candidates(p)
    hulls = _refined_hulls(xs, ys, scales, biases, names, p)
    return tuple(tuple(tuple(v) for v in vertices) for vertices in hulls)


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
    hulls = _hulls_for(tuple(float(v) for v in p))
    shape = (r.size, p.size)
    out = {
        "loss": np.empty(shape),
        "family": np.empty(shape + (2,), dtype=object),
        "feature_share": np.zeros(shape + (2,)),
        "dims": np.zeros(shape + (2,)),
        "scale": np.zeros(shape + (2,)),
        "bias": np.zeros(shape + (2,)),
    }
    for j, vertices in enumerate(hulls):
        hname = np.array([v[0] for v in vertices], dtype=object)
        hx, hy, hs, hb = (np.array([v[i] for v in vertices]) for i in (1, 2, 3, 4))
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
