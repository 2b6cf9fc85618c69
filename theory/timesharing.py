"""Time sharing: serve a fraction of the features with the symmetric solution, drop the rest.

See docs/large_n_theory.md#time-sharing. Dropping a fraction ``f`` of the features (each dropped
feature outputs the best constant ``p/2``, loss ``v = p/3 - p^2/4``) leaves ``r / (1 - f)`` hidden
units per served feature::

    L_ts(r, p) = min_{0 <= f <= 1 - r}  f v + (1 - f) L_sym(r / (1 - f), p).

With ``s = r / (1 - f)`` (the ratio the served features get, ``r <= s <= 1``) this is
``L_ts = v + r min_s (L_sym(s, p) - v) / s``. ``s = r`` (``f = 0``) is the symmetric solution;
``s = 1`` (``f = 1 - r``) gives one dedicated neuron per served feature and loss
``(1 - r) v``, the optimal linear loss. Only the two-group family of the spec is searched
(one served ratio plus dropped features), not mixtures of several served ratios.

Numerics: ``L_sym`` on a geometric grid of ``s`` values, a parabolic step in ``log s`` around the
best grid value, and one exact evaluation there; the reported loss is the exact loss of the
returned feasible ``f`` (so it is an upper bound of the true minimum, never below it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toyforge.theory.large_n_loss import symmetric_optimum

__all__ = ["TimeSharing", "grid_time_sharing", "time_sharing", "time_sharing_objective"]

_N_SERVED_RATIOS = 48


@dataclass(frozen=True, kw_only=True, slots=True)
class TimeSharing:
    """Best time-sharing solution per point (arrays of one common shape).

    Attributes
    ----------
    loss : ndarray
        ``L_ts`` (never above the symmetric loss at the same point).
    served_fraction : ndarray
        ``1 - f``: the fraction of features served (1 means no feature dropped).
    served_ratio : ndarray
        ``s = r / (1 - f)``, hidden units per served feature.
    """

    loss: np.ndarray
    served_fraction: np.ndarray
    served_ratio: np.ndarray


def _objective(
    served_ratio: np.ndarray, ratio: np.ndarray, p: np.ndarray, symmetric_values: np.ndarray
) -> np.ndarray:
    variance = p / 3.0 - p * p / 4.0
    return variance + ratio * (symmetric_values - variance) / served_ratio


def time_sharing(
    ratio: np.ndarray | float,
    feature_prob: np.ndarray | float,
    symmetric_loss: np.ndarray | float | None = None,
) -> TimeSharing:
    """Best two-group time-sharing loss for every (ratio, feature_prob) pair.

    Parameters
    ----------
    ratio, feature_prob : array_like
        Broadcastable, ``0 < ratio <= 1``, ``0 < feature_prob <= 1`` (validated by
        :func:`toyforge.theory.predict`).
    symmetric_loss : array_like, optional
        ``L_sym(ratio, feature_prob)`` if already known (saves one minimisation).

    Returns
    -------
    TimeSharing
        Arrays shaped like the broadcast of ``ratio`` and ``feature_prob``.
    """
    ratio, p = np.broadcast_arrays(np.asarray(ratio, float), np.asarray(feature_prob, float))
    shape = ratio.shape
    ratio, p = ratio.reshape(-1), p.reshape(-1)
    if symmetric_loss is None:
        own = symmetric_optimum(ratio, p).loss
    else:
        own = np.broadcast_to(np.asarray(symmetric_loss, float), shape).reshape(-1)
    fractions = np.linspace(0.0, 1.0, _N_SERVED_RATIOS)[None, :]
    served = ratio[:, None] ** (1.0 - fractions)  # geometric from r to 1
    served[:, 0] = ratio
    served[:, -1] = 1.0
    inner = symmetric_optimum(served[:, 1:-1], p[:, None]).loss
    values = np.concatenate([own[:, None], inner, np.zeros((ratio.size, 1))], axis=1)
    objective = _objective(served, ratio[:, None], p[:, None], values)
    return _finish(served, objective, ratio, p, own, shape)


def best_on_grid(
    served: np.ndarray,
    objective: np.ndarray,
    ratio: np.ndarray,
    p: np.ndarray,
    own: np.ndarray,
    columns: np.ndarray | None = None,
) -> TimeSharing:
    """Refine the best grid value of the time-sharing objective (flat arrays).

    ``served`` and ``objective`` have shape (n_points, n_grid), sorted by increasing served
    ratio, the first column being ``s = r`` itself. Returns flat arrays.

    ``columns`` (optional, int, one per point): points with the same id share ``p`` and the
    served ratios and symmetric losses of grid columns 1.. (a ``predict_grid`` column). Their
    objectives are then ``v + r g(s)`` with one ``g`` per id, so the parabolic vertex depends
    only on (id, best index) when the bracket lies inside columns 1..: one exact
    :func:`symmetric_optimum` per such group, not per point (same result up to rounding).
    """
    rows = np.arange(ratio.size)
    best = np.argmin(objective, axis=1)
    best_s = served[rows, best]
    best_value = objective[rows, best]
    interior = (best > 0) & (best < served.shape[1] - 1)
    candidate = _parabolic_step(served, objective, best, interior)
    refine = interior & (best_value < own - 1e-15 * own)
    if np.any(refine):
        index = np.flatnonzero(refine)
        value = _refined_symmetric(candidate, p, index, columns, best, objective)
        refined = _objective(candidate[index], ratio[index], p[index], value)
        improved = refined < best_value[index]
        index = index[improved]
        best_s[index] = candidate[index]
        best_value[index] = refined[improved]
    no_gain = best_value >= own
    best_s = np.where(no_gain, ratio, best_s)
    loss = np.where(no_gain, own, best_value)
    return TimeSharing(loss=loss, served_fraction=ratio / best_s, served_ratio=best_s)


def _refined_symmetric(
    candidate: np.ndarray,
    p: np.ndarray,
    index: np.ndarray,
    columns: np.ndarray | None,
    best: np.ndarray,
    objective: np.ndarray,
) -> np.ndarray:
    """``L_sym(candidate[index], p[index])``; with ``columns``, once per shared group.

    Grouped points take the candidate of their group's first point (``candidate`` is updated
    in place, so the reported served ratio is the one whose loss was evaluated).
    """
    if columns is None:
        return symmetric_optimum(candidate[index], p[index]).loss
    sub_best = best[index]
    shared = (sub_best >= 2) & np.isfinite(objective[index, sub_best - 1])
    key = np.where(shared, columns[index] * objective.shape[1] + sub_best, -1)
    value = np.empty(index.size)
    lone = ~shared
    if np.any(lone):
        value[lone] = symmetric_optimum(candidate[index[lone]], p[index[lone]]).loss
    if np.any(shared):
        groups, first, inverse = np.unique(key[shared], return_index=True, return_inverse=True)
        members = index[shared]
        leaders = members[first]
        group_value = symmetric_optimum(candidate[leaders], p[leaders]).loss
        candidate[members] = candidate[leaders][inverse]
        value[shared] = group_value[inverse]
    return value


def _finish(
    served: np.ndarray,
    objective: np.ndarray,
    ratio: np.ndarray,
    p: np.ndarray,
    own: np.ndarray,
    shape: tuple[int, ...],
) -> TimeSharing:
    flat = best_on_grid(served, objective, ratio, p, own)
    return TimeSharing(
        loss=flat.loss.reshape(shape),
        served_fraction=flat.served_fraction.reshape(shape),
        served_ratio=flat.served_ratio.reshape(shape),
    )


def _parabolic_step(
    served: np.ndarray, objective: np.ndarray, best: np.ndarray, interior: np.ndarray
) -> np.ndarray:
    """Vertex of the parabola through the best grid point and its neighbours, in log s."""
    rows = np.arange(best.size)
    left = np.clip(best - 1, 0, served.shape[1] - 1)
    right = np.clip(best + 1, 0, served.shape[1] - 1)
    x0, x1, x2 = (np.log(served[rows, i]) for i in (left, best, right))
    y0, y1, y2 = (objective[rows, i] for i in (left, best, right))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        numerator = (x1 - x0) ** 2 * (y1 - y2) - (x1 - x2) ** 2 * (y1 - y0)
        denominator = (x1 - x0) * (y1 - y2) - (x1 - x2) * (y1 - y0)
        vertex = x1 - 0.5 * numerator / denominator
    ok = interior & np.isfinite(vertex) & (vertex > x0) & (vertex < x2)
    return np.where(ok, np.exp(np.where(ok, vertex, x1)), served[rows, best])


def time_sharing_objective(
    r_axis: np.ndarray,
    p_axis: np.ndarray,
    symmetric_loss: np.ndarray,
    served_axis: np.ndarray,
    served_loss: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Served ratios and time-sharing objective of every grid point (ratio-major rows).

    Row ``i n_p + j`` is the point ``(r_axis[i], p_axis[j])``; column 0 serves every feature
    (``s = r``, value ``symmetric_loss[i, j]``), column ``1 + k`` serves ``served_axis[k]``
    with ``L_sym = served_loss[k, j]``: ``v + r (L_sym(s) - v) / s``
    (docs/large_n_theory.md#time-sharing), ``inf`` where ``s < r``. Built in place, with the
    floating-point operations of that formula in its order (bit-identical to it).

    Returns
    -------
    served, objective : ndarray
        Shape (len(r_axis) len(p_axis), 1 + len(served_axis)).
    """
    n_r, n_p, n_s = r_axis.size, p_axis.size, served_axis.size
    ratio = np.repeat(r_axis, n_p)[:, None]
    variance = np.tile(p_axis / 3.0 - p_axis * p_axis / 4.0, n_r)[:, None]
    served = np.empty((n_r * n_p, n_s + 1))
    served[:, :1] = ratio
    served[:, 1:] = served_axis
    objective = np.empty_like(served)
    objective[:, 0] = symmetric_loss.reshape(-1)
    objective.reshape(n_r, n_p, n_s + 1)[:, :, 1:] = served_loss.T[None, :, :]
    objective -= variance
    objective *= ratio
    objective /= served
    objective += variance
    objective[served < ratio] = np.inf
    return served, objective


def grid_time_sharing(r_axis: np.ndarray, p_axis: np.ndarray, sym: np.ndarray) -> TimeSharing:
    """Time sharing on a ratio × probability grid (``sym``: the symmetric loss there), with one
    shared geometric grid of 96 served ratios per probability column (what
    :func:`toyforge.theory.predict_grid` uses)."""
    served_axis = np.geomspace(r_axis.min(), 1.0, 96)
    served_axis[-1] = 1.0
    served_loss = symmetric_optimum(served_axis[:, None], p_axis[None, :]).loss  # (n_s, n_p)
    n_r, n_p = sym.shape
    ratio = np.broadcast_to(r_axis[:, None], (n_r, n_p)).reshape(-1)
    p = np.broadcast_to(p_axis[None, :], (n_r, n_p)).reshape(-1)
    own = sym.reshape(-1)
    served, objective = time_sharing_objective(r_axis, p_axis, sym, served_axis, served_loss)
    columns = np.broadcast_to(np.arange(n_p)[None, :], (n_r, n_p)).reshape(-1)
    flat = best_on_grid(served, objective, ratio, p, own, columns)
    return TimeSharing(
        loss=flat.loss.reshape(n_r, n_p),
        served_fraction=flat.served_fraction.reshape(n_r, n_p),
        served_ratio=flat.served_ratio.reshape(n_r, n_p),
    )
