"""Held-out losses of a model during and after training (value ± standard error).

See ``docs/training.md#the-convergence-rule``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from toyforge.constructions.models import ReluAutoencoder
from toyforge.verify.evaluate.estimate import Estimate
from toyforge.verify.evaluate.evaluators import SparseDataSpec, evaluate
from toyforge.verify.train.config import TrainConfig
from toyforge.verify.train.data import Data, FixedData, SparseFeatureData, draw_batch
from toyforge.verify.train.gradients import per_sample_losses

__all__ = ["eval_seed", "held_out_loss", "monitor_seed"]


def held_out_loss(
    model: Any, data: Data, config: TrainConfig, seed: int, n_samples: int | None = None
) -> Estimate | None:
    """Held-out loss of ``model`` as an Estimate (mean ± SE of per-sample losses).

    Fresh data (:class:`SparseFeatureData`, :class:`GeneratedData`): ``n_samples`` (default
    ``config.eval_samples``) new samples from ``seed`` (the autoencoder with the plain mean
    MSE goes through
    :func:`toyforge.verify.evaluate.evaluators.evaluate`; other cases use
    :func:`toyforge.verify.train.gradients.per_sample_losses` in chunks). :class:`FixedData`: its
    test set (None if it has none).
    """
    importance = None if config.importance is None else np.asarray(config.importance)
    kwargs = {"loss": config.loss, "importance": importance, "reduction": config.reduction}
    if isinstance(data, FixedData):
        if data.test_inputs is None:
            return None
        values = per_sample_losses(
            model, np.asarray(data.test_inputs, dtype=np.float64), data.test_targets, **kwargs
        )
        return Estimate.from_samples(values)
    if (
        isinstance(data, SparseFeatureData)
        and importance is None
        and config.loss == "mse"
        and config.reduction == "mean"
        and isinstance(model, ReluAutoencoder)
    ):
        spec = SparseDataSpec(feature_prob=data.feature_prob, value_dist=data.value_dist)
        return evaluate(model, spec, n_samples=n_samples or config.eval_samples, seed=seed)
    rng = np.random.default_rng(seed)
    chunks = []
    remaining = n_samples or config.eval_samples
    while remaining > 0:
        size = min(remaining, 4096)
        inputs, targets = draw_batch(data, rng, size, np.dtype(np.float64))
        chunks.append(per_sample_losses(model, inputs, targets, **kwargs))
        remaining -= size
    return Estimate.from_samples(np.concatenate(chunks))


def eval_seed(seed: int) -> int:
    """The held-out seed of a run with training seed ``seed``: an independent stream."""
    return int(np.random.SeedSequence([seed, 0x5EED]).generate_state(1)[0])


def monitor_seed(seed: int) -> int:
    """The seed of the convergence rule's fixed held-out set (independent of both others)."""
    return int(np.random.SeedSequence([seed, 0xC0DE]).generate_state(1)[0])


def monitor_loss(model: Any, data: Data, config: TrainConfig) -> float:
    """The loss the convergence rule watches: one fixed held-out set for the whole run.

    Fresh data: ``config.convergence.eval_samples`` samples drawn from
    :func:`monitor_seed` (the same samples at every check). :class:`FixedData`: its test set,
    else the whole training set (deterministic either way).
    """
    rule = config.convergence
    n_samples = None if rule is None else rule.eval_samples
    if isinstance(data, FixedData) and data.test_inputs is None:
        importance = None if config.importance is None else np.asarray(config.importance)
        values = per_sample_losses(
            model,
            np.asarray(data.inputs, dtype=np.float64),
            data.targets,
            loss=config.loss,
            importance=importance,
            reduction=config.reduction,
        )
        return float(np.mean(values))
    estimate = held_out_loss(model, data, config, monitor_seed(config.seed), n_samples)
    return float(estimate.value)  # type: ignore[union-attr]
