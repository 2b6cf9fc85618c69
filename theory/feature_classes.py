"""Large-N loss when features come in classes: who is dedicated, who shares a rug, who is dropped.

docs/non_uniform_features.md#features-in-classes. The ``n`` features fall into classes ``k``
holding a fraction ``w_k`` of them, each class with its own firing probability ``p_k`` and
importance ``I_k``, symmetric within the class. The loss is the mean over features of
``I_i E[(y_i - x_i)^2]``. Hidden neurons can be split among the classes (each part uses its own
neurons: a block-diagonal construction), so with ``rho_k`` neurons per feature for class ``k``::

    L(r) = min  sum_k w_k I_k H_k(rho_k)   subject to  sum_k w_k rho_k <= r,  0 <= rho_k <= 1,

where ``H_k`` is the lower convex hull, at ``p_k``, of the solution points (neurons per
feature, loss per feature) of the identical-feature envelope — the one list,
:func:`toyforge.theory.envelope.solution_points`: dropped ``(0, p/3 - p^2/4)``, dedicated
``(1, 0)``, every polytope block of :mod:`toyforge.theory.families`, the asymmetric digon, and
the Persian-rug and pair-rug curves sampled on fixed grids with tangent points refined off
them (:func:`toyforge.theory.envelope.solution_hulls`). Each ``H_k`` is convex and piecewise
linear, so the problem is a separable convex allocation solved exactly by water filling: hull
segments of all classes are taken in order of their loss reduction per neuron
``I_k (L_a - L_b) / (x_b - x_a)`` until the budget ``r`` is spent. Each class's solution is
then evaluated exactly at its ``rho_k`` where that is lower than the hull's chord (the exact
pair rug, the Persian rug or time sharing at ``rho_k``;
:func:`toyforge.theory.predict.exact_at_ratio`), so one class reproduces the envelope that
:func:`toyforge.theory.predict.predict` reports.

Sampling the rug curves on a grid makes ``H_k`` an upper bound of the hull of the continuous
curves (every value is the loss of an explicit mixture); the test suite bounds the effect of
the grid. A continuous law ``p(t), I(t)`` over the feature rank ``t in [0, 1]`` is handled by
:func:`binned_allocation`: bins with the largest (smallest) ``p`` and ``I`` of each bin give an
upper (lower) bound, because the optimal loss is non-decreasing in every ``p_k <= 2/3`` and
every ``I_k``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from toyforge.core.errors import InvalidParameter
from toyforge.core.validate import check_int, check_interval
from toyforge.theory.envelope import SolutionHull, solution_hulls
from toyforge.theory.predict import MIN_RATIO, exact_at_ratio

__all__ = [
    "BinnedAllocation",
    "ClassAllocation",
    "ClassPart",
    "ClassResult",
    "FeatureClass",
    "allocate_classes",
    "binned_allocation",
    "class_hulls",
]

MONOTONE_PROB_LIMIT = 2.0 / 3.0
"""Below this ``p`` the dropped loss ``p/3 - p^2/4`` increases with ``p``."""


@dataclass(frozen=True, kw_only=True, slots=True)
class FeatureClass:
    """Identical features: a share ``fraction`` of all features, probability, importance."""

    fraction: float
    feature_prob: float
    importance: float = 1.0

    def __post_init__(self) -> None:
        check_interval("fraction", self.fraction, 0.0, 1.0, low_open=True)
        check_interval("feature_prob", self.feature_prob, 0.0, 1.0, low_open=True)
        check_interval("importance", self.importance, 0.0, np.inf)


@dataclass(frozen=True, kw_only=True, slots=True)
class ClassPart:
    """One solution used inside a class: its family, the share of the class's features it
    takes, its neurons per feature, and its scale and bias (``dropped``: scale 0, bias p/2)."""

    family: str
    feature_share: float
    dims: float
    scale: float
    bias: float


@dataclass(frozen=True, kw_only=True, slots=True)
class ClassResult:
    """A class's allocation: neurons per feature, loss per feature (unweighted), its parts."""

    feature_class: FeatureClass
    dims_per_feature: float
    loss: float
    parts: tuple[ClassPart, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class ClassAllocation:
    """The optimal allocation at ``ratio`` hidden neurons per feature.

    ``hull_loss`` is the water-filling optimum over the classes' hulls (mean over features of
    importance times MSE); ``loss`` is that allocation with each class's solution evaluated
    exactly at its neurons per feature where that is lower (never above ``hull_loss``);
    ``marginal_value`` is ``-d(hull_loss)/dr`` from the right at ``ratio`` (the loss bought
    back by the next neuron per feature).
    """

    ratio: float
    loss: float
    hull_loss: float
    marginal_value: float
    classes: tuple[ClassResult, ...]


def class_hulls(feature_probs: np.ndarray) -> list[SolutionHull]:
    """The solution hull (neurons per feature -> loss per feature) at each probability: the
    identical-feature envelope's (:func:`toyforge.theory.envelope.solution_hulls`)."""
    return solution_hulls(feature_probs)


def _check_classes(classes: tuple[FeatureClass, ...]) -> np.ndarray:
    if not classes or not all(isinstance(c, FeatureClass) for c in classes):
        raise InvalidParameter("classes", classes, "one or more FeatureClass")
    fractions = np.array([c.fraction for c in classes])
    if abs(fractions.sum() - 1.0) > 1e-9:
        raise InvalidParameter("fraction", fractions.sum(), "fractions summing to 1")
    return fractions


def _water_fill(hulls, weights, importance, ratio) -> tuple[np.ndarray, float]:
    """Neurons per feature of each class, and the right derivative ``-dL/dr`` at ``ratio``."""
    segments = []
    for k, hull in enumerate(hulls):
        for j in range(hull.dims.size - 1):
            gain = importance[k] * (hull.loss[j] - hull.loss[j + 1])
            width = hull.dims[j + 1] - hull.dims[j]
            segments.append((gain / width, k, width))
    segments.sort(key=lambda item: -item[0])
    dims, budget = np.zeros(len(hulls)), ratio
    slack = 1e-12 * max(ratio, 1.0)
    for value, k, width in segments:
        if budget <= slack:
            return dims, float(value)
        take = min(width, budget / weights[k])
        dims[k] = min(dims[k] + take, hulls[k].dims[-1])
        budget -= take * weights[k]
        if take < width * (1 - 1e-12):
            return dims, float(value)
    return dims, 0.0


_SLOT_KEYS = ("family", "feature_share", "dims", "scale", "bias")


def _hull_slots(hull: SolutionHull, dims: float) -> tuple[float, dict[str, np.ndarray]]:
    """The hull's value at ``dims`` and its two vertices with their feature shares."""
    dims = min(max(dims, 0.0), float(hull.dims[-1]))
    right = int(np.clip(np.searchsorted(hull.dims, dims, side="left"), 1, hull.dims.size - 1))
    a, b = right - 1, right
    share_a = float((hull.dims[b] - dims) / (hull.dims[b] - hull.dims[a]))
    share_a = min(max(share_a, 0.0), 1.0)
    if share_a < 1e-12 or share_a > 1 - 1e-12:
        share_a = float(round(share_a))
    loss = share_a * hull.loss[a] + (1 - share_a) * hull.loss[b]
    slots = {
        "family": np.array([hull.names[a], hull.names[b]], dtype=object),
        "feature_share": np.array([share_a, 1 - share_a]),
        "dims": hull.dims[[a, b]].astype(float),
        "scale": hull.scale[[a, b]].astype(float),
        "bias": hull.bias[[a, b]].astype(float),
    }
    return float(loss), slots


def _parts(slots: dict[str, np.ndarray], k: int) -> tuple[ClassPart, ...]:
    return tuple(
        ClassPart(
            family=str(slots["family"][k, i]),
            feature_share=float(slots["feature_share"][k, i]),
            dims=float(slots["dims"][k, i]),
            scale=float(slots["scale"][k, i]),
            bias=float(slots["bias"][k, i]),
        )
        for i in range(2)
        if slots["family"][k, i] and slots["feature_share"][k, i] > 1e-12
    )


def _exact_at_dims(probs: np.ndarray, dims: np.ndarray, hulls) -> tuple[np.ndarray, dict]:
    """Per class: the hull value at its neurons per feature, improved where possible by the
    solutions evaluated exactly there (:func:`toyforge.theory.predict.exact_at_ratio`)."""
    values = [_hull_slots(hull, d) for hull, d in zip(hulls, dims, strict=True)]
    loss = np.array([v[0] for v in values])
    slots = {key: np.stack([v[1][key] for v in values]) for key in _SLOT_KEYS}
    inside = (dims >= MIN_RATIO) & (dims < 1.0)
    if np.any(inside):
        sub = {key: value[inside] for key, value in slots.items()}
        loss[inside] = exact_at_ratio(dims[inside], probs[inside], loss[inside], sub)
        for key, value in sub.items():
            slots[key][inside] = value
    return loss, slots


def allocate_classes(
    classes: tuple[FeatureClass, ...] | list[FeatureClass], ratio: float, *, hulls=None
) -> ClassAllocation:
    """The optimal large-N allocation of ``ratio`` neurons per feature among feature classes.

    Parameters
    ----------
    classes : sequence of FeatureClass
        Fractions must sum to 1.
    ratio : float
        Hidden neurons per feature ``m / n``, > 0.
    hulls : optional
        Precomputed :func:`class_hulls` of the classes' probabilities (to scan many ratios).

    Returns
    -------
    ClassAllocation
    """
    classes = tuple(classes)
    weights = _check_classes(classes)
    ratio = check_interval("ratio", ratio, 0.0, np.inf, low_open=True)
    if hulls is None:
        hulls = class_hulls(np.array([c.feature_prob for c in classes]))
    # identical classes (same p and importance) are one class: they get the same neurons
    keys = [(c.feature_prob, c.importance) for c in classes]
    first = {key: k for k, key in reversed(list(enumerate(keys)))}
    groups = sorted(set(first.values()))
    group_of = np.array([groups.index(first[key]) for key in keys])
    group_weight = np.bincount(group_of, weights=weights, minlength=len(groups))
    group_hulls = [hulls[k] for k in groups]
    importance = np.array([classes[k].importance for k in groups])
    dims, marginal = _water_fill(group_hulls, group_weight, importance, ratio)
    hull_loss = sum(
        group_weight[g] * importance[g] * _hull_slots(hull, dims[g])[0]
        for g, hull in enumerate(group_hulls)
    )
    probs = np.array([classes[k].feature_prob for k in groups])
    loss, slots = _exact_at_dims(probs, dims, group_hulls)
    results = tuple(
        ClassResult(
            feature_class=feature_class,
            dims_per_feature=float(dims[g]),
            loss=float(loss[g]),
            parts=_parts(slots, g),
        )
        for feature_class, g in zip(classes, group_of, strict=True)
    )
    return ClassAllocation(
        ratio=ratio,
        loss=float(np.sum(group_weight * importance * loss)),
        hull_loss=float(hull_loss),
        marginal_value=float(marginal),
        classes=results,
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class BinnedAllocation:
    """A continuous law's loss bracketed by binning: ``lower <= L <= upper``; ``loss`` is the
    midpoint and ``error`` the half-width (a rigorous bound; see :func:`binned_allocation`)."""

    ratio: float
    n_bins: int
    loss: float
    error: float
    lower: float
    upper: float


def _bin_edges(probe: np.ndarray, p_probe: np.ndarray, n_bins: int) -> np.ndarray:
    """Half the edges uniform in ``t``, half uniform in ``log p`` (read off the probe grid)."""
    uniform = np.linspace(0.0, 1.0, n_bins // 2 + 1)
    log_p = np.log(p_probe)
    if log_p[-1] == log_p[0]:
        return np.linspace(0.0, 1.0, n_bins + 1)
    levels = np.linspace(log_p[0], log_p[-1], n_bins - n_bins // 2 + 1)
    order = np.argsort(log_p, kind="stable")
    by_level = np.interp(levels, log_p[order], probe[order])
    edges = np.unique(np.concatenate([uniform, by_level, [0.0, 1.0]]))
    return edges


def _checked_law(feature_prob: Callable, importance: Callable, probe: np.ndarray) -> np.ndarray:
    """``p`` on the probe grid, after checking both laws are monotone and in range."""
    p_probe, i_probe = np.asarray(feature_prob(probe), float), np.asarray(importance(probe), float)
    for name, values in (("feature_prob", p_probe), ("importance", i_probe)):
        steps = np.diff(values)
        if not (np.all(steps >= 0) or np.all(steps <= 0)):
            raise InvalidParameter(name, "a non-monotone law", "a law monotone in the rank")
    if np.any(~((p_probe > 0) & (p_probe <= MONOTONE_PROB_LIMIT))):
        raise InvalidParameter("feature_prob", float(p_probe.max()), "0 < p <= 2/3")
    if np.any(~(np.isfinite(i_probe) & (i_probe >= 0))):
        raise InvalidParameter("importance", float(i_probe.min()), "finite, >= 0")
    return p_probe


def binned_allocation(
    feature_prob: Callable[[np.ndarray], np.ndarray],
    importance: Callable[[np.ndarray], np.ndarray],
    ratios: np.ndarray | float,
    n_bins: int = 64,
) -> list[BinnedAllocation]:
    """Loss of a continuous law over feature rank ``t in [0, 1]``, bracketed by binning.

    About ``n_bins`` bins (half of the edges equally spaced in ``t``, half equally spaced in
    ``log p``); bin ``[t_j, t_{j+1}]`` becomes a class of fraction ``t_{j+1} - t_j``. With ``p``
    and ``I`` taken at the bin end where they are largest the loss is an upper bound; at the end
    where they are smallest, a lower bound. Valid because ``p(t)`` and ``I(t)`` are monotone in
    ``t`` (checked on a grid of ``64 n_bins`` points) and the optimal loss is non-decreasing in
    every class's ``p <= 2/3`` and importance (each candidate's loss at fixed neurons per
    feature increases with ``p``).

    Parameters
    ----------
    feature_prob, importance : callable
        Vectorised functions of ``t`` (arrays in, arrays out).
    ratios : float or array
        Neurons per feature at which to evaluate.
    n_bins : int
        At least 2.

    Returns
    -------
    list of BinnedAllocation
        One per ratio.
    """
    n_bins = check_int("n_bins", n_bins, minimum=2)
    ratios = np.atleast_1d(np.asarray(ratios, float))
    probe = np.linspace(0.0, 1.0, 64 * n_bins + 1)
    p_probe = _checked_law(feature_prob, importance, probe)
    edges = _bin_edges(probe, p_probe, n_bins)
    p_ends, i_ends = np.asarray(feature_prob(edges), float), np.asarray(importance(edges), float)
    fractions = np.diff(edges)
    bounds = {}
    for side, pick in (("upper", np.maximum), ("lower", np.minimum)):
        p = pick(p_ends[:-1], p_ends[1:])
        imp = pick(i_ends[:-1], i_ends[1:])
        classes = tuple(
            FeatureClass(fraction=float(w), feature_prob=float(a), importance=float(b))
            for w, a, b in zip(fractions, p, imp, strict=True)
        )
        hulls = class_hulls(p)
        bounds[side] = [allocate_classes(classes, float(r), hulls=hulls).loss for r in ratios]
    return [
        BinnedAllocation(
            ratio=float(r),
            n_bins=int(fractions.size),
            loss=0.5 * (low + high),
            error=0.5 * (high - low),
            lower=low,
            upper=high,
        )
        for r, low, high in zip(ratios, bounds["lower"], bounds["upper"], strict=True)
    ]
