"""Dictionary ("lookup-table") weights: networks that store a table and recall it exactly.

Constructions of docs/memorisation.md#lookup-table, each with its exactness condition, which is
checked; inputs outside the condition are refused with
:class:`~toyforge.core.errors.InvalidParameter` naming
the offending points:

* :func:`lookup_table` (docs/memorisation.md#lookup-table): one hidden ReLU neuron per stored key,
  unit-norm key as its
  weights, threshold between the largest overlap with another key and the key's norm, value as
  its output column. Exact for any values when no key's direction overlaps another key by as
  much as its own norm (for unit-norm keys: when the keys are distinct).
* :func:`polygon_memorizer` (docs/memorisation.md#t-gon-memoriser): the m = 2 ReLU-output (TMS
  bottleneck) memoriser that puts T
  unit-norm points on a regular T-gon; exact when no feature is shared between points;
  ‖W‖_F² = T / (1 − max(cos 2π/T, 0)) (:func:`polygon_weight_norm`).
* :func:`slab_memorizer` (docs/memorisation.md#slab-memoriser, Baum 1988 / Bubeck et al. 2020
  style): one hidden layer of
  4⌈N/d⌉ ReLU neurons for arbitrary real scalar labels.
* :func:`sqrt_memorizer` (docs/memorisation.md#square-root-memoriser, in the spirit of Yun, Sra &
  Jadbabaie 2019): two hidden layers
  of 2⌈√N⌉−1 and 2⌈√N⌉ neurons. :class:`MLP` has one hidden layer, so this returns a
  :class:`TwoHiddenLayerMLP`, a small frozen model defined here with a numpy forward and
  registered with :func:`~toyforge.constructions.models.register_architecture`.
* :func:`circle_unembedding` (docs/memorisation.md#circle-unembedding): a cross-entropy final layer
  with hidden size 2 whose argmax
  is perfect for any number of classes; its loss is :func:`circle_unembedding_loss`.
* :func:`read_dictionary` (defined in :mod:`toyforge.constructions.decompile`): "decompile"
  an MLP into its key → value table where it is one and report how much of its behaviour the
  table explains.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from toyforge.constructions.decompile import DictionaryTable, read_dictionary
from toyforge.constructions.models import (
    MLP,
    ReluAutoencoder,
    _ArraysMixin,
    _as_batch,
    _set,
    as_weight_array,
    register_architecture,
    require_shape,
)
from toyforge.constructions.point_sets import check_points, check_targets
from toyforge.core.errors import IncompatibleWeights, InvalidParameter
from toyforge.core.validate import as_rng, check_int, check_interval

__all__ = [
    "DictionaryTable",
    "TwoHiddenLayerMLP",
    "circle_unembedding",
    "circle_unembedding_loss",
    "lookup_table",
    "polygon_memorizer",
    "polygon_weight_norm",
    "read_dictionary",
    "slab_memorizer",
    "sqrt_memorizer",
]


# ----------------------------------------------------------------------------- lookup table


def lookup_table(keys: Any, values: Any, margin: float = 0.5) -> MLP:
    """One ReLU neuron per key: ``y(x) = Σ_k ReLU(x̂_k·x − θ_k) v_k``
    (docs/memorisation.md#lookup-table).

    Neuron k has weights x̂_k = x_k/‖x_k‖ and threshold
    ``θ_k = μ_k + margin·(‖x_k‖ − μ_k)``, where μ_k = max_{j≠k} x̂_k·x_j is the largest overlap
    of another key with k's direction (μ_k = 0 for a single key). Its output column is
    ``v_k = y_k / (‖x_k‖ − θ_k)``. Then a_k(x_j) = 0 for j ≠ k and a_k(x_k) = ‖x_k‖ − θ_k,
    so ``y(x_k) = y_k`` exactly.

    Exactness condition: μ_k < ‖x_k‖ for every k. For unit-norm keys this says exactly that
    the keys are distinct (after normalisation, no two are parallel).

    Parameters
    ----------
    keys : array, shape (n_keys, n_inputs)
        Stored keys, none zero.
    values : array, shape (n_keys,) or (n_keys, n_outputs)
        Stored values (any real targets: one-hot, identity, labels).
    margin : float in [0, 1)
        Where the threshold sits between μ_k (0) and ‖x_k‖ (1); 0.5 is the robust midpoint
        θ_k = (μ_k + 1)/2 for unit keys.

    Returns
    -------
    MLP
        ``W1`` (n_keys, n_inputs), ``b1 = −θ``, ``W2`` (n_outputs, n_keys), ``b2 = 0``, ReLU.
    """
    key_array = check_points("keys", keys)
    targets = check_targets("values", values, key_array.shape[0])
    margin = check_interval("margin", margin, 0.0, 1.0, high_open=True)
    norms = np.linalg.norm(key_array, axis=1)
    if np.any(norms == 0):
        raise InvalidParameter("keys", f"key {int(np.argmin(norms))} is zero", "non-zero keys")
    unit = key_array / norms[:, None]
    overlaps = unit @ key_array.T
    np.fill_diagonal(overlaps, -np.inf)
    if key_array.shape[0] == 1:
        largest = np.zeros(1)
    else:
        largest = overlaps.max(axis=1)
        bad = np.flatnonzero(largest >= norms)
        if bad.size:
            k = int(bad[0])
            j = int(np.argmax(overlaps[k]))
            raise InvalidParameter(
                "keys",
                f"keys {k} and {j} (overlap {largest[k]:.6g} >= |key {k}| = {norms[k]:.6g})",
                "keys whose directions are distinct",
            )
    thresholds = largest + margin * (norms - largest)
    W2 = (targets / (norms - thresholds)[:, None]).T
    return MLP(W1=unit, b1=-thresholds, W2=W2, b2=np.zeros(targets.shape[1]), activation="relu")


# ----------------------------------------------------------------------------- T-gon memoriser


def _polygon_threshold(n_points: int) -> float:
    """τ = max(cos 2π/T, 0) (0 for T = 1)."""
    return 0.0 if n_points == 1 else max(math.cos(2 * math.pi / n_points), 0.0)


def polygon_weight_norm(n_points: int) -> float:
    """‖W‖_F of :func:`polygon_memorizer` on T unit-norm points: √(T / (1 − τ))
    (docs/memorisation.md#t-gon-memoriser).

    τ = max(cos 2π/T, 0); the norm is √T for T <= 4 and ≈ T^{3/2}/(√2 π) for large T.
    """
    n_points = check_int("n_points", n_points, minimum=1)
    return math.sqrt(n_points / (1.0 - _polygon_threshold(n_points)))


def polygon_memorizer(n_features: int, points: Any) -> ReluAutoencoder:
    """The exact m = 2 memoriser ``x' = ReLU(WᵀW x + b)`` placing T points on a regular T-gon.

    With u_k = (cos 2πk/T, sin 2πk/T), τ = max(cos 2π/T, 0) and A = (1 − τ)^{−1/2}, feature i
    active in point k gets ``W_i = A x_{k,i} u_k`` and ``b_i = −τ A ‖W_i‖``; unused features get
    W_i = 0, b_i = 0 (docs/memorisation.md#t-gon-memoriser). Then ``h_k = A u_k``, the own features
    of point k come out exactly and the features of other points have pre-activation
    ``‖W_i‖ A (cos θ_jk − τ) <= 0``.

    Exactness condition: unit-norm points with non-negative entries and disjoint supports (no
    feature active in two points). Train loss 0 and ‖W‖_F² = T/(1 − τ).

    Parameters
    ----------
    n_features : int
        Width n of the points.
    points : array, shape (n_points, n_features)

    Returns
    -------
    ReluAutoencoder
        Tied, ``W_in`` of shape (2, n_features).
    """
    n_features = check_int("n_features", n_features, minimum=1)
    X = check_points("points", points)
    if X.shape[1] != n_features:
        raise InvalidParameter("points", X.shape, f"shape (n_points, {n_features})")
    if np.any(X < 0):
        raise InvalidParameter("points", "negative entries", "non-negative entries")
    norms = np.linalg.norm(X, axis=1)
    off = np.flatnonzero(np.abs(norms - 1.0) > 1e-9)
    if off.size:
        raise InvalidParameter(
            "points", f"point {int(off[0])} has norm {norms[off[0]]:.6g}", "unit-norm points"
        )
    active = X > 0
    shared = np.flatnonzero(active.sum(axis=0) > 1)
    if shared.size:
        feature = int(shared[0])
        owners = np.flatnonzero(active[:, feature])[:2]
        raise InvalidParameter(
            "points",
            f"points {int(owners[0])} and {int(owners[1])} share feature {feature}",
            "points with disjoint supports",
        )
    n_points = X.shape[0]
    tau = _polygon_threshold(n_points)
    scale = 1.0 / math.sqrt(1.0 - tau)
    angles = 2 * math.pi * np.arange(n_points) / n_points
    directions = np.stack([np.cos(angles), np.sin(angles)])  # (2, T)
    owner = np.argmax(active, axis=0)  # point of each feature
    column_values = X[owner, np.arange(n_features)]  # 0 for unused features
    W = scale * column_values[None, :] * directions[:, owner]
    b = -tau * scale * np.linalg.norm(W, axis=0)
    return ReluAutoencoder.tied_from(W, b)


# ----------------------------------------------------------------------------- slab network


def _group_solution(
    X_group: np.ndarray, targets: np.ndarray, indices: np.ndarray, name: str
) -> np.ndarray:
    """Exact solution of ``X_group @ w = targets`` (all columns), or refuse the group."""
    solution, _, rank, _ = np.linalg.lstsq(X_group, targets, rcond=None)
    residual = np.max(np.abs(X_group @ solution - targets))
    scale = 1.0 + np.max(np.abs(targets))
    if rank < X_group.shape[0] or residual > 1e-9 * scale:
        raise InvalidParameter(
            name,
            f"points {indices.tolist()[:8]} are not in general position "
            f"(rank {rank} < {X_group.shape[0]})",
            "points whose groups have full rank",
        )
    return solution


def slab_memorizer(points: Any, labels: Any, group_size: int | None = None) -> MLP:
    """One hidden layer of 4⌈N/g⌉ ReLU neurons fitting N real scalar labels
    (docs/memorisation.md#slab-memoriser).

    Points are split in order into groups G of g <= d points. For each group solve
    ``w·x_k = 1`` and ``u·x_k = y_k`` (k ∈ G) exactly; with s(x) = w·x − 1, a(x) = u·x, margin
    γ = min_{x∉G} |s(x)|, δ = γ/2 and ε = δ/(4 max_x |a(x)|), the group contributes
    ``f_G(x) = [ReLU(s+δ+εa) − ReLU(s+δ) − ReLU(s−δ+εa) + ReLU(s−δ)]/ε``, which equals a(x)
    when |s| <= δ − ε|a| (so f_G(x_k) = y_k) and 0 when |s| >= δ + ε|a| (every other point).

    Exactness condition: every group's points are linearly independent (rank g) and no point
    outside a group lies on its hyperplane w·x = 1 (γ > 0). In float64 the error grows like
    machine precision / ε (docs/memorisation.md#slab-memoriser: 1e-7…1e-6 at N = 5000, d = 1000).

    Parameters
    ----------
    points : array, shape (N, d)
    labels : array, shape (N,)
    group_size : int, optional
        g in [1, d]; default d.

    Returns
    -------
    MLP
        4⌈N/g⌉ hidden ReLU neurons, one output.
    """
    X = check_points("points", points)
    y = check_targets("labels", labels, X.shape[0])
    if y.shape[1] != 1:
        raise InvalidParameter("labels", y.shape, f"scalar labels, shape ({X.shape[0]},)")
    n_points, dim = X.shape
    group = dim if group_size is None else check_int("group_size", group_size, minimum=1)
    if group > dim:
        raise InvalidParameter("group_size", group, f"at most d = {dim}")
    rows, biases, outputs = [], [], []
    for start in range(0, n_points, group):
        members = np.arange(start, min(start + group, n_points))
        solution = _group_solution(
            X[members], np.column_stack([np.ones(members.size), y[members, 0]]), members, "points"
        )
        w, u = solution[:, 0], solution[:, 1]
        others = np.setdiff1d(np.arange(n_points), members)
        gaps = np.abs(X[others] @ w - 1.0)
        gamma = float(gaps.min()) if others.size else 1.0
        if gamma <= 1e-12:
            other = int(others[int(np.argmin(gaps))])
            raise InvalidParameter(
                "points",
                f"point {other} lies on the hyperplane of group starting at {start}",
                "points off every other group's hyperplane (margin > 0)",
            )
        delta = gamma / 2
        largest = float(np.max(np.abs(X @ u)))
        epsilon = delta / (4 * largest) if largest > 0 else delta
        rows += [w + epsilon * u, w, w + epsilon * u, w]
        biases += [-1 + delta, -1 + delta, -1 - delta, -1 - delta]
        outputs += [1 / epsilon, -1 / epsilon, -1 / epsilon, 1 / epsilon]
    return MLP(
        W1=np.array(rows),
        b1=np.array(biases),
        W2=np.array(outputs)[None, :],
        b2=np.zeros(1),
        activation="relu",
    )


# ----------------------------------------------------------------------------- √N network


@register_architecture
@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class TwoHiddenLayerMLP(_ArraysMixin):
    """``x -> ReLU(W1 x + b1) -> ReLU(W2 h1 + b2) -> W3 h2 + b3`` (two hidden ReLU layers).

    The architecture of :func:`sqrt_memorizer` (:class:`~toyforge.constructions.models.MLP`
    has a single hidden layer).

    Parameters
    ----------
    W1 : ndarray, shape (n_hidden1, n_inputs)
    b1 : ndarray, shape (n_hidden1,)
    W2 : ndarray, shape (n_hidden2, n_hidden1)
    b2 : ndarray, shape (n_hidden2,)
    W3 : ndarray, shape (n_outputs, n_hidden2)
    b3 : ndarray, shape (n_outputs,)
    """

    W1: np.ndarray
    b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray
    W3: np.ndarray
    b3: np.ndarray

    architecture: ClassVar[str] = "two-hidden-layer-mlp"
    _array_fields: ClassVar[tuple[str, ...]] = ("W1", "b1", "W2", "b2", "W3", "b3")
    _hyper_fields: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        for name in self._array_fields:
            _set(self, name, as_weight_array(name, getattr(self, name), 2 if "W" in name else 1))
        for layer in (1, 2, 3):
            W, b = getattr(self, f"W{layer}"), getattr(self, f"b{layer}")
            require_shape(f"b{layer}", b, (W.shape[0],), f"rows of W{layer}")
        for layer in (2, 3):
            W, previous = getattr(self, f"W{layer}"), getattr(self, f"W{layer - 1}")
            if W.shape[1] != previous.shape[0]:
                raise IncompatibleWeights(
                    f"W{layer} has shape {W.shape}, expected "
                    f"(rows, {previous.shape[0]}) from W{layer - 1}"
                )

    @property
    def n_inputs(self) -> int:
        """Input width."""
        return int(self.W1.shape[1])

    @property
    def n_hidden(self) -> tuple[int, int]:
        """Widths of the two hidden layers."""
        return int(self.W1.shape[0]), int(self.W2.shape[0])

    def forward(self, x: Any) -> np.ndarray:
        """Output, shape (batch, n_outputs) or (n_outputs,)."""
        batch, single = _as_batch("x", x, self.n_inputs)
        first = np.maximum(batch @ self.W1.T + self.b1, 0.0)
        second = np.maximum(first @ self.W2.T + self.b2, 0.0)
        out = second @ self.W3.T + self.b3
        return out[0] if single else out


def _ramp_coefficients(
    slopes: np.ndarray, offsets: np.ndarray, gap_knots: np.ndarray, t_min: float
) -> tuple[np.ndarray, float]:
    """Express a per-group affine function as ramps: coefficients on layer-1 units and a bias.

    Group a's function is ``slopes[a]·t + offsets[a]``; gap a (between groups a and a+1) has
    knots ``gap_knots[a] = (κ1, κ2)``. Layer-1 unit 0 is ``t − t_min + 1``; units 2a+1, 2a+2
    are ``ReLU(t − κ1)``, ``ReLU(t − κ2)`` of gap a.
    """
    coefficients = np.zeros(1 + 2 * gap_knots.shape[0])
    coefficients[0] = slopes[0]
    bias = offsets[0] + slopes[0] * (t_min - 1.0)
    for gap, (first, second) in enumerate(gap_knots):
        left = slopes[gap] * first + offsets[gap]
        right = slopes[gap + 1] * second + offsets[gap + 1]
        middle = (right - left) / (second - first)
        coefficients[1 + 2 * gap] = middle - slopes[gap]
        coefficients[2 + 2 * gap] = slopes[gap + 1] - middle
    return coefficients, bias


def sqrt_memorizer(
    points: Any,
    labels: Any,
    seed: int | np.random.Generator | None = 0,
) -> TwoHiddenLayerMLP:
    """Two hidden ReLU layers of width ~2√N fitting N real scalar labels
    (docs/memorisation.md#square-root-memoriser).

    Project t = r·x (r ~ N(0, I)), sort, and split the points into K groups of L = ⌈√N⌉
    consecutive points. Layer 1 (2K − 1 units) holds the ramp t − t_min + 1 and two ramps per
    gap between groups (at 1/3 and 2/3 of the gap). Layer-2 unit (b, ±) is, on group a, the
    hinge ±w_{b,a}(t − z_{b,a}) when that has the right sign and the constant −1 otherwise;
    its pre-activation is a continuous piecewise-linear function of t with knots only in the
    gaps, hence a combination of the layer-1 ramps. The output Σ_b [ReLU(b,+) − ReLU(b,−)] is,
    within group a, the piecewise-linear interpolant of the labels
    (y_j = Σ_{b<=j} w_{b,a}(t_j − z_{b,a}), a lower-triangular solve).

    Exactness condition: the projections t are distinct (the points are distinct; r is drawn
    until they are). Floating-point error grows with N (slopes ~ 1/(gap between projected
    points); docs/memorisation.md#square-root-memoriser: 4e-6 at N = 2000, 1e-3 at N = 5000).

    Parameters
    ----------
    points : array, shape (N, d)
    labels : array, shape (N,)
    seed : int or Generator
        Draws the projection r.

    Returns
    -------
    TwoHiddenLayerMLP
        Widths 2K − 1 and 2L, one output.
    """
    X = check_points("points", points)
    y = check_targets("labels", labels, X.shape[0])[:, 0]
    if np.ndim(labels) != 1:
        raise InvalidParameter("labels", np.shape(labels), f"shape ({X.shape[0]},)")
    _refuse_duplicates(X)
    projection = as_rng(seed).normal(size=X.shape[1])
    t = X @ projection
    order = np.argsort(t, kind="stable")
    t_sorted, y_sorted = t[order], y[order]
    if np.any(np.diff(t_sorted) <= 0):  # pragma: no cover - probability zero for distinct x
        raise InvalidParameter("seed", seed, "a projection separating the points")
    n_points = X.shape[0]
    size = math.ceil(math.sqrt(n_points))
    groups = [np.arange(start, min(start + size, n_points)) for start in range(0, n_points, size)]
    knots = np.array(
        [
            [
                t_sorted[g[-1]] + (t_sorted[h[0]] - t_sorted[g[-1]]) * fraction
                for fraction in (1 / 3, 2 / 3)
            ]
            for g, h in zip(groups, groups[1:], strict=False)
        ]
    )
    knots = knots.reshape(-1, 2)
    t_min = float(t_sorted[0])
    layer2_rows, layer2_bias = [], []
    hinge_weights = [_hinges(t_sorted[g], y_sorted[g]) for g in groups]
    for position in range(size):
        for sign in (1.0, -1.0):
            slopes, offsets = np.zeros(len(groups)), np.full(len(groups), -1.0)
            for a, (weights, knots_in_group) in enumerate(hinge_weights):
                if position < weights.size and sign * weights[position] > 0:
                    slopes[a] = sign * weights[position]
                    offsets[a] = -slopes[a] * knots_in_group[position]
            coefficients, bias = _ramp_coefficients(slopes, offsets, knots, t_min)
            layer2_rows.append(coefficients)
            layer2_bias.append(bias)
    W1 = np.tile(projection, (1 + 2 * knots.shape[0], 1))
    b1 = np.concatenate([[1.0 - t_min], -knots.ravel()])
    W3 = np.tile([1.0, -1.0], size)[None, :]
    return TwoHiddenLayerMLP(
        W1=W1, b1=b1, W2=np.array(layer2_rows), b2=np.array(layer2_bias), W3=W3, b3=np.zeros(1)
    )


def _hinges(t_group: np.ndarray, y_group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hinge weights w_b and knots z_b with y_j = Σ_{b<=j} w_b (t_j − z_b) on one group."""
    knots = np.empty(t_group.size)
    knots[0] = t_group[0] - 1.0
    knots[1:] = 0.5 * (t_group[:-1] + t_group[1:])
    weights = np.empty(t_group.size)
    for j in range(t_group.size):
        partial = float(np.dot(weights[:j], t_group[j] - knots[:j]))
        weights[j] = (y_group[j] - partial) / (t_group[j] - knots[j])
    return weights, knots


def _refuse_duplicates(X: np.ndarray) -> None:
    _, first, counts = np.unique(X, axis=0, return_index=True, return_counts=True)
    if np.any(counts > 1):
        row = X[first[np.argmax(counts > 1)]]
        pair = np.flatnonzero(np.all(X == row, axis=1))[:2]
        raise InvalidParameter(
            "points", f"points {int(pair[0])} and {int(pair[1])} are equal", "distinct points"
        )


# ----------------------------------------------------------------------------- CE circle


def circle_unembedding(n_classes: int, scale: float) -> MLP:
    """The hidden-size-2 cross-entropy "final layer" dictionary of
    docs/memorisation.md#circle-unembedding.

    Token c (one-hot input) is embedded at h_c = √s·u_c and unembedded with class vectors
    w_c = √s·u_c, u_c = (cos 2πc/C, sin 2πc/C); the logit gap to class c' is
    s(1 − cos 2π(c'−c)/C) > 0, so the argmax is perfect for any C.

    Parameters
    ----------
    n_classes : int
        C >= 1.
    scale : float
        s = rR > 0 (product of the embedding and unembedding radii).

    Returns
    -------
    MLP
        ``W1`` (2, C), ``W2`` (C, 2), zero biases, identity activation: one-hot in, logits out.
    """
    n_classes = check_int("n_classes", n_classes, minimum=1)
    scale = check_interval("scale", scale, 0.0, math.inf, low_open=True)
    angles = 2 * math.pi * np.arange(n_classes) / n_classes
    directions = np.stack([np.cos(angles), np.sin(angles)])  # (2, C)
    radius = math.sqrt(scale)
    return MLP(
        W1=radius * directions,
        b1=np.zeros(2),
        W2=radius * directions.T,
        b2=np.zeros(n_classes),
        activation="identity",
    )


def circle_unembedding_loss(n_classes: int, scale: float) -> float:
    """Cross-entropy of :func:`circle_unembedding` on every class
    (docs/memorisation.md#circle-unembedding)::

        CE = log(1 + Σ_{c'≠c} exp(−s(1 − cos 2π(c'−c)/C)))

    (the same for every class c); ≈ 2 exp(−s(1 − cos 2π/C)) for large s.
    """
    n_classes = check_int("n_classes", n_classes, minimum=1)
    scale = check_interval("scale", scale, 0.0, math.inf, low_open=True)
    offsets = np.arange(1, n_classes)
    gaps = scale * (1.0 - np.cos(2 * math.pi * offsets / n_classes))
    return float(np.log1p(np.sum(np.exp(-gaps))))
