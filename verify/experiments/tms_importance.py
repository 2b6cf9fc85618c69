"""The TMS importance experiment: 20 features, 5 hidden, importance 0.9^i, a sparsity sweep.

docs/non_uniform_features.md#the-tms-importance-experiment. Elhage et al. (2022, "Toy Models of
Superposition") train the tied ReLU-output model ``x' = ReLU(W^T W x + b)`` on features that are
active with probability ``1 - S`` (values U[0, 1)) with importance-weighted MSE
``sum_i I_i (x_i - x'_i)^2``, ``I_i = 0.9^i``. As S grows, more features are represented
(``||W_i|| ~ 1``) and they share dimensions: the feature dimensionality
``D_i = ||W_i||^2 / sum_j (W^_i . W_j)^2`` sticks at 1, 3/4, 2/3, 1/2, 2/5, 3/8, 0.

Each point of the sweep is trained with the project's trainer through its TMS setting
(:func:`toyforge.verify.experiments.reconstruction.train_setting`) from ``restarts`` seeds,
keeping the lowest test loss (the paper's remedy for bad local optima at small m).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from toyforge.core.errors import InvalidParameter
from toyforge.core.validate import check_int, check_interval
from toyforge.verify.evaluate.dimensionality import (
    dimensions_per_feature,
    feature_dimensionality,
    feature_interference,
)
from toyforge.verify.evaluate.estimate import Estimate
from toyforge.verify.experiments.reconstruction import ToySettingConfig, train_setting

__all__ = [
    "STICKY_VALUES",
    "TmsImportanceConfig",
    "TmsImportanceResult",
    "run_tms_importance",
    "sticky_fractions",
]

STICKY_VALUES = (1.0, 0.75, 2.0 / 3.0, 0.5, 0.4, 0.375, 0.0)
"""Feature dimensionalities of the TMS geometry (own dimension, tetrahedron, triangle,
antipodal pair, pentagon, square antiprism, not learned)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class TmsImportanceConfig:
    """The sweep: model size, importance decay, feature probabilities ``1 - S``, optimiser."""

    n_features: int = 20
    n_hidden: int = 5
    importance_decay: float = 0.9
    feature_probs: tuple[float, ...] = (1.0, 0.3, 0.1, 0.03, 0.01)
    steps: int = 3000
    batch_size: int = 1024
    lr: float = 1e-3
    restarts: int = 2
    n_test: int = 4000
    seed: int = 0

    def __post_init__(self) -> None:
        check_int("n_features", self.n_features, minimum=2)
        check_int("n_hidden", self.n_hidden, minimum=1)
        check_interval("importance_decay", self.importance_decay, 0.0, 1.0, low_open=True)
        probs = tuple(float(p) for p in self.feature_probs)
        if not probs:
            raise InvalidParameter("feature_probs", probs, "at least one probability")
        for p in probs:
            check_interval("feature_probs", p, 0.0, 1.0, low_open=True)
        object.__setattr__(self, "feature_probs", probs)
        check_int("steps", self.steps, minimum=1)
        check_int("batch_size", self.batch_size, minimum=1)
        check_interval("lr", self.lr, 0.0, np.inf, low_open=True)
        check_int("restarts", self.restarts, minimum=1)
        check_int("n_test", self.n_test, minimum=2)
        check_int("seed", self.seed, minimum=0)


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class TmsImportanceResult:
    """Per feature probability (first axis): the kept model's feature matrix ``W`` (m x n),
    ``norms`` ``||W_i||``, ``dimensionality`` ``D_i``, ``interference``
    ``sum_{j != i} (W^_i . W_j)^2``, ``dims_per_feature`` ``D* = m / ||W||_F^2``, and the test
    loss (importance-weighted, summed over features, per point) of the kept run."""

    config: TmsImportanceConfig
    weights: np.ndarray
    norms: np.ndarray
    dimensionality: np.ndarray
    interference: np.ndarray
    dims_per_feature: np.ndarray
    test_loss: tuple[Estimate, ...]
    seeds: tuple[int, ...]


def _setting(config: TmsImportanceConfig, p: float, seed: int) -> ToySettingConfig:
    return ToySettingConfig(
        setting="tms",
        n_features=config.n_features,
        n_hidden=config.n_hidden,
        sparsity=1.0 - p,
        importance_decay=config.importance_decay,
        steps=config.steps,
        batch_size=config.batch_size,
        lr=config.lr,
        n_test=config.n_test,
        seed=seed,
    )


def run_tms_importance(
    config: TmsImportanceConfig, progress: Callable[[int, int], None] | None = None
) -> TmsImportanceResult:
    """Train the sweep (``len(feature_probs) * restarts`` runs) and measure the geometry.

    ``progress(done, total)`` is called after each run. Same config, same bits.
    """
    total = len(config.feature_probs) * config.restarts
    kept, losses, seeds = [], [], []
    done = 0
    for k, p in enumerate(config.feature_probs):
        best = None
        for restart in range(config.restarts):
            seed = config.seed + 1000 * k + restart
            result = train_setting(_setting(config, p, seed))
            if best is None or result.test_loss.value < best[0].test_loss.value:
                best = (result, seed)
            done += 1
            if progress is not None:
                progress(done, total)
        assert best is not None
        kept.append(np.asarray(best[0].model.W_in, dtype=np.float64))
        losses.append(best[0].test_loss)
        seeds.append(best[1])
    weights = np.stack(kept)
    return TmsImportanceResult(
        config=config,
        weights=weights,
        norms=np.linalg.norm(weights, axis=1),
        dimensionality=np.stack([feature_dimensionality(w) for w in weights]),
        interference=np.stack([feature_interference(w) for w in weights]),
        dims_per_feature=np.array([dimensions_per_feature(w) for w in weights]),
        test_loss=tuple(losses),
        seeds=tuple(seeds),
    )


def sticky_fractions(dimensionality: np.ndarray, tolerance: float = 0.03) -> dict[float, float]:
    """Fraction of the given feature dimensionalities within ``tolerance`` of each sticky value
    (and ``nan`` key: within none of them)."""
    values = np.ravel(np.asarray(dimensionality, dtype=float))
    if values.size == 0:
        raise InvalidParameter("dimensionality", values.size, "at least one value")
    check_interval("tolerance", tolerance, 0.0, 0.5, low_open=True)
    distance = np.abs(values[:, None] - np.array(STICKY_VALUES)[None, :])
    nearest = np.argmin(distance, axis=1)
    close = distance[np.arange(values.size), nearest] <= tolerance
    out = {v: float(np.mean(close & (nearest == i))) for i, v in enumerate(STICKY_VALUES)}
    out[float("nan")] = float(np.mean(~close))
    return out
