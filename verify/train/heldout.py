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
from toyforge.verify.train.data import (
    Data,
    FixedData,
    SparseFeatureData,
    SparseSource,
    draw_batch,
    source_importance,
)
from toyforge.verify.train.gradients import per_sample_losses

__all__ = ["eval_chunk", "eval_seed", "held_out_loss", "monitor_seed", "sparse_source_losses"]

EVAL_CHUNK = 4096
"""Most held-out samples drawn and evaluated at a time."""
EVAL_CHUNK_ELEMENTS = 2**24
"""Most pre-activations (chunk x n_features, float64: 128 MiB) held at a time."""


def eval_chunk(n_features: int) -> int:
    """Samples per chunk of :func:`sparse_source_losses`: ``EVAL_CHUNK``, fewer for wide
    models so that a chunk's pre-activations stay within ``EVAL_CHUNK_ELEMENTS``."""
    return max(1, min(EVAL_CHUNK, EVAL_CHUNK_ELEMENTS // max(n_features, 1)))


def sparse_source_losses(
    model: ReluAutoencoder,
    data: SparseSource,
    seed: int,
    n_samples: int,
    importance: np.ndarray | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    """Per-sample MSE of ``model`` on ``n_samples`` fresh samples of a sparse source, float64.

    The samples are drawn :func:`eval_chunk` at a time by ``data.sample`` from
    ``numpy.random.default_rng(seed)`` (float64 values). Each chunk is evaluated without
    densifying the inputs: the first layer reads only the active columns of ``W_in``
    (:func:`toyforge.verify.kernels.autoencoder_eval.sparse_hidden`), one GEMM gives the
    pre-activations and one pass the loss ``Σ_i I_i (y_i − x_i)²`` over ``n`` (``"mean"``) or
    not (``"sum_features"``) (:func:`toyforge.verify.kernels.autoencoder_eval.relu_mse_rows`),
    in float64. :func:`toyforge.verify.train.gradients.per_sample_losses` of the dense batches
    is the reference.
    """
    # numba loads on the first evaluation, not when the trainer is imported
    from toyforge.verify.kernels.autoencoder_eval import relu_mse_rows, sparse_hidden

    W_in_T = np.ascontiguousarray(np.asarray(model.W_in, dtype=np.float64).T)
    W_out_T = np.asarray(model.W_out, dtype=np.float64).T
    bias = np.ascontiguousarray(model.b, dtype=np.float64)
    weights = np.zeros(0) if importance is None else np.asarray(importance, dtype=np.float64)
    rng, chunk = np.random.default_rng(seed), eval_chunk(model.n_features)
    chunks, remaining = [], n_samples
    while remaining > 0:
        size = min(remaining, chunk)
        remaining -= size
        batch = data.sample(rng, size, np.float64)
        values = np.asarray(batch.values, dtype=np.float64)
        hidden = np.empty((size, W_in_T.shape[1]))
        sparse_hidden(batch.indptr, batch.indices, values, W_in_T, hidden)
        losses = np.empty(size)
        relu_mse_rows(hidden @ W_out_T, bias, batch.indptr, batch.indices, values, weights, losses)
        chunks.append(losses if reduction == "mean" else losses * model.n_features)
    return np.concatenate(chunks)


def held_out_loss(
    model: Any, data: Data, config: TrainConfig, seed: int, n_samples: int | None = None
) -> Estimate | None:
    """Held-out loss of ``model`` as an Estimate (mean ± SE of per-sample losses).

    Fresh data (a :class:`SparseSource`, :class:`GeneratedData`): ``n_samples`` (default
    ``config.eval_samples``) new samples from ``seed``. The autoencoder with the plain mean
    MSE on :class:`SparseFeatureData` goes through
    :func:`toyforge.verify.evaluate.evaluators.evaluate`; on other sparse sources (non-identical
    features, importance weights from the source or the config,
    :func:`~toyforge.verify.train.data.source_importance`) through
    :func:`sparse_source_losses`; other cases use
    :func:`toyforge.verify.train.gradients.per_sample_losses` in chunks. :class:`FixedData`: its
    test set (None if it has none).
    """
    weights = source_importance(data, config.importance)
    importance = None if weights is None else np.asarray(weights)
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
    if (
        isinstance(data, SparseSource)
        and config.loss == "mse"
        and isinstance(model, ReluAutoencoder)
    ):
        values = sparse_source_losses(
            model, data, seed, n_samples or config.eval_samples, importance, config.reduction
        )
        return Estimate.from_samples(values)
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
