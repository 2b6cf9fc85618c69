"""The solution-family envelope: lower convex hull over families at each feature probability.

docs/solution_families.md#the-envelope. Block-diagonal mixtures of families are always
constructible (each block uses its own neurons), so at fixed ``p`` every point of the lower
convex hull of the family points in the plane (hidden neurons per feature, loss per feature)
is achievable: a ratio ``r`` between hull vertices ``A`` and ``B`` gives a fraction
``(x_B - r) / (x_B - x_A)`` of the features to ``A`` and the rest to ``B``. Family points:

* ``dropped`` (0, p/3 - p^2/4) and ``dedicated`` (1, 0);
* every polytope block of :data:`toyforge.theory.families.FAMILIES` (``d / k``, exact loss),
  except those equivalent to digons (square, cross-polytopes: same point);
* the Persian-rug curve ``(r', L_sym(r', p))`` and the pair-rug curve ``(r', L_pair(r', p))``
  (:mod:`toyforge.theory.structured_rug`) on fixed geometric grids of ``r'``.

Time sharing (dropped + rug) is the special case with vertices ``dropped`` and a rug point.
The reported envelope is the minimum of the hull value and the exactly evaluated single
solutions at ``r`` itself (symmetric, time sharing, pair rug), so it is never above the
existing ``loss`` and every value is the loss of an explicit mixture.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toyforge.theory.families import EQUIVALENT, FAMILIES, dropped_loss, family_optimum
from toyforge.theory.largen import symmetric_optimum
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


def _lower_hull(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the lower convex hull vertices (x sorted ascending, ties: lowest y)."""
    order = np.lexsort((y, x))
    hull: list[int] = []
    for i in order:
        if hull and x[hull[-1]] == x[i]:
            continue
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            cross = (x[b] - x[a]) * (y[i] - y[a]) - (y[b] - y[a]) * (x[i] - x[a])
            if cross <= 0:
                hull.pop()
            else:
                break
        hull.append(int(i))
    return np.array(hull)


def envelope(ratios: np.ndarray, feature_probs: np.ndarray) -> Envelope:
    """Hull envelope at every (ratio, feature_prob) of a grid (no exact-point comparison).

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
    xs, ys, scales, biases, names = _candidates(p)
    shape = (r.size, p.size)
    out = {
        "loss": np.empty(shape),
        "family": np.empty(shape + (2,), dtype=object),
        "feature_share": np.zeros(shape + (2,)),
        "dims": np.zeros(shape + (2,)),
        "scale": np.zeros(shape + (2,)),
        "bias": np.zeros(shape + (2,)),
    }
    for j in range(p.size):
        hull = _lower_hull(xs, ys[j])
        hx = xs[hull]
        right = np.clip(np.searchsorted(hx, r, side="left"), 1, hull.size - 1)
        a, b = hull[right - 1], hull[right]
        share_a = (xs[b] - r) / (xs[b] - xs[a])
        out["loss"][:, j] = share_a * ys[j, a] + (1 - share_a) * ys[j, b]
        for slot, idx, share in ((0, a, share_a), (1, b, 1 - share_a)):
            out["family"][:, j, slot] = np.array(names, dtype=object)[idx]
            out["feature_share"][:, j, slot] = share
            out["dims"][:, j, slot] = xs[idx]
            out["scale"][:, j, slot] = scales[j, idx]
            out["bias"][:, j, slot] = biases[j, idx]
    out["family"] = out["family"].astype(str)
    return Envelope(**out)
