"""``predict`` and ``predict_grid``: the large-N loss, its regime and every baseline.

Regimes (docs/large_n_theory.md#regimes), decided in this order:

* ``"time-sharing"``: dropping a fraction of the features and giving the rest more neurons
  (:mod:`toyforge.theory.timesharing`) beats the symmetric optimum by more than a relative
  ``1e-9`` (numerical noise level);
* ``"linear"``: otherwise, if the symmetric optimum lies on the *linear branch*: an inactive
  feature's pre-activation ``c* + sigma z`` is clipped with probability
  ``Phi(-c*/sigma) < 0.01`` (``c*/sigma > 2.326``), so the ReLU acts as the identity and the loss
  is within a hair of the linear loss ``(1 - r) v``;
* ``"symmetric"``: otherwise (the threshold branch of the Persian-rug solution).

The reported ``loss`` is the lower envelope ``min(symmetric_loss, time_sharing_loss)``.
``scale``, ``c``, ``bias`` always describe the symmetric optimum (what the Persian-rug
construction needs).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import ndtr

from toyforge.core.errors import InvalidParameter
from toyforge.core.validate import check_interval
from toyforge.theory.asymptotics import leading_asymptotic_loss, refined_asymptotic_loss
from toyforge.theory.baselines import (
    constant_loss,
    jumprelu_loss,
    linear_loss,
    mmse_loss,
    zero_loss,
)
from toyforge.theory.envelope import Envelope, envelope
from toyforge.theory.large_n_loss import symmetric_optimum
from toyforge.theory.structured_rug import pair_rug_optimum
from toyforge.theory.timesharing import TimeSharing, grid_time_sharing, time_sharing

__all__ = [
    "MIN_RATIO",
    "REGIMES",
    "Prediction",
    "PredictionGrid",
    "StructureComponent",
    "exact_at_ratio",
    "predict",
    "predict_grid",
]

REGIMES = ("symmetric", "time-sharing", "linear")
TIME_SHARING_TOLERANCE = 1e-9
LINEAR_BRANCH_CLIP_PROBABILITY = 0.01
MIN_RATIO = 1e-12
"""Smallest ratio accepted: below it every solution's loss differs from dropping all features
(``p/3 - p^2/4``) by less than 1e-12 relative, and the symmetric optimiser loses precision."""
_RATIO_RANGE = f"{MIN_RATIO:g} <= ratio <= 1 (as ratio -> 0 the loss tends to p/3 - p^2/4)"

_ARRAY_FIELDS = (
    "loss",
    "scale",
    "c",
    "bias",
    "sigma",
    "symmetric_loss",
    "time_sharing_loss",
    "time_sharing_fraction",
    "linear_loss",
    "zero_loss",
    "constant_loss",
    "mmse_loss",
    "jumprelu_loss",
    "asymptotic_loss",
    "refined_asymptotic_loss",
    "envelope_loss",
)
_OPTIONAL_FIELDS = ("mmse_loss", "jumprelu_loss")
_STRUCTURE_FIELDS = ("family", "feature_share", "dims", "scale", "bias")
_COMPONENT_KEYS = ("feature_share", "neuron_share", "dims_per_feature", "scale", "bias")


@dataclass(frozen=True, kw_only=True, slots=True)
class StructureComponent:
    """One family of the envelope's mixture (docs/solution_families.md#the-envelope).

    Attributes
    ----------
    family : str
        ``dropped``, ``dedicated``, a polytope of :data:`toyforge.theory.families.FAMILIES`,
        ``persian-rug`` or ``pair-rug``.
    feature_share, neuron_share : float
        Fraction of all features and of all hidden neurons it gets.
    dims_per_feature : float
        Hidden neurons per feature inside the component (the rug's own ratio for rugs).
    scale, bias : float
        Output scale ``s`` (``W_out = s W_in^T``) and bias ``b``; a dropped feature has
        scale 0 and bias ``p/2`` (the best constant).
    """

    family: str
    feature_share: float
    neuron_share: float
    dims_per_feature: float
    scale: float
    bias: float

    def __post_init__(self) -> None:
        for name in ("feature_share", "neuron_share"):
            value = getattr(self, name)
            if not (math.isfinite(value) and -1e-12 <= value <= 1 + 1e-12):
                raise InvalidParameter(name, value, "a share in [0, 1]")
        for name in ("dims_per_feature", "scale", "bias"):
            if not math.isfinite(getattr(self, name)):
                raise InvalidParameter(name, getattr(self, name), "a finite number")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def _components(ratio: float, values: dict[str, np.ndarray]) -> tuple[StructureComponent, ...]:
    """Structure components from per-slot values (slots with zero share are left out)."""
    out = []
    for slot in range(2):
        share = float(values["feature_share"][slot])
        if not values["family"][slot] or share <= 1e-12:
            continue
        dims = float(values["dims"][slot])
        out.append(
            StructureComponent(
                family=str(values["family"][slot]),
                feature_share=min(share, 1.0),
                neuron_share=min(share * dims / ratio, 1.0),
                dims_per_feature=dims,
                scale=float(values["scale"][slot]),
                bias=float(values["bias"][slot]),
            )
        )
    return tuple(out)


@dataclass(frozen=True, kw_only=True, slots=True)
class Prediction:
    """Large-N prediction at one (ratio, feature_prob); per-feature, per-sample MSE.

    Attributes
    ----------
    ratio, feature_prob : float
        ``r = n_hidden / n_features`` and ``p``.
    loss : float
        Lower envelope ``min(symmetric_loss, time_sharing_loss)``.
    regime : str
        ``"symmetric"``, ``"time-sharing"`` or ``"linear"`` (module docstring).
    scale, c, bias : float
        Symmetric optimum ``a*``, ``c*`` and effective bias ``a* c*``
        (docs/large_n_theory.md#the-closed-form-loss).
    sigma : float
        ``sqrt((1/r - 1)(p/3 - p^2/4))``.
    symmetric_loss, time_sharing_loss : float
        ``L_sym`` (docs/large_n_theory.md#the-closed-form-loss) and the best two-group time-sharing
        loss (docs/large_n_theory.md#time-sharing).
    time_sharing_fraction : float
        Fraction of features served by the best time-sharing solution (1: none dropped).
    linear_loss, zero_loss, constant_loss : float
        ``(1 - r) v``, ``p/3``, ``v``.
    mmse_loss, jumprelu_loss : float
        Elementwise bounds on the same Gaussian interference
        (docs/large_n_theory.md#elementwise-bounds-mmse-and-jumprelu).
    asymptotic_loss, refined_asymptotic_loss : float
        Leading high-sparsity law and its refined u-equation form
        (docs/large_n_theory.md#high-sparsity-laws).
    envelope_loss : float
        Loss of the best mixture of solution families (lower convex hull;
        docs/solution_families.md#the-envelope); never above ``loss``.
    linear_branch : bool
        The symmetric optimum clips inactive features with probability below 1%.
    structure : tuple of StructureComponent
        The families of the envelope's mixture (one or two).
    """

    ratio: float
    feature_prob: float
    loss: float
    regime: str
    scale: float
    c: float
    bias: float
    sigma: float
    symmetric_loss: float
    time_sharing_loss: float
    time_sharing_fraction: float
    linear_loss: float
    zero_loss: float
    constant_loss: float
    mmse_loss: float
    jumprelu_loss: float
    asymptotic_loss: float
    refined_asymptotic_loss: float
    envelope_loss: float
    linear_branch: bool
    structure: tuple[StructureComponent, ...] = ()

    def __post_init__(self) -> None:
        if self.regime not in REGIMES:
            raise InvalidParameter("regime", self.regime, "one of " + ", ".join(REGIMES))
        for name in _ARRAY_FIELDS:
            value = getattr(self, name)
            if name in _OPTIONAL_FIELDS and math.isnan(value):
                continue  # bounds not computed (predict_grid(bounds=False))
            if not math.isfinite(value):
                raise InvalidParameter(name, value, "a finite number")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict of every field (``structure`` as a list of dicts)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["structure"] = [component.to_dict() for component in self.structure]
        return out

    def structure_label(self) -> str:
        """``"pentagon 60% + digon 40%"``: families and feature shares."""
        return " + ".join(f"{c.family} {100 * c.feature_share:.0f}%" for c in self.structure)


@dataclass(frozen=True, kw_only=True, slots=True)
class PredictionGrid:
    """Predictions on a grid: every array has shape (len(ratios), len(feature_probs)).

    Fields are those of :class:`Prediction` as 2-D arrays (``regime`` an array of str,
    ``linear_branch`` of bool) plus the axes ``ratios`` and ``feature_probs`` (1-D). The
    envelope's structure is stored per slot (last axis of length 2): ``structure_family``
    (str, ``""`` when unused), ``structure_feature_share``, ``structure_dims``,
    ``structure_scale``, ``structure_bias``.
    """

    ratios: np.ndarray
    feature_probs: np.ndarray
    loss: np.ndarray
    regime: np.ndarray
    scale: np.ndarray
    c: np.ndarray
    bias: np.ndarray
    sigma: np.ndarray
    symmetric_loss: np.ndarray
    time_sharing_loss: np.ndarray
    time_sharing_fraction: np.ndarray
    linear_loss: np.ndarray
    zero_loss: np.ndarray
    constant_loss: np.ndarray
    mmse_loss: np.ndarray
    jumprelu_loss: np.ndarray
    asymptotic_loss: np.ndarray
    refined_asymptotic_loss: np.ndarray
    envelope_loss: np.ndarray
    linear_branch: np.ndarray
    structure_family: np.ndarray
    structure_feature_share: np.ndarray
    structure_dims: np.ndarray
    structure_scale: np.ndarray
    structure_bias: np.ndarray

    def __post_init__(self) -> None:
        shape = (self.ratios.size, self.feature_probs.size)
        for name in (*_ARRAY_FIELDS, "regime", "linear_branch"):
            if getattr(self, name).shape != shape:
                raise InvalidParameter(name, getattr(self, name).shape, f"shape {shape}")
        for name in _STRUCTURE_FIELDS:
            value = getattr(self, "structure_" + name)
            if value.shape != (*shape, 2):
                raise InvalidParameter("structure_" + name, value.shape, f"shape {(*shape, 2)}")

    @property
    def shape(self) -> tuple[int, int]:
        """``(len(ratios), len(feature_probs))``."""
        return (self.ratios.size, self.feature_probs.size)

    def at(self, i: int, j: int) -> Prediction:
        """The :class:`Prediction` at ``ratios[i]``, ``feature_probs[j]``."""
        values = {name: float(getattr(self, name)[i, j]) for name in _ARRAY_FIELDS}
        slots = {name: getattr(self, "structure_" + name)[i, j] for name in _STRUCTURE_FIELDS}
        return Prediction(
            ratio=float(self.ratios[i]),
            feature_prob=float(self.feature_probs[j]),
            regime=str(self.regime[i, j]),
            linear_branch=bool(self.linear_branch[i, j]),
            structure=_components(float(self.ratios[i]), slots),
            **values,
        )

    def to_rows(self) -> list[dict[str, Any]]:
        """Tidy table: one flat dict per grid point (ratio-major).

        Keys as in Prediction.to_dict, with ``structure`` replaced by ``structure`` (a label
        such as ``"pentagon 60% + digon 40%"``) and, per component ``k`` in 1, 2,
        ``structure_k_family``, ``_feature_share``, ``_neuron_share``, ``_dims_per_feature``,
        ``_scale``, ``_bias`` (empty when unused).
        """
        rows = []
        for i in range(self.shape[0]):
            for j in range(self.shape[1]):
                prediction = self.at(i, j)
                row = prediction.to_dict()
                row["structure"] = prediction.structure_label()
                for k in range(2):
                    part = (
                        prediction.structure[k].to_dict() if k < len(prediction.structure) else {}
                    )
                    for key in ("family", *_COMPONENT_KEYS):
                        row[f"structure_{k + 1}_{key}"] = part.get(key, "")
                rows.append(row)
        return rows


def _check_array(name: str, values: Any, allowed: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as error:
        raise InvalidParameter(name, values, allowed) from error
    if array.ndim != 1 or array.size == 0:
        raise InvalidParameter(name, values, f"a non-empty 1-D sequence, {allowed}")
    bad = ~(np.isfinite(array) & (array > 0) & (array <= 1))
    if np.any(bad):
        raise InvalidParameter(name, float(array[np.argmax(bad)]), allowed)
    return array


def _put(slots: dict, mask: np.ndarray, slot: int, **values: Any) -> None:
    for key, value in values.items():
        target = slots[key][..., slot]
        target[mask] = np.broadcast_to(np.asarray(value, dtype=target.dtype), target.shape)[mask]


def _exact_pair_rug(ratio, p, loss, slots) -> np.ndarray:
    """Where the hull interpolates between two pair-rug grid points, the exact pair rug at
    ``r`` if lower; returns the updated loss (``slots`` updated in place)."""
    pair = (slots["family"] == "pair-rug").all(axis=-1) & (ratio <= 0.5)
    if not np.any(pair):
        return loss
    exact = np.full(loss.shape, np.inf)
    opt = pair_rug_optimum(ratio[pair], p[pair])
    exact[pair] = opt.loss
    better = exact < loss
    scale, bias = np.zeros(loss.shape), np.zeros(loss.shape)
    scale[pair], bias[pair] = opt.scale, opt.bias
    _put(slots, better, 0, family="pair-rug", feature_share=1.0, dims=ratio, scale=scale, bias=bias)
    _put(slots, better, 1, family="", feature_share=0.0, dims=0.0, scale=0.0, bias=0.0)
    return np.where(better, exact, loss)


def _existing_solution(ratio, p, loss, slots, fields) -> np.ndarray:
    """Where the symmetric or time-sharing ``loss`` is lower than the hull, use it."""
    better = fields["loss"] < loss
    if not np.any(better):
        return loss
    served = fields["time_sharing_fraction"]
    sharing = better & (served < 1.0)
    scale, bias = fields["scale"].copy(), fields["bias"].copy()
    if np.any(sharing):
        opt = symmetric_optimum(ratio[sharing] / served[sharing], p[sharing])
        scale[sharing], bias[sharing] = opt.scale, opt.bias
    rug = {"family": "persian-rug", "feature_share": served, "dims": ratio / served}
    _put(slots, better, 0, scale=scale, bias=bias, **rug)
    drop = {"family": "dropped", "feature_share": 1.0 - served, "dims": 0.0}
    _put(slots, better, 1, scale=0.0, bias=p / 2, **drop)
    _put(slots, better & ~sharing, 1, family="")
    return np.where(better, fields["loss"], loss)


def exact_at_ratio(
    ratio: np.ndarray, feature_prob: np.ndarray, hull_loss: np.ndarray, slots: dict[str, Any]
) -> np.ndarray:
    """The hull value improved by the solutions evaluated exactly at the ratio itself.

    Where lower than ``hull_loss``: the exact pair rug at ``r`` (when both hull vertices are
    pair-rug grid points), then the symmetric or time-sharing loss at ``r``. What
    :func:`predict` reports as ``envelope_loss``; the feature-class allocation applies it at
    each class's neurons per feature.

    Parameters
    ----------
    ratio, feature_prob, hull_loss : ndarray
        One shape, ``MIN_RATIO <= ratio <= 1``.
    slots : dict
        The two hull components per point: ``family`` (object array), ``feature_share``,
        ``dims``, ``scale``, ``bias``, each of that shape plus a last axis of length 2;
        updated in place to the solution whose loss is returned.

    Returns
    -------
    ndarray
        The loss, never above ``hull_loss``.
    """
    loss = _exact_pair_rug(ratio, feature_prob, hull_loss, slots)
    return _existing_solution(ratio, feature_prob, loss, slots, _rug_fields(ratio, feature_prob))


def _with_envelope(r_axis: np.ndarray, p_axis: np.ndarray, fields: dict[str, Any]) -> None:
    """Add ``envelope_loss`` and the ``structure_*`` slots to ``fields`` (grid arrays).

    The hull of :func:`toyforge.theory.envelope.envelope`, then, where lower, the exact
    pair rug at ``r`` and the existing ``loss`` (symmetric or time sharing), so the envelope
    is never above ``loss``.
    """
    hull: Envelope = envelope(r_axis, p_axis)
    ratio, p = np.meshgrid(r_axis, p_axis, indexing="ij")
    slots = {
        key: getattr(hull, key).astype(object if key == "family" else float)
        for key in _STRUCTURE_FIELDS
    }
    loss = _exact_pair_rug(ratio, p, hull.loss.copy(), slots)
    loss = _existing_solution(ratio, p, loss, slots, fields)
    fields["envelope_loss"] = loss
    for key in _STRUCTURE_FIELDS:
        fields["structure_" + key] = slots[key].astype(str) if key == "family" else slots[key]


def _check_ratio(name: str, values: np.ndarray) -> None:
    small = values < MIN_RATIO
    if np.any(small):
        raise InvalidParameter(name, float(values[np.argmax(small)]), _RATIO_RANGE)


def _rug_fields(
    ratio: np.ndarray, p: np.ndarray, sharing: TimeSharing | None = None, optimum: Any = None
) -> dict[str, Any]:
    """The Persian rug at ``r`` or time sharing, whichever is lower (beyond the tolerance):
    ``loss``, ``time_sharing_fraction``, ``scale``, ``bias`` (of the symmetric optimum), and
    ``optimum``, ``symmetric_loss``, ``shared``, ``gains`` for :func:`_assemble`."""
    if optimum is None:
        optimum = symmetric_optimum(ratio, p)
    if sharing is None:
        sharing = time_sharing(ratio, p, optimum.loss)
    sym = optimum.loss
    shared = np.minimum(sharing.loss, sym)
    gains = (shared < sym * (1.0 - TIME_SHARING_TOLERANCE)) & (sharing.served_fraction < 1.0)
    return {
        "loss": np.where(gains, shared, sym),
        "time_sharing_fraction": np.where(gains, sharing.served_fraction, 1.0),
        "scale": optimum.scale,
        "bias": optimum.bias,
        "optimum": optimum,
        "symmetric_loss": sym,
        "shared": shared,
        "gains": gains,
    }


def _assemble(
    ratio: np.ndarray,
    p: np.ndarray,
    sharing: TimeSharing | None,
    optimum: Any = None,
    bounds: bool = True,
) -> dict[str, Any]:
    """Every field as arrays of the broadcast shape of ``ratio`` and ``p``.

    ``optimum`` is :func:`symmetric_optimum` at these points if already computed. Without
    ``bounds`` the MMSE and JumpReLU fields are NaN (they are the most expensive part).
    """
    rug = _rug_fields(ratio, p, sharing, optimum)
    optimum, sym, shared, gains = rug["optimum"], rug["symmetric_loss"], rug["shared"], rug["gains"]
    safe_sigma = np.where(optimum.sigma > 0, optimum.sigma, 1.0)
    clip_probability = np.where(optimum.sigma > 0, ndtr(-optimum.c / safe_sigma), 0.0)
    linear_branch = (optimum.sigma > 0) & (clip_probability < LINEAR_BRANCH_CLIP_PROBABILITY)
    regime = np.where(gains, "time-sharing", np.where(linear_branch, "linear", "symmetric"))
    linear = linear_loss(ratio, p)
    if bounds:
        jump = np.minimum(jumprelu_loss(ratio, p), sym)
        mmse = np.minimum(mmse_loss(ratio, p), jump)
    else:
        jump = mmse = np.full(np.broadcast(ratio, p).shape, np.nan)
    return {
        "loss": rug["loss"],
        "regime": regime,
        "scale": optimum.scale,
        "c": optimum.c,
        "bias": optimum.bias,
        "sigma": optimum.sigma,
        "symmetric_loss": sym,
        "time_sharing_loss": shared,
        "time_sharing_fraction": rug["time_sharing_fraction"],
        "linear_loss": linear,
        "zero_loss": zero_loss(p) + 0 * ratio,
        "constant_loss": constant_loss(p) + 0 * ratio,
        "mmse_loss": mmse,
        "jumprelu_loss": jump,
        "asymptotic_loss": leading_asymptotic_loss(ratio, p),
        "refined_asymptotic_loss": refined_asymptotic_loss(ratio, p),
        "linear_branch": linear_branch,
    }


def predict(ratio: float, feature_prob: float) -> Prediction:
    """Large-N loss of the permutation-symmetric ReLU autoencoder and its baselines.

    Parameters
    ----------
    ratio : float
        ``n_hidden / n_features``, ``1e-12 <= ratio <= 1`` (1 is exact: loss 0; below
        :data:`MIN_RATIO` refused: the loss there is ``p/3 - p^2/4`` to 12 digits).
    feature_prob : float
        Probability that a feature is on, ``0 < feature_prob <= 1``.

    Returns
    -------
    Prediction

    Raises
    ------
    InvalidParameter
        For values outside the domain (or not finite real numbers).
    """
    r = check_interval("ratio", ratio, 0.0, 1.0, low_open=True)
    p = check_interval("feature_prob", feature_prob, 0.0, 1.0, low_open=True)
    _check_ratio("ratio", np.array([r]))
    fields = _assemble(np.array([[r]]), np.array([[p]]), None)
    _with_envelope(np.array([r]), np.array([p]), fields)
    values = {name: float(fields[name][0, 0]) for name in _ARRAY_FIELDS}
    slots = {name: fields["structure_" + name][0, 0] for name in _STRUCTURE_FIELDS}
    return Prediction(
        ratio=r,
        feature_prob=p,
        regime=str(fields["regime"][0, 0]),
        linear_branch=bool(fields["linear_branch"][0, 0]),
        structure=_components(r, slots),
        **values,
    )


def predict_grid(ratios: Any, feature_probs: Any, *, bounds: bool = True) -> PredictionGrid:
    """:func:`predict` on every pair of ``ratios x feature_probs``, vectorised.

    Parameters
    ----------
    ratios : sequence of float
        1-D, each in (0, 1].
    feature_probs : sequence of float
        1-D, each in (0, 1].
    bounds : bool
        Compute the elementwise lower bounds (``mmse_loss``, ``jumprelu_loss``;
        docs/large_n_theory.md#elementwise-bounds-mmse-and-jumprelu).
        They take about two thirds of the time; without them those two fields are NaN and
        every other field is unchanged.

    Returns
    -------
    PredictionGrid
        Arrays of shape (len(ratios), len(feature_probs)). The time-sharing search shares one
        geometric grid of served ratios per feature_prob column, and its exact refinement
        once per (column, bracket) group (agrees with :func:`predict` to about 1e-4 relative in
        ``time_sharing_loss``).
    """
    r_axis = _check_array("ratios", ratios, "values with 0 < ratio <= 1")
    p_axis = _check_array("feature_probs", feature_probs, "values with 0 < feature_prob <= 1")
    _check_ratio("ratios", r_axis)
    ratio, p = np.meshgrid(r_axis, p_axis, indexing="ij")
    optimum = symmetric_optimum(ratio, p)
    sharing = grid_time_sharing(r_axis, p_axis, optimum.loss)
    fields = _assemble(ratio, p, sharing, optimum, bounds=bounds)
    _with_envelope(r_axis, p_axis, fields)
    return PredictionGrid(ratios=r_axis, feature_probs=p_axis, **fields)
