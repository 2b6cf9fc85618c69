"""Structure reader: which solution family each feature of a ReLU autoencoder belongs to.

docs/solution_families.md#the-structure-reader. For the encoder columns ``W_i`` (features):

* feature dimensionality ``D_i = |W_i|^2 / sum_j (W_i_hat . W_j)^2`` (Elhage et al. 2022,
  "Toy Models of Superposition"; computed by :func:`~toyforge.verify.evaluate.dimensionality.
  feature_dimensionality`, the project's one implementation);
* the partner graph: ``j`` is a *strong negative partner* of ``i`` when the cosine of their
  columns is below ``-antipodal`` (default -0.7);
* how concentrated feature ``i``'s interference is: the fraction of ``sum_{j != i}
  (W_i_hat . W_j)^2`` carried by partners with ``|cos| > 0.3``.

Each feature gets a label: ``dropped`` (readout ``(W_out W_in)_ii`` below 0.1),
``dedicated`` (``D_i > 0.9``), a polytope when its interference is concentrated (>= 90 % in
strong partners: with a single strong partner that is antipodal (cosine below -0.95)
``digon`` when ``D_i`` is within 0.05 of 1/2, ``asymmetric-digon`` otherwise (unequal
norms); else named by the
nearest TMS dimensionality plateau: 3/4 tetrahedron, 2/3 triangle, 2/5 pentagon, 3/8 square
antiprism, 1/3 hexagon), else a rug:
``pair-rug`` with a strong negative partner, ``persian-rug`` without. Family shares: fraction
of features per label and, for neurons, the labels' share of ``sum_i D_i``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from toyforge.core.budget import check_memory
from toyforge.core.errors import InvalidParameter
from toyforge.core.validate import check_interval
from toyforge.verify.evaluate.dimensionality import feature_dimensionality

__all__ = ["PLATEAUS", "StructureReport", "read_structure"]

PLATEAUS = {
    "tetrahedron": 3 / 4,
    "triangle": 2 / 3,
    "digon": 1 / 2,
    "pentagon": 2 / 5,
    "square-antiprism": 3 / 8,
    "hexagon": 1 / 3,
}
_STRONG = 0.3
_CONCENTRATED = 0.9
_DROPPED_READOUT = 0.1
_DEDICATED = 0.9


@dataclass(frozen=True, kw_only=True, slots=True)
class StructureReport:
    """Per-feature structure of one model and the family shares it implies.

    Attributes
    ----------
    n_features, n_hidden : int
    dimensionality : ndarray (n_features,)
        ``D_i``.
    min_cosine : ndarray (n_features,)
        Most negative cosine to another feature (1.0 if n_features == 1).
    n_partners : ndarray of int (n_features,)
        Number of strong negative partners.
    concentration : ndarray (n_features,)
        Share of the interference carried by partners with ``|cos| > 0.3``.
    labels : ndarray of str (n_features,)
        The family label of every feature (module docstring).
    feature_shares, neuron_shares : dict
        Label -> fraction of features, label -> fraction of ``sum_i D_i``.
    """

    n_features: int
    n_hidden: int
    dimensionality: np.ndarray
    min_cosine: np.ndarray
    n_partners: np.ndarray
    concentration: np.ndarray
    labels: np.ndarray
    feature_shares: dict[str, float] = field(default_factory=dict)
    neuron_shares: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (medians of the per-feature arrays and the shares)."""
        return {
            "n_features": self.n_features,
            "n_hidden": self.n_hidden,
            "sum_dimensionality": float(np.sum(self.dimensionality)),
            "median_dimensionality": float(np.median(self.dimensionality)),
            "median_min_cosine": float(np.median(self.min_cosine)),
            "features_with_a_partner": float(np.mean(self.n_partners > 0)),
            "feature_shares": dict(self.feature_shares),
            "neuron_shares": dict(self.neuron_shares),
        }


def _nearest_plateau(value: float) -> str:
    return min(PLATEAUS, key=lambda name: abs(PLATEAUS[name] - value))


def _labels(dims, readout, min_cos, concentration, n_strong) -> np.ndarray:
    labels = []
    for d, w, c, conc, strong in zip(dims, readout, min_cos, concentration, n_strong, strict=True):
        if w < _DROPPED_READOUT:
            labels.append("dropped")
        elif d > _DEDICATED:
            labels.append("dedicated")
        elif conc >= _CONCENTRATED and c <= -0.95 and strong == 1:
            labels.append("digon" if abs(d - 0.5) < 0.05 else "asymmetric-digon")
        elif conc >= _CONCENTRATED:
            labels.append(_nearest_plateau(d))
        else:
            labels.append("pair-rug" if c <= -0.7 else "persian-rug")
    return np.array(labels)


def read_structure(
    w_in: Any, w_out: Any | None = None, *, antipodal: float = 0.7
) -> StructureReport:
    """Read the solution structure of a ReLU autoencoder from its weights.

    Parameters
    ----------
    w_in : array (n_hidden, n_features)
        Encoder (feature directions as columns).
    w_out : array (n_features, n_hidden), optional
        Decoder; the readout ``(W_out W_in)_ii`` decides ``dropped`` (default: ``W_in^T``).
    antipodal : float
        A partner is strong when the cosine is below ``-antipodal``; in (0, 1].

    Returns
    -------
    StructureReport
    """
    antipodal = check_interval("antipodal", antipodal, 0.0, 1.0, low_open=True)
    w_in = np.asarray(w_in, dtype=np.float64)
    if w_in.ndim != 2 or w_in.size == 0 or not np.all(np.isfinite(w_in)):
        raise InvalidParameter("W_in", np.shape(w_in), "a non-empty finite 2-D array")
    n_hidden, n = w_in.shape
    w_out = w_in.T if w_out is None else np.asarray(w_out, dtype=np.float64)
    if w_out.shape != (n, n_hidden):
        raise InvalidParameter("W_out", w_out.shape, f"shape {(n, n_hidden)}")
    check_memory("n_features", n, 8.0 * 3 * n * n, what="the feature overlap matrices")
    dims = feature_dimensionality(w_in)
    norms = np.linalg.norm(w_in, axis=0)
    unit = w_in / np.where(norms > 0, norms, 1.0)[None, :]
    cosine = unit.T @ unit
    np.fill_diagonal(cosine, np.inf)
    min_cos = np.min(cosine, axis=1) if n > 1 else np.ones(1)
    np.fill_diagonal(cosine, 0.0)
    overlap = (unit.T @ w_in) ** 2  # (W_i_hat . W_j)^2
    np.fill_diagonal(overlap, 0.0)
    total = overlap.sum(axis=1)
    strong = (np.abs(cosine) > _STRONG) & (norms[None, :] > 0)
    concentration = np.where(
        total > 0, (overlap * strong).sum(axis=1) / np.where(total > 0, total, 1), 1.0
    )
    readout = np.einsum("ij,ji->i", w_out, w_in)
    labels = _labels(dims, readout, min_cos, concentration, strong.sum(axis=1))
    n_partners = (cosine < -antipodal).sum(axis=1)
    dim_total = float(np.sum(dims)) or 1.0
    names = sorted(set(labels.tolist()))
    return StructureReport(
        n_features=n,
        n_hidden=n_hidden,
        dimensionality=dims,
        min_cosine=min_cos,
        n_partners=n_partners,
        concentration=concentration,
        labels=labels,
        feature_shares={k: float(np.mean(labels == k)) for k in names},
        neuron_shares={k: float(np.sum(dims[labels == k]) / dim_total) for k in names},
    )
