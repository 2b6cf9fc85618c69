"""Geometry of correlated and anticorrelated feature pairs in a small TMS model.

docs/non_uniform_features.md#correlated-and-anticorrelated-pairs. Features come in pairs
``(2k, 2k + 1)`` whose activity indicators have Pearson correlation ``rho``
(:class:`toyforge.verify.data.feature_sampler.CorrelatedPair`); the tied ReLU-output model
``x' = ReLU(W^T W x + b)`` of Elhage et al. (2022) is trained on them. Features that rarely
fire together can share a direction with opposite signs (antipodal: the ReLU removes the
negative interference), features that fire together cannot, and end up closer to orthogonal
(the observation of the TMS paper's correlated-features section, reproduced in ARENA's
toy-model chapter). The result reports the cosine between the two directions of each pair.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toyforge.core.validate import check_int, check_interval
from toyforge.verify.data.feature_sampler import CorrelatedPair, FeatureDistribution
from toyforge.verify.evaluate.estimate import Estimate
from toyforge.verify.train.autoencoder import train
from toyforge.verify.train.config import TrainConfig
from toyforge.verify.train.data import GeneratedData
from toyforge.verify.train.initialisers import init_relu_autoencoder
from toyforge.verify.train.optim import AdamConfig

__all__ = ["PairGeometry", "PairGeometryConfig", "train_pair_geometry"]


@dataclass(frozen=True, kw_only=True, slots=True)
class PairGeometryConfig:
    """``n_pairs`` pairs of features with probability ``feature_prob`` and pair correlation
    ``correlation``, in a tied model of width ``n_hidden``; best of ``restarts`` seeds."""

    correlation: float
    feature_prob: float = 0.05
    n_pairs: int = 2
    n_hidden: int = 2
    steps: int = 3000
    batch_size: int = 1024
    lr: float = 1e-2
    restarts: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        check_interval("correlation", self.correlation, -1.0, 1.0)
        check_interval("feature_prob", self.feature_prob, 0.0, 1.0, low_open=True)
        check_int("n_pairs", self.n_pairs, minimum=1)
        check_int("n_hidden", self.n_hidden, minimum=1)
        check_int("steps", self.steps, minimum=1)
        check_int("batch_size", self.batch_size, minimum=1)
        check_interval("lr", self.lr, 0.0, np.inf, low_open=True)
        check_int("restarts", self.restarts, minimum=1)
        check_int("seed", self.seed, minimum=0)
        self.distribution()  # refuses an impossible joint law before any training

    def distribution(self) -> FeatureDistribution:
        """The data law: every feature at ``feature_prob``, pairs ``(2k, 2k + 1)`` correlated."""
        pairs = tuple(
            CorrelatedPair(first=2 * k, second=2 * k + 1, correlation=self.correlation)
            for k in range(self.n_pairs)
        )
        probs = np.full(2 * self.n_pairs, self.feature_prob)
        return FeatureDistribution(feature_probs=probs, pairs=pairs)


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class PairGeometry:
    """The kept model's ``W`` (n_hidden x n_features), the cosine inside each pair, the held-out
    loss (importance 1, summed over features) and the seed kept."""

    config: PairGeometryConfig
    weights: np.ndarray
    pair_cosines: np.ndarray
    loss: Estimate
    seed: int


def _cosines(W: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(W, axis=0)
    unit = W / np.where(norms > 0, norms, 1.0)
    return np.array([unit[:, 2 * k] @ unit[:, 2 * k + 1] for k in range(W.shape[1] // 2)])


def train_pair_geometry(config: PairGeometryConfig) -> PairGeometry:
    """Train ``restarts`` tied models and keep the one with the lowest held-out loss."""
    sampler = config.distribution().dense_sampler()
    n = 2 * config.n_pairs
    best = None
    for restart in range(config.restarts):
        seed = config.seed + restart
        model = init_relu_autoencoder(n, config.n_hidden, seed, tied=True, scheme="xavier_normal")
        run = TrainConfig(
            steps=config.steps,
            batch_size=config.batch_size,
            optimizer=AdamConfig(lr=config.lr),
            reduction="sum_features",
            dtype="float64",
            seed=seed,
            log_every=max(config.steps // 50, 1),
            eval_samples=8192,
        )
        result = train(model, GeneratedData(sample=sampler), run)
        if best is None or result.final_eval.value < best[0].final_eval.value:
            best = (result, seed)
    assert best is not None
    W = np.asarray(best[0].model.W_in, dtype=np.float64)
    return PairGeometry(
        config=config, weights=W, pair_cosines=_cosines(W), loss=best[0].final_eval, seed=best[1]
    )
