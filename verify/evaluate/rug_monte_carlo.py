"""Matrix-free Monte Carlo loss of the Persian-rug autoencoder, with its standard error.

The rug ``y = ReLU(scale · W x + bias)``, ``W = H_Sᵀ H_S / n_hidden``
(docs/rug_construction.md#the-construction), is evaluated without any n × n matrix: per sample,
``W x = FWHT(mask_S ⊙ FWHT(x)) / n_hidden``
(the first transform replaced by a direct parity sum when the sample is very sparse), in the
numba kernels of :mod:`toyforge.verify.kernels.fwht`. Memory is O(n) per thread, so
n_features = 2^20 runs at about 100+ samples per second on one core
(``benchmarks/bench_rug.py``).

The loss is the spec's per-feature, per-sample MSE ``L = (1/n) E‖y − x‖²``; samples are drawn by
:func:`toyforge.verify.data.sampling.sample_sparse_batch` in consecutive batches from
``numpy.random.default_rng(seed)``; the standard error is the sample standard deviation of the
per-sample losses over √n_samples.

This module registers the evaluator of the ``"persian-rug"`` architecture with
:mod:`toyforge.verify.evaluate.evaluators`, so ``toyforge evaluate rug.npz`` runs matrix-free.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from toyforge.core.errors import InvalidParameter
from toyforge.core.validate import as_rng, check_int, check_probability, check_seed
from toyforge.verify.data.sampling import SparseBatch, sample_sparse_batch
from toyforge.verify.evaluate.estimate import Estimate
from toyforge.verify.evaluate.evaluators import EVALUATORS, register_evaluator

__all__ = [
    "RugEvaluation",
    "evaluate_persian_rug",
    "rug_batch_losses",
    "rug_monte_carlo",
]

logger = logging.getLogger(__name__)

_ENTRIES_PER_BATCH = 2_000_000  # active entries sampled at a time (memory ~ 24 MB)


@dataclass(frozen=True, kw_only=True, slots=True)
class RugEvaluation:
    """Monte Carlo loss of a Persian rug, with its configuration.

    Parameters
    ----------
    loss, stderr : float
        Per-feature MSE and its standard error.
    n_samples : int
    feature_prob : float
    seed : int or None
    batch_size : int
    n_features, n_hidden : int
    scale, bias : float
        The model's scalars.
    parallel : bool
        Whether the parallel kernel was used.
    seconds : float
        Wall-clock time of the evaluation.
    """

    loss: float
    stderr: float
    n_samples: int
    feature_prob: float
    seed: int | None
    batch_size: int
    n_features: int
    n_hidden: int
    scale: float
    bias: float
    parallel: bool
    seconds: float

    @property
    def estimate(self) -> Estimate:
        """The loss as an :class:`Estimate`."""
        return Estimate(value=self.loss, stderr=self.stderr, n_samples=self.n_samples)

    @property
    def samples_per_second(self) -> float:
        """Throughput (wall clock)."""
        return self.n_samples / max(self.seconds, 1e-12)


def _check_model(model: Any) -> None:
    if getattr(model, "architecture", None) != "persian-rug":
        raise InvalidParameter(
            "model",
            getattr(model, "architecture", type(model).__name__),
            "a PersianRugAutoencoder (architecture 'persian-rug')",
        )


def rug_batch_losses(model: Any, batch: SparseBatch, *, parallel: bool = False) -> np.ndarray:
    """Per-sample losses of ``model`` on a CSR batch, float64 array (batch_size,).

    Parameters
    ----------
    model : PersianRugAutoencoder
    batch : SparseBatch
        Width ``model.n_features``.
    parallel : bool
        Use the prange kernel (numba's thread count).
    """
    # numba loads on the first kernel call, not when toyforge.verify is imported
    from toyforge.verify.kernels import fwht as kernels

    _check_model(model)
    if batch.n_features != model.n_features:
        raise InvalidParameter(
            "batch.n_features", batch.n_features, f"the model's n_features = {model.n_features}"
        )
    values = batch.values.astype(np.float64, copy=False)
    rows = np.ascontiguousarray(model.rows, dtype=np.int64)
    limit = kernels.direct_limit(model.n_features)
    if parallel:
        import numba

        return kernels.rug_sample_losses_parallel(
            batch.indptr,
            batch.indices,
            values,
            rows,
            model.n_features,
            model.scale,
            model.bias,
            limit,
            max(1, numba.get_num_threads()),
        )
    return kernels.rug_sample_losses(
        batch.indptr, batch.indices, values, rows, model.n_features, model.scale, model.bias, limit
    )


def _default_batch(n_features: int, feature_prob: float, n_samples: int) -> int:
    per_sample = feature_prob * n_features + 1
    return int(max(1, min(n_samples, 4096, _ENTRIES_PER_BATCH // per_sample)))


def rug_monte_carlo(
    model: Any,
    feature_prob: float,
    n_samples: int = 100_000,
    seed: int | None = 0,
    *,
    batch_size: int | None = None,
    parallel: bool = False,
    progress: Any = None,
) -> RugEvaluation:
    """Monte Carlo loss of the rug at feature probability p, matrix-free.

    Parameters
    ----------
    model : PersianRugAutoencoder
    feature_prob : float
        p in (0, 1] of the data ``x_i = B_i U_i``.
    n_samples : int
        Number of i.i.d. samples (>= 2).
    seed : int or None
        Seed of the data; the same seed gives the same estimate.
    batch_size : int, optional
        Samples drawn at a time (default: about 2·10⁶ active entries, at most 4096).
    parallel : bool
        Run samples on numba's threads.
    progress : callable, optional
        ``progress(iterable, total=...)`` wrapper (e.g. a tqdm bar) for the batches.

    Returns
    -------
    RugEvaluation
    """
    _check_model(model)
    feature_prob = check_probability("feature_prob", feature_prob)
    n_samples = check_int("n_samples", n_samples, minimum=2)
    seed = check_seed("seed", seed)
    if batch_size is None:
        batch_size = _default_batch(model.n_features, feature_prob, n_samples)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    generator = as_rng(seed)
    starts = range(0, n_samples, batch_size)
    if progress is not None:
        starts = progress(starts, total=math.ceil(n_samples / batch_size))
    losses = np.empty(n_samples)
    begin = time.perf_counter()
    for start in starts:
        size = min(batch_size, n_samples - start)
        batch = sample_sparse_batch(model.n_features, feature_prob, size, generator)
        losses[start : start + size] = rug_batch_losses(model, batch, parallel=parallel)
    seconds = time.perf_counter() - begin
    estimate = Estimate.from_samples(losses)
    logger.info(
        "rug MC n=%d r=%.4g p=%.4g: %s in %.2fs",
        model.n_features,
        model.ratio,
        feature_prob,
        estimate,
        seconds,
    )
    return RugEvaluation(
        loss=estimate.value,
        stderr=estimate.stderr,
        n_samples=n_samples,
        feature_prob=feature_prob,
        seed=seed,
        batch_size=batch_size,
        n_features=model.n_features,
        n_hidden=model.n_hidden,
        scale=model.scale,
        bias=model.bias,
        parallel=parallel,
        seconds=seconds,
    )


def evaluate_persian_rug(model: Any, request: Any) -> RugEvaluation:
    """Evaluator for ``toyforge.verify.evaluate.evaluators``'s registry (``"persian-rug"``).

    Uses ``request.feature_prob`` (falling back to the p the rug was built for),
    ``n_samples`` and ``seed``; the batch size is chosen from n and p (memory), and the data
    must be the spec's uniform values without importance weights.
    """
    feature_prob = request.feature_prob
    if feature_prob is None:
        feature_prob = model.feature_prob
    if feature_prob is None:
        raise InvalidParameter(
            "feature_prob", None, "a probability in (0, 1] (the rug file does not record one)"
        )
    if getattr(request, "value_dist", "uniform") != "uniform":
        raise InvalidParameter(
            "value_dist", request.value_dist, "'uniform' for the matrix-free rug evaluator"
        )
    if getattr(request, "importance", None) not in (None, 0, 0.0):
        raise InvalidParameter(
            "importance", request.importance, "None for the matrix-free rug evaluator"
        )
    return rug_monte_carlo(
        model,
        feature_prob,
        request.n_samples,
        request.seed,
        batch_size=_default_batch(model.n_features, feature_prob, request.n_samples),
    )


def _register() -> None:
    if EVALUATORS.get("persian-rug") is not evaluate_persian_rug:
        register_evaluator("persian-rug", evaluate_persian_rug, replace=True)


_register()
