"""Evaluate models: Monte Carlo loss of ReLU autoencoders, exact metrics of modular addition.

* :func:`evaluate` — ``Estimate(value, stderr, n_samples)`` of the loss of a model on a data
  distribution. For :class:`~toyforge.constructions.models.ReluAutoencoder` the loss is the
  spec's per-feature, per-sample MSE ``L = (1/n) E‖y − x‖²`` (persian_rug.md "Loss"; importance
  weights ``(i+1)^(−importance)`` on the squared error when given), estimated from
  ``n_samples`` i.i.d. sparse samples; ``stderr`` is the sample standard deviation of the
  per-sample losses over ``sqrt(n_samples)``.
* :func:`evaluate_modular_addition` — accuracy, cross-entropy and margin of a modular-addition
  MLP by exact enumeration of all p² pairs (or a given subset), spec modular_addition.md §2.
* A registry ``architecture -> evaluator`` (:func:`register_evaluator`) used by
  :func:`evaluate` and by ``toyforge evaluate``, so other architectures (e.g. a matrix-free
  Persian-rug model) plug in without editing this module.

Sampling is reproducible: the samples are drawn in consecutive batches of ``batch_size`` (the
last one shorter) by :func:`toyforge.verify.data.sampling.sample_sparse_batch` from
``numpy.random.default_rng(seed)``, in the model's dtype. :func:`reference_losses` replays the
same batches densely in numpy.

Autoencoder paths (spec performance.md §0, §5; kernels in
:mod:`toyforge.verify.kernels.autoencoder_eval`): ``"hidden"`` (sparse first layer, one GEMM,
fused ReLU/loss), ``"product"`` (precomputed ``M = W_out W_in``, k rows of Mᵀ summed per
sample) and ``"dense"`` (the numpy reference). ``"auto"`` picks by :func:`choose_path`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from toyforge.core.errors import InvalidParameter
from toyforge.core.validate import (
    check_choice,
    check_int,
    check_probability,
    check_real,
    check_seed,
)
from toyforge.verify.data.sampling import VALUE_DISTRIBUTIONS, SparseBatch, sample_sparse_batch
from toyforge.verify.evaluate.estimate import Estimate

__all__ = [
    "EVALUATORS",
    "PATHS",
    "AutoencoderEvaluation",
    "EvaluationRequest",
    "ModularAdditionReport",
    "SparseDataSpec",
    "autoencoder_batch_losses",
    "choose_path",
    "evaluate",
    "evaluate_autoencoder",
    "evaluate_model",
    "evaluate_modular_addition",
    "evaluation_batches",
    "reference_losses",
    "register_evaluator",
]

logger = logging.getLogger(__name__)

PATHS = ("auto", "hidden", "product", "dense")
DEFAULT_SAMPLES = 100_000
DEFAULT_BATCH = 1024


# --------------------------------------------------------------------------- configs, results


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
        (prediction and label both scaled by ``(i+1)^(−importance/2)``, persian_rug.md "Loss").
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


@dataclass(frozen=True, kw_only=True, slots=True)
class AutoencoderEvaluation:
    """Monte Carlo loss of a ReLU autoencoder, with its configuration.

    ``loss`` is the per-feature, per-sample MSE (persian_rug.md "Loss"), ``stderr`` its
    standard error; ``positive_fraction`` is the fraction of outputs y_i > 0 seen.
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


@dataclass(frozen=True, kw_only=True, slots=True)
class ModularAdditionReport:
    """Exact metrics of a modular-addition model over a set of pairs (spec §2).

    Parameters
    ----------
    accuracy : float
        Fraction of pairs whose correct logit is strictly above every wrong logit.
    cross_entropy : float
        Mean over pairs of ``logsumexp(logits) − logit[(a+b) mod p]`` (natural log).
    margin : float
        Min over pairs of (correct logit − best wrong logit); > 0 iff accuracy is 1.
    normalised_margin : float
        ``margin / (‖W_in‖_F^d ‖W_out‖_F)``, d = 1 for ReLU, 2 for x² (spec §2).
    worst_pair : tuple of int
        A pair ``(a, b)`` attaining the margin.
    n_pairs, n_correct, modulus : int
    """

    accuracy: float
    cross_entropy: float
    margin: float
    normalised_margin: float
    worst_pair: tuple[int, int]
    n_pairs: int
    n_correct: int
    modulus: int

    @property
    def estimate(self) -> Estimate:
        """The cross-entropy as an exact :class:`Estimate`."""
        return Estimate(value=self.cross_entropy, stderr=0.0, n_samples=self.n_pairs, exact=True)


# --------------------------------------------------------------------------- registry

Evaluator = Callable[[Any, EvaluationRequest], Any]
EVALUATORS: dict[str, Evaluator] = {}
"""architecture name -> ``evaluator(model, request) -> result dataclass``.

A result should be a frozen dataclass of scalars (the CLI prints its fields); if it has an
``estimate`` property, :func:`evaluate` returns that."""


def register_evaluator(
    architecture: str, evaluator: Evaluator, *, replace: bool = False
) -> Evaluator:
    """Register ``evaluator(model, request)`` for models of ``architecture``."""
    if architecture in EVALUATORS and EVALUATORS[architecture] is not evaluator and not replace:
        raise InvalidParameter(
            "architecture",
            architecture,
            "a name without an evaluator yet (pass replace=True to override)",
        )
    EVALUATORS[architecture] = evaluator
    return evaluator


def evaluator_for(model: Any) -> Evaluator:
    """The evaluator registered for ``model.architecture``."""
    name = getattr(model, "architecture", type(model).__name__)
    if name not in EVALUATORS:
        _import_construction_modules()
    if name not in EVALUATORS:
        raise InvalidParameter(
            "model", name, "an architecture with an evaluator: " + ", ".join(sorted(EVALUATORS))
        )
    return EVALUATORS[name]


# Modules of toyforge.verify that register evaluators for architectures defined elsewhere.
EVALUATOR_MODULES: tuple[str, ...] = ("toyforge.verify.evaluate.rug_monte_carlo",)


def _import_construction_modules() -> None:
    """Import every toyforge.constructions module and the evaluator modules (they register)."""
    import importlib

    from toyforge.constructions.io import import_construction_modules

    import_construction_modules()
    for name in EVALUATOR_MODULES:
        importlib.import_module(name)


def evaluate_model(model: Any, request: EvaluationRequest) -> Any:
    """Run the evaluator registered for ``model``'s architecture on ``request``."""
    return evaluator_for(model)(model, request)


def evaluate(
    model: Any,
    data_spec: SparseDataSpec | None = None,
    n_samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
    *,
    batch_size: int = DEFAULT_BATCH,
    path: str = "auto",
) -> Estimate:
    """Loss of ``model`` on ``data_spec`` as an :class:`Estimate`.

    Parameters
    ----------
    model : a registered architecture
        ReLU autoencoders give a Monte Carlo estimate of the per-feature MSE; modular-addition
        models give their exact cross-entropy over all p² pairs (``data_spec`` ignored).
    data_spec : SparseDataSpec
        The data distribution (required for sampled evaluators).
    n_samples : int
        Number of i.i.d. samples (>= 2).
    seed : int
        Seed of ``numpy.random.default_rng``; same seed, same samples, same estimate.
    batch_size : int
        Samples per batch (memory ~ batch_size × n_features floats).
    path : {"auto", "hidden", "product", "dense"}
        Autoencoder evaluation path (:func:`choose_path`).
    """
    request = EvaluationRequest(
        feature_prob=None if data_spec is None else data_spec.feature_prob,
        n_samples=n_samples,
        seed=seed,
        batch_size=batch_size,
        value_dist="uniform" if data_spec is None else data_spec.value_dist,
        importance=None if data_spec is None else data_spec.importance,
        path=path,
    )
    result = evaluate_model(model, request)
    estimate = getattr(result, "estimate", None)
    if not isinstance(estimate, Estimate):
        raise InvalidParameter(
            "model",
            getattr(model, "architecture", type(model).__name__),
            "an architecture whose evaluator returns an estimate",
        )
    return estimate


# --------------------------------------------------------------------------- autoencoder

# Cost model of choose_path: rates on one core of the project machine (2-vCPU Zen 5, default
# OpenBLAS), measured with benchmarks/bench_evaluate.py and spec performance.md §5.
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

    The flop saving is the factor r/p = m/k of spec performance.md §5. With the measured
    rates (module constants) the product path is chosen, for float32 and 10⁵ samples, at all
    four benchmark shapes A–D (it measured 1.3× to 7× faster than the hidden path there);
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


# --------------------------------------------------------------------------- modular addition


def _pair_array(model: Any, pairs: Any) -> np.ndarray:
    modulus = model.modulus
    if pairs is None:
        a, b = np.meshgrid(np.arange(modulus), np.arange(modulus), indexing="ij")
        return np.stack([a.ravel(), b.ravel()], axis=1)
    array = np.asarray(pairs)
    if array.dtype.kind not in "iu" or array.ndim != 2 or array.shape[1] != 2 or not array.size:
        raise InvalidParameter(
            "pairs",
            getattr(array, "shape", None),
            "a non-empty integer array of shape (n_pairs, 2)",
        )
    if array.min() < 0 or array.max() >= modulus:
        raise InvalidParameter("pairs", "out of range", f"residues in [0, {modulus})")
    return array.astype(np.int64)


def evaluate_modular_addition(
    model: Any, pairs: Any = None, *, chunk_elements: int = 1 << 22
) -> ModularAdditionReport:
    """Exact accuracy, cross-entropy and margin of a modular-addition model.

    Logits ``act(W_in[a] + W_in_right[b]) W_out`` (spec modular_addition.md §3.1) are
    computed in float64 for every pair, ``chunk_elements`` logits at a time.

    Parameters
    ----------
    model : ModularAdditionMLP
    pairs : int array, shape (n_pairs, 2), optional
        Restrict to these pairs (e.g. the test split of
        :func:`toyforge.verify.data.sampling.modular_addition_pairs`); default all p² ordered pairs.

    Returns
    -------
    ModularAdditionReport
    """
    from toyforge.constructions.models import apply_activation

    modulus = model.modulus
    pair_array = _pair_array(model, pairs)
    left = np.asarray(model.input_matrix(), dtype=np.float64)
    right = np.asarray(model.right_input_matrix(), dtype=np.float64)
    W_out = np.asarray(model.W_out, dtype=np.float64)
    chunk = max(1, chunk_elements // modulus)
    ce_sum, n_correct = 0.0, 0
    margin, worst = math.inf, (0, 0)
    for start in range(0, len(pair_array), chunk):
        a, b = pair_array[start : start + chunk, 0], pair_array[start : start + chunk, 1]
        logits = apply_activation(model.activation, left[a] + right[b]) @ W_out
        rows = np.arange(len(a))
        correct = logits[rows, (a + b) % modulus]
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(shifted).sum(axis=1)) + logits.max(axis=1)
        ce_sum += float((log_norm - correct).sum())
        logits[rows, (a + b) % modulus] = -np.inf
        gaps = correct - logits.max(axis=1)
        n_correct += int(np.count_nonzero(gaps > 0))
        index = int(np.argmin(gaps))
        if gaps[index] < margin:
            margin, worst = float(gaps[index]), (int(a[index]), int(b[index]))
    degree = 2 if model.activation == "quadratic" else 1
    scale = np.linalg.norm(left) ** degree * np.linalg.norm(W_out)
    n_pairs = len(pair_array)
    return ModularAdditionReport(
        accuracy=n_correct / n_pairs,
        cross_entropy=ce_sum / n_pairs,
        margin=margin,
        normalised_margin=margin / scale if scale > 0 else 0.0,
        worst_pair=worst,
        n_pairs=n_pairs,
        n_correct=n_correct,
        modulus=modulus,
    )


def _modular_addition_evaluator(model: Any, request: EvaluationRequest) -> ModularAdditionReport:
    del request  # exact: nothing to sample
    return evaluate_modular_addition(model)


register_evaluator("relu-autoencoder", evaluate_autoencoder)
register_evaluator("modular-addition-mlp", _modular_addition_evaluator)
