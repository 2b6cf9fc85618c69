"""Where the trainer's batches come from: fresh sparse features, a fixed dataset, a user function.

Any object with ``n_features`` and ``sample(rng, batch_size, dtype) -> SparseBatch`` is a
:class:`SparseSource` and trains on the sparse kernel path: the uniform
:class:`SparseFeatureData`, and the non-identical features of
:class:`toyforge.verify.data.feature_sampler.FeatureDistribution` (per-feature firing rates,
importances, magnitude laws, correlated pairs, exclusive groups). See
``docs/training.md#the-trainer-protocol`` and
``docs/non_uniform_features.md#training-on-non-identical-features``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from toyforge.core.errors import InvalidParameter
from toyforge.core.validate import check_choice, check_int, check_probability
from toyforge.verify.data.sampling import sample_sparse_batch

__all__ = [
    "Data",
    "FixedData",
    "GeneratedData",
    "SparseFeatureData",
    "SparseSource",
    "draw_batch",
    "source_importance",
]


@runtime_checkable
class SparseSource(Protocol):
    """Fresh sparse batches: ``sample(rng, batch_size, dtype)`` returns a CSR
    :class:`~toyforge.verify.data.sampling.SparseBatch` of ``n_features`` columns drawn from
    ``rng`` alone (the same generator state gives the same batch), target = input.

    :class:`SparseFeatureData` and :class:`toyforge.verify.data.feature_sampler.FeatureDistribution`
    are sparse sources. A source may carry ``importance`` (one loss weight per feature), which
    the trainer uses as :attr:`toyforge.verify.train.config.TrainConfig.importance`
    (:func:`source_importance`).
    """

    @property
    def n_features(self) -> int: ...

    def sample(self, rng: np.random.Generator, batch_size: int, dtype: Any) -> Any: ...


@dataclass(frozen=True, kw_only=True, slots=True)
class SparseFeatureData:
    """Fresh sparse batches every step: ``x_i = B_i U_i``, target = x (the Persian-rug setting).

    Parameters
    ----------
    n_features : int
    feature_prob : float
        Probability p in (0, 1] that a feature is active.
    value_dist : {"uniform", "constant"}
        Active values U[0,1) or 1 (:func:`toyforge.verify.data.sampling.sample_sparse_batch`).
    """

    n_features: int
    feature_prob: float
    value_dist: str = "uniform"

    def __post_init__(self) -> None:
        check_int("n_features", self.n_features, minimum=1)
        check_probability("feature_prob", self.feature_prob)
        check_choice("value_dist", self.value_dist, ("uniform", "constant"))

    def sample(self, rng: np.random.Generator, batch_size: int, dtype: np.dtype) -> Any:
        """One :class:`toyforge.verify.data.sampling.SparseBatch`."""
        return sample_sparse_batch(
            self.n_features,
            self.feature_prob,
            batch_size,
            rng,
            dtype=dtype,
            value_dist=self.value_dist,
        )


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class FixedData:
    """A fixed training set (and optionally a test set), as dense arrays.

    Parameters
    ----------
    inputs : ndarray, shape (n_points, n_features)
    targets : ndarray, optional
        (n_points, n_outputs) for MSE; (n_points,) integer classes or (n_points, n_classes)
        probabilities for cross-entropy. None means ``targets = inputs`` (autoencoding).
    test_inputs, test_targets : ndarray, optional
        Held-out set used for the evaluations during and after training.
    """

    inputs: np.ndarray
    targets: np.ndarray | None = None
    test_inputs: np.ndarray | None = None
    test_targets: np.ndarray | None = None

    def __post_init__(self) -> None:
        inputs = np.asarray(self.inputs)
        if inputs.ndim != 2 or inputs.shape[0] < 1:
            raise InvalidParameter("inputs", inputs.shape, "a 2-D array with at least one row")
        object.__setattr__(self, "inputs", inputs)
        if self.targets is not None:
            targets = np.asarray(self.targets)
            if targets.shape[0] != inputs.shape[0]:
                raise InvalidParameter(
                    "targets", targets.shape, f"{inputs.shape[0]} rows (one per input)"
                )
            object.__setattr__(self, "targets", targets)
        if (self.test_targets is not None) and self.test_inputs is None:
            raise InvalidParameter("test_targets", "given", "only together with test_inputs")

    @property
    def n_points(self) -> int:
        """Number of training points."""
        return int(self.inputs.shape[0])


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class GeneratedData:
    """Fresh dense batches from a user function ``sample(rng, batch_size)``.

    ``sample`` returns ``inputs`` (autoencoding) or ``(inputs, targets)``; it must draw all its
    randomness from ``rng`` for the run to be reproducible.
    """

    sample: Callable[[np.random.Generator, int], Any]


Data = SparseSource | FixedData | GeneratedData


def source_importance(
    data: object, importance: tuple[float, ...] | None
) -> tuple[float, ...] | None:
    """The loss weights of a run on ``data``: the config's ``importance`` and the source's own.

    A source whose ``importance`` is all ones (the default of a
    :class:`~toyforge.verify.data.feature_sampler.FeatureDistribution`) states nothing, and the
    config's weights (or None) are used; otherwise the source's weights are used, and a config
    that gives different weights is refused.

    Raises
    ------
    InvalidParameter
        ``importance`` given in both places with different values.
    """
    own = getattr(data, "importance", None)
    if own is None or not isinstance(data, SparseSource):
        return importance
    weights = np.asarray(own, dtype=np.float64).ravel()
    if np.all(weights == 1.0):
        return importance
    if importance is None:
        return tuple(weights.tolist())
    given = np.asarray(importance, dtype=np.float64).ravel()
    if given.shape != weights.shape or not np.allclose(given, weights, rtol=1e-12, atol=0.0):
        raise InvalidParameter(
            "importance",
            f"{given.size} weights that differ from the data's",
            "None (the data's own importance is used) or the data's importance",
        )
    return importance


def draw_batch(
    data: Data, rng: np.random.Generator, size: int, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray | None]:
    """``size`` fresh dense samples ``(inputs, targets)`` (targets None: autoencoding)."""
    if isinstance(data, SparseSource):
        return data.sample(rng, size, dtype).to_dense(), None
    drawn = data.sample(rng, size)  # type: ignore[union-attr]
    if isinstance(drawn, tuple):
        inputs, targets = drawn
        return np.asarray(inputs, dtype=dtype), targets
    return np.asarray(drawn, dtype=dtype), None
