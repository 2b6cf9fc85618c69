"""Monte Carlo loss of ReLU autoencoders on sparse data, with its standard error.

:func:`evaluate_autoencoder` (the evaluator registered for ``"relu-autoencoder"``) estimates
the per-feature, per-sample MSE ``L = (1/n) E‖y − x‖²`` (importance weights
``(i+1)^(−importance)`` on the squared error when given) from ``n_samples`` i.i.d. sparse
samples; ``stderr`` is the sample standard deviation of the per-sample losses over
``sqrt(n_samples)``.

Sampling is reproducible: the samples are drawn in consecutive batches of ``batch_size`` (the
last one shorter) by :func:`toyforge.verify.data.sampling.sample_sparse_batch` from
``numpy.random.default_rng(seed)``, in the model's dtype. :func:`reference_losses` replays the
same batches densely in numpy.

Paths (kernels in :mod:`toyforge.verify.kernels.autoencoder_eval`): ``"hidden"`` (sparse first
layer, one GEMM, fused ReLU/loss), ``"product"`` (precomputed ``M = W_out W_in``, k rows of Mᵀ
summed per sample) and ``"dense"`` (the numpy reference). ``"auto"`` picks by
:func:`choose_path`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from toyforge.verify.data.sampling import SparseBatch, sample_sparse_batch
from toyforge.verify.evaluate.config import DEFAULT_BATCH, EvaluationRequest, SparseDataSpec
from toyforge.verify.evaluate.estimate import Estimate

__all__ = [
    "AutoencoderEvaluation",
    "autoencoder_batch_losses",
    "choose_path",
    "evaluate_autoencoder",
    "evaluation_batches",
    "reference_losses",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class AutoencoderEvaluation:
    """Monte Carlo loss of a ReLU autoencoder, with its configuration.

    ``loss`` is the per-feature, per-sample MSE (docs/large_n_theory.md#model-data-and-loss),
    ``stderr`` its standard error; ``positive_fraction`` is the fraction of outputs y_i > 0 seen.
    """

    loss: float
    stderr: float
    n_samples: int
    feature_prob: float
    value_dist: str
    importance: float | None
    seed: int | None
    batch_size: int
    path: str
    dtype: str
    n_features: int
    n_hidden: int
    positive_fraction: float

    @property
    def estimate(self) -> Estimate:
        """The loss as an :class:`Estimate`."""
        return Estimate(value=self.loss, stderr=self.stderr, n_samples=self.n_samples)


# Cost model of choose_path: rates on one core of the project machine (2-vCPU Zen 5, default
# OpenBLAS), measured with benchmarks/bench_evaluate.py and docs/performance.md#evaluation-kernels.
_GEMM_FLOPS = {4: 100e9, 8: 50e9}  # BLAS GEMM at the output shape (float32, float64)
_GATHER_FLOPS = {4: 17e9, 8: 9e9}  # summing cache-resident rows (axpy), flop/s
_STREAM_BYTES = 22e9  # rows of M read from DRAM, bytes/s
_PASS_BYTES = 20e9  # writing and re-reading U on the hidden path, bytes/s
_CACHE_BYTES = 16 * 2**20  # M counts as cache-resident below this size
_MAX_PRODUCT_BYTES = 512 * 2**20  # never build an M larger than this


def choose_path(
    n_features: int, n_hidden: int, feature_prob: float, n_samples: int, itemsize: int = 8
) -> str:
    """``"product"`` when the precomputed ``M = W_out W_in`` pays off, else ``"hidden"``.

    Per sample (k = p n active features, m hidden units, n outputs):

    * hidden path: ``2 n m`` GEMM flops + ``2 k m`` gathered flops + writing and reading
      the (n,) pre-activation row;
    * product path: ``2 k n`` gathered flops, or, when M (n² · itemsize bytes) does not fit
      in cache, ``k n · itemsize`` bytes read from memory; plus, once, ``2 n² m`` GEMM flops
      to form M.

    The flop saving is the factor r/p = m/k of docs/performance.md#evaluation-kernels. With the
    measured rates (module constants) the product path is chosen, for float32 and 10⁵ samples, at
    all four benchmark shapes A–D (it measured 1.3× to 7× faster than the hidden path there);
    the hidden path wins for denser data (roughly p > r/5 when M is cache-resident, p > r/8
    when it is not) and whenever M would exceed 512 MiB.
    """
    n, m = n_features, n_hidden
    k = feature_prob * n
    if n * n * itemsize > _MAX_PRODUCT_BYTES:
        return "hidden"
    gemm = _GEMM_FLOPS.get(itemsize, _GEMM_FLOPS[8])
    gather = _GATHER_FLOPS.get(itemsize, _GATHER_FLOPS[8])
    hidden = 2 * n * m / gemm + 2 * k * m / gather + 2 * n * itemsize / _PASS_BYTES
    if n * n * itemsize <= _CACHE_BYTES:
        product = 2 * k * n / gather
    else:
        product = k * n * itemsize / _STREAM_BYTES
    setup = 2 * n * n * m / gemm
    return "product" if n_samples * (hidden - product) > setup else "hidden"


@dataclass(frozen=True, kw_only=True, slots=True)
class _PreparedAutoencoder:
    """Arrays laid out for the kernels (transposed, contiguous, one dtype)."""

    path: str
    dtype: np.dtype
    W_in_T: np.ndarray
    W_out_T: np.ndarray
    bias: np.ndarray
    M_T: np.ndarray | None
    weights: np.ndarray


def _model_dtype(model: Any) -> np.dtype:
    dtype = np.result_type(model.W_in, model.W_out, model.b)
    return dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)


def _prepare(model: Any, spec: SparseDataSpec, n_samples: int, path: str) -> _PreparedAutoencoder:
    dtype = _model_dtype(model)
    if path == "auto":
        path = choose_path(
            model.n_features, model.n_hidden, spec.feature_prob, n_samples, dtype.itemsize
        )
    W_in = np.asarray(model.W_in, dtype=dtype)
    W_out = np.asarray(model.W_out, dtype=dtype)
    M_T = np.ascontiguousarray(W_in.T @ W_out.T) if path == "product" else None
    return _PreparedAutoencoder(
        path=path,
        dtype=dtype,
        W_in_T=np.ascontiguousarray(W_in.T),
        W_out_T=W_out.T,
        bias=np.ascontiguousarray(model.b, dtype=dtype),
        M_T=M_T,
        weights=spec.feature_weights(model.n_features),
    )


def evaluation_batches(
    n_features: int,
    spec: SparseDataSpec,
    n_samples: int,
    seed: int | None,
    batch_size: int = DEFAULT_BATCH,
    dtype: object = np.float64,
) -> Iterator[SparseBatch]:
    """The batches :func:`evaluate` draws: ``n_samples`` samples, ``batch_size`` at a time."""
    rng = np.random.default_rng(seed)
    remaining = n_samples
    while remaining > 0:
        size = min(batch_size, remaining)
        remaining -= size
        yield sample_sparse_batch(
            n_features, spec.feature_prob, size, rng, dtype=dtype, value_dist=spec.value_dist
        )


def autoencoder_batch_losses(
    prepared: _PreparedAutoencoder, batch: SparseBatch
) -> tuple[np.ndarray, int]:
    """Per-sample losses (float64, (batch,)) and the count of positive outputs of one batch."""
    # numba loads on the first kernel call, not when toyforge.verify is imported
    from toyforge.verify.kernels.autoencoder_eval import (
        product_path_losses,
        relu_mse_rows,
        sparse_hidden,
    )

    values = (
        batch.values
        if batch.values.dtype == prepared.dtype
        else batch.values.astype(prepared.dtype)
    )
    losses = np.empty(batch.batch_size, dtype=np.float64)
    if prepared.path == "product":
        positives = product_path_losses(
            batch.indptr,
            batch.indices,
            values,
            prepared.M_T,
            prepared.bias,
            prepared.weights,
            losses,
        )
        return losses, int(positives)
    if prepared.path == "dense":
        return _dense_losses(prepared, batch)
    hidden = np.empty((batch.batch_size, prepared.W_in_T.shape[1]), dtype=prepared.dtype)
    sparse_hidden(batch.indptr, batch.indices, values, prepared.W_in_T, hidden)
    pre = hidden @ prepared.W_out_T
    positives = relu_mse_rows(
        pre, prepared.bias, batch.indptr, batch.indices, values, prepared.weights, losses
    )
    return losses, int(positives)


def _dense_losses(prepared: _PreparedAutoencoder, batch: SparseBatch) -> tuple[np.ndarray, int]:
    """The numpy dense reference: ``ReLU((X W_inᵀ) W_outᵀ + b)`` and its per-sample MSE."""
    dense_x = batch.to_dense().astype(prepared.dtype, copy=False)
    outputs = np.maximum((dense_x @ prepared.W_in_T) @ prepared.W_out_T + prepared.bias, 0)
    squared = (outputs.astype(np.float64) - dense_x) ** 2
    if prepared.weights.size:
        squared *= prepared.weights
    return squared.mean(axis=1), int(np.count_nonzero(outputs))


class _RunningMoments:
    """Streaming mean and sum of squared deviations (Chan et al. 1979 pairwise update)."""

    def __init__(self) -> None:
        self.count = 0
        self.mean = 0.0
        self.m2 = 0.0

    def add(self, values: np.ndarray) -> None:
        count = values.size
        mean = float(values.mean())
        m2 = float(((values - mean) ** 2).sum())
        total = self.count + count
        delta = mean - self.mean
        self.m2 += m2 + delta * delta * self.count * count / total
        self.mean += delta * count / total
        self.count = total

    def estimate(self) -> tuple[float, float]:
        variance = self.m2 / (self.count - 1)
        return self.mean, math.sqrt(max(variance, 0.0) / self.count)


def evaluate_autoencoder(model: Any, request: EvaluationRequest) -> AutoencoderEvaluation:
    """Monte Carlo per-feature MSE of a :class:`ReluAutoencoder` (the registered evaluator)."""
    spec = request.data_spec()
    prepared = _prepare(model, spec, request.n_samples, request.path)
    moments = _RunningMoments()
    positives = 0
    for batch in evaluation_batches(
        model.n_features, spec, request.n_samples, request.seed, request.batch_size, prepared.dtype
    ):
        losses, count = autoencoder_batch_losses(prepared, batch)
        moments.add(losses)
        positives += count
    loss, stderr = moments.estimate()
    logger.info(
        "evaluated %s on %d samples via the %s path",
        model.architecture,
        request.n_samples,
        prepared.path,
    )
    return AutoencoderEvaluation(
        loss=loss,
        stderr=stderr,
        n_samples=request.n_samples,
        feature_prob=spec.feature_prob,
        value_dist=spec.value_dist,
        importance=spec.importance,
        seed=request.seed,
        batch_size=request.batch_size,
        path=prepared.path,
        dtype=prepared.dtype.name,
        n_features=model.n_features,
        n_hidden=model.n_hidden,
        positive_fraction=positives / (request.n_samples * model.n_features),
    )


def reference_losses(
    model: Any,
    data_spec: SparseDataSpec,
    n_samples: int,
    seed: int | None,
    batch_size: int = DEFAULT_BATCH,
) -> np.ndarray:
    """Per-sample losses of the same samples :func:`evaluate` draws, by dense numpy.

    Uses ``model.forward`` on the dense batch in float64 (independent of the kernels).
    Returns a float64 array of shape (n_samples,).
    """
    dtype = _model_dtype(model)
    weights = data_spec.feature_weights(model.n_features)
    parts = []
    for batch in evaluation_batches(
        model.n_features, data_spec, n_samples, seed, batch_size, dtype
    ):
        dense_x = batch.to_dense().astype(np.float64)
        outputs = np.maximum(
            dense_x @ (model.W_out.astype(np.float64) @ model.W_in.astype(np.float64)).T
            + model.b.astype(np.float64),
            0.0,
        )
        squared = (outputs - dense_x) ** 2
        parts.append((squared * weights if weights.size else squared).mean(axis=1))
    return np.concatenate(parts)
