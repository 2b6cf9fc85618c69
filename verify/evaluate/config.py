"""What an evaluation is asked for: the sparse data distribution and the evaluation request.

:class:`SparseDataSpec` is the permutation-symmetric sparse distribution ``x_i = B_i U_i`` the
autoencoders are evaluated on; :class:`EvaluationRequest` is what ``toyforge evaluate`` (or
:func:`toyforge.verify.evaluate.evaluators.evaluate_model`) hands the evaluator registered for a
model's architecture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from toyforge.core.errors import InvalidParameter
from toyforge.core.validate import (
    check_choice,
    check_int,
    check_probability,
    check_real,
    check_seed,
)
from toyforge.verify.data.sampling import VALUE_DISTRIBUTIONS

__all__ = [
    "DEFAULT_BATCH",
    "DEFAULT_SAMPLES",
    "PATHS",
    "EvaluationRequest",
    "SparseDataSpec",
]

PATHS = ("auto", "hidden", "product", "dense")
"""Autoencoder evaluation paths (:func:`toyforge.verify.evaluate.autoencoder.choose_path`)."""
DEFAULT_SAMPLES = 100_000
DEFAULT_BATCH = 1024
MAX_LOG_WEIGHT = 600.0
"""Largest |log| of an importance weight (float64 overflows near exp(709))."""


@dataclass(frozen=True, kw_only=True, slots=True)
class SparseDataSpec:
    """The permutation-symmetric sparse data distribution ``x_i = B_i U_i``.

    Parameters
    ----------
    feature_prob : float
        p in (0, 1]: probability that a feature is active.
    value_dist : {"uniform", "constant"}
        Active values U[0,1) (the spec's data) or 1.
    importance : float or None
        If given, the squared error of feature i is weighted by ``(i+1)^(−importance)``
        (prediction and label both scaled by ``(i+1)^(−importance/2)``,
        docs/large_n_theory.md#model-data-and-loss).
    """

    feature_prob: float
    value_dist: str = "uniform"
    importance: float | None = None

    def __post_init__(self) -> None:
        check_probability("feature_prob", self.feature_prob)
        check_choice("value_dist", self.value_dist, VALUE_DISTRIBUTIONS)
        if self.importance is not None:
            check_real("importance", self.importance)

    def feature_weights(self, n_features: int) -> np.ndarray:
        """Weights ``c_i`` of the squared errors, float64 (n_features,); empty when unweighted."""
        if self.importance is None or self.importance == 0:
            return np.empty(0, dtype=np.float64)
        # (i+1)^-importance over- or underflows past exp(+-MAX_LOG_WEIGHT): refuse, not inf/0
        if abs(float(self.importance)) * math.log(max(n_features, 2)) > MAX_LOG_WEIGHT:
            raise InvalidParameter(
                "importance",
                self.importance,
                f"|importance| * ln(n_features) <= {MAX_LOG_WEIGHT:g} (n_features = "
                f"{n_features}), so that the weights (i+1)^-importance are finite and non-zero",
            )
        return np.arange(1, n_features + 1, dtype=np.float64) ** (-float(self.importance))


@dataclass(frozen=True, kw_only=True, slots=True)
class EvaluationRequest:
    """What ``toyforge evaluate`` (or :func:`evaluate_model`) asks an evaluator for.

    Evaluators ignore the fields that do not apply to their architecture (exact evaluators
    ignore the sampling fields).
    """

    feature_prob: float | None = None
    n_samples: int = DEFAULT_SAMPLES
    seed: int = 0
    batch_size: int = DEFAULT_BATCH
    value_dist: str = "uniform"
    importance: float | None = None
    path: str = "auto"

    def __post_init__(self) -> None:
        if self.feature_prob is not None:
            check_probability("feature_prob", self.feature_prob)
        check_int("n_samples", self.n_samples, minimum=2)
        check_seed("seed", self.seed)
        check_int("batch_size", self.batch_size, minimum=1)
        check_choice("value_dist", self.value_dist, VALUE_DISTRIBUTIONS)
        check_choice("path", self.path, PATHS)

    def data_spec(self) -> SparseDataSpec:
        """The sparse data distribution; needs ``feature_prob``."""
        if self.feature_prob is None:
            raise InvalidParameter(
                "feature_prob",
                None,
                "a probability in (0, 1] (required to sample data for this model)",
            )
        return SparseDataSpec(
            feature_prob=self.feature_prob, value_dist=self.value_dist, importance=self.importance
        )
