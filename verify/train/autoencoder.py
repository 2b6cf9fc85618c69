"""A thin, torch-free trainer for the ReLU autoencoder and the one-hidden-layer MLP.

Adam / AdamW (:mod:`toyforge.verify.train.optim`, torch form), constant or warm-up + cosine
schedules, full-batch or minibatch, fresh batches or a fixed dataset, MSE (optionally
importance-weighted, mean over batch × features or summed over features) or cross-entropy (hard
or soft labels), float32 or float64, seeded and reproducible, with an optional convergence rule
(:mod:`toyforge.verify.train.convergence`).

Two backends:

* ``"kernel"``: the sparse-aware numba step of
  :mod:`toyforge.verify.kernels.autoencoder_train`, used automatically for an untied
  :class:`ReluAutoencoder` trained with MSE on fresh sparse data (any
  :class:`~toyforge.verify.train.data.SparseSource`: the uniform :class:`SparseFeatureData` of
  the Persian-rug setting, or a
  :class:`~toyforge.verify.data.feature_sampler.FeatureDistribution` of non-identical
  features, whose importance weights the loss); and the fused dense step of
  :mod:`toyforge.verify.kernels.autoencoder_train_tied` for a tied one trained with MSE on a
  fixed dataset or generated dense batches (the TMS setting).
* ``"numpy"``: the plain-numpy reference gradients of :mod:`toyforge.verify.train.gradients`, for
  every model, loss and data source (tied autoencoders, MLPs, fixed datasets, cross-entropy).

A run is a :class:`TrainingRun`: :meth:`TrainingRun.advance` takes one step and does the
bookkeeping (history, checkpoints, convergence checks), so :func:`train` and the batched
trainer of :mod:`toyforge.verify.train.runs` share one loop. The library never prints: pass
``progress`` (a callable ``(steps_done, loss) -> None``) to follow a run. See
``docs/training.md#the-trainer-protocol``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from toyforge.constructions.models import MLP, ReluAutoencoder
from toyforge.core.errors import InvalidParameter
from toyforge.verify.evaluate.estimate import Estimate
from toyforge.verify.kernels.autoencoder_train import AutoencoderStepper
from toyforge.verify.kernels.autoencoder_train_tied import TiedStepper
from toyforge.verify.train.config import BACKENDS, DTYPES, TrainConfig
from toyforge.verify.train.convergence import ConvergenceMonitor
from toyforge.verify.train.data import (
    Data,
    FixedData,
    GeneratedData,
    SparseFeatureData,
    SparseSource,
    draw_batch,
    source_importance,
)
from toyforge.verify.train.diagnostics import silent_features
from toyforge.verify.train.gradients import (
    mlp_loss_gradients,
    relu_autoencoder_loss_gradients,
    trainable_arrays,
)
from toyforge.verify.train.heldout import eval_seed, held_out_loss, monitor_loss
from toyforge.verify.train.initialisers import INIT_SCHEMES, init_mlp, init_relu_autoencoder
from toyforge.verify.train.optim import Adam
from toyforge.verify.train.result import Checkpoint, TrainHistory, TrainResult, history_path

__all__ = [
    "BACKENDS",
    "DTYPES",
    "INIT_SCHEMES",
    "Checkpoint",
    "FixedData",
    "GeneratedData",
    "SparseFeatureData",
    "SparseSource",
    "TrainConfig",
    "TrainHistory",
    "TrainResult",
    "TrainingRun",
    "eval_seed",
    "held_out_loss",
    "history_path",
    "init_mlp",
    "init_relu_autoencoder",
    "train",
]

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- bookkeeping


class _Recorder:
    """Accumulates batch losses into history rows, evaluations and checkpoints."""

    def __init__(
        self,
        config: TrainConfig,
        evaluate: Callable[[], Estimate | None],
        snapshot: Callable[[], Any],
    ) -> None:
        self.config, self.evaluate, self.snapshot = config, evaluate, snapshot
        self.rows: list[list[float]] = []
        self.window: list[float] = []
        self.checkpoints: list[Checkpoint] = []
        self.eval_seconds = 0.0
        self.last_eval: tuple[int, Estimate | None] = (-1, None)

    def record(self, step: int, loss: float, positive_fraction: float = math.nan) -> None:
        if not math.isfinite(loss):
            raise InvalidParameter(
                "optimizer.lr",
                self.config.optimizer.lr,
                f"a smaller learning rate: the loss became {loss} at step {step}",
            )
        self.window.append(loss)
        config = self.config
        if step in config.checkpoint_steps:
            self.checkpoints.append(Checkpoint(step=step, model=self.snapshot()))
        do_eval = config.eval_every is not None and step % config.eval_every == 0
        if do_eval or step % config.log_every == 0:
            self._row(step, positive_fraction, self._timed_eval(step) if do_eval else None)

    def _timed_eval(self, step: int) -> Estimate | None:
        start = time.perf_counter()
        estimate = self.evaluate()
        self.eval_seconds += time.perf_counter() - start
        self.last_eval = (step, estimate)
        return estimate

    def _row(self, step: int, positive_fraction: float, estimate: Estimate | None) -> None:
        value = math.nan if estimate is None else estimate.value
        stderr = math.nan if estimate is None else estimate.stderr
        self.rows.append([step, float(np.mean(self.window)), value, stderr, positive_fraction])
        self.window = []

    def finish(self, step: int, positive_fraction: float) -> Estimate | None:
        """The final held-out estimate, written into the last row (added if needed)."""
        if self.last_eval[0] == step:
            return self.last_eval[1]
        estimate = self._timed_eval(step)
        if self.window or not self.rows:
            self._row(step, positive_fraction, estimate)
        elif estimate is not None:
            self.rows[-1][2:4] = [estimate.value, estimate.stderr]
        return estimate

    def history(self) -> TrainHistory:
        table = np.array(self.rows, dtype=np.float64).reshape(-1, 5)
        return TrainHistory(
            steps=table[:, 0].astype(np.int64),
            train_loss=table[:, 1],
            eval_loss=table[:, 2],
            eval_stderr=table[:, 3],
            positive_fraction=table[:, 4],
        )


# --------------------------------------------------------------------------- step engines


class _KernelEngine:
    """The sparse-aware numba step on fresh sparse batches from any :class:`SparseSource`."""

    backend = "kernel"

    def __init__(self, model: ReluAutoencoder, data: SparseSource, config: TrainConfig):
        parallel = False
        if config.threads is not None:
            import numba  # deferred: only runs that ask for threads touch numba's pool

            numba.set_num_threads(min(config.threads, numba.config.NUMBA_NUM_THREADS))
            parallel = config.threads > 1
        self.dtype = np.dtype(config.dtype)
        self.optimizer = Adam(config=config.optimizer, schedule=config.schedule)
        importance = None if config.importance is None else np.asarray(config.importance)
        self.stepper = AutoencoderStepper(
            model.W_in,
            model.W_out,
            model.b,
            self.optimizer,
            batch_size=config.batch_size,
            dtype=self.dtype,
            importance=importance,
            reduction=config.reduction,
            dense_threshold=config.dense_threshold,
            parallel=parallel,
            decay_bias=config.decay_biases,
        )
        self.data, self.batch_size = data, config.batch_size
        self.rng = np.random.default_rng(config.seed)

    def step(self) -> tuple[float, float, bool]:
        batch = self.data.sample(self.rng, self.batch_size, self.dtype)
        stats = self.stepper.step(batch.indptr, batch.indices, batch.values)
        return stats.loss, stats.positive_fraction, stats.sparse_path

    def snapshot(self) -> ReluAutoencoder:
        return ReluAutoencoder(**self.stepper.arrays())


class _TiedKernelEngine:
    """The fused numba step of a tied autoencoder on dense batches (the TMS setting)."""

    backend = "kernel"

    def __init__(self, model: ReluAutoencoder, data: Data, config: TrainConfig):
        dtype = np.dtype(config.dtype)
        self.optimizer = Adam(config=config.optimizer, schedule=config.schedule)
        self.stepper = TiedStepper(
            model.W_in, model.b, self.optimizer, dtype=dtype,
            importance=None if config.importance is None else np.asarray(config.importance),
            reduction=config.reduction, decay_bias=config.decay_biases,
        )  # fmt: skip
        self.batches = _batch_source(data, config, np.random.default_rng(config.seed), dtype)

    def step(self) -> tuple[float, float, bool]:
        inputs, targets = self.batches()
        return self.stepper.step(inputs, targets), math.nan, False

    def snapshot(self) -> ReluAutoencoder:
        arrays = self.stepper.arrays()
        return ReluAutoencoder.tied_from(arrays["W_in"], arrays["b"])


class _MinibatchOrder:
    """Epoch-wise shuffled minibatches of a fixed dataset (full batch when size is None)."""

    def __init__(self, n_points: int, batch_size: int | None, rng: np.random.Generator):
        self.n_points, self.batch_size, self.rng = n_points, batch_size, rng
        self.order = np.arange(n_points)
        self.position = n_points

    def next(self) -> np.ndarray | None:
        if self.batch_size is None or self.batch_size >= self.n_points:
            return None
        if self.position >= self.n_points:
            self.order = self.rng.permutation(self.n_points)
            self.position = 0
        chosen = self.order[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return chosen


class _NumpyEngine:
    """The plain-numpy reference gradients + :class:`Adam`, for every model and data source."""

    backend = "numpy"

    def __init__(self, model: ReluAutoencoder | MLP, data: Data, config: TrainConfig):
        dtype = np.dtype(config.dtype)
        self.model = model
        self.params = {
            name: np.array(array, dtype=dtype) for name, array in trainable_arrays(model).items()
        }
        self.optimizer = Adam(config=config.optimizer, schedule=config.schedule)
        self.skip_decay = frozenset() if config.decay_biases else frozenset({"b", "b1", "b2"})
        importance = (
            None if config.importance is None else np.asarray(config.importance, dtype=dtype)
        )
        self.gradient_fn = _gradient_function(model, config, importance, dtype)
        self.batches = _batch_source(data, config, np.random.default_rng(config.seed), dtype)

    def step(self) -> tuple[float, float, bool]:
        inputs, targets = self.batches()
        result = self.gradient_fn(self.params, inputs, targets)
        self.optimizer.step(self.params, result.gradients, skip_decay=self.skip_decay)
        return result.loss, math.nan, False

    def snapshot(self) -> Any:
        return _rebuild(self.model, {name: array.copy() for name, array in self.params.items()})


def _batch_source(
    data: Data, config: TrainConfig, rng: np.random.Generator, dtype: np.dtype
) -> Callable[[], tuple[np.ndarray, np.ndarray | None]]:
    if isinstance(data, FixedData):
        inputs = np.asarray(data.inputs, dtype=dtype)
        targets = data.targets
        if targets is not None and targets.dtype.kind == "f":
            targets = targets.astype(dtype)
        order = _MinibatchOrder(data.n_points, config.batch_size, rng)

        def fixed() -> tuple[np.ndarray, np.ndarray | None]:
            chosen = order.next()
            if chosen is None:
                return inputs, targets
            return inputs[chosen], None if targets is None else targets[chosen]

        return fixed
    return lambda: draw_batch(data, rng, config.batch_size, dtype)  # type: ignore[arg-type]


def _gradient_function(
    model: Any, config: TrainConfig, importance: np.ndarray | None, dtype: np.dtype
) -> Callable[..., Any]:
    kwargs = {"loss": config.loss, "importance": importance, "reduction": config.reduction}
    if isinstance(model, ReluAutoencoder):
        tied = model.tied

        def autoencoder(params, inputs, targets):
            return relu_autoencoder_loss_gradients(
                params["W_in"], params.get("W_out"), params["b"], inputs, targets, tied=tied,
                **kwargs,
            )  # fmt: skip

        return autoencoder
    embedding = None if model.embedding is None else np.asarray(model.embedding, dtype=dtype)

    def mlp(params, inputs, targets):
        if targets is None:
            raise InvalidParameter(
                "data.targets",
                None,
                "targets (an MLP is not trained to reproduce its input unless you pass targets)",
            )
        return mlp_loss_gradients(
            params, inputs, targets, activation=model.activation,
            output_relu=model.output_relu, embedding=embedding, **kwargs,
        )  # fmt: skip

    return mlp


def _rebuild(model: Any, params: dict[str, np.ndarray]) -> Any:
    if isinstance(model, ReluAutoencoder):
        if model.tied:
            return ReluAutoencoder.tied_from(params["W_in"], params["b"])
        return ReluAutoencoder(W_in=params["W_in"], W_out=params["W_out"], b=params["b"])
    return dataclasses.replace(model, **params)


# --------------------------------------------------------------------------- checks


def _engine(model: Any, data: Data, config: TrainConfig) -> type:
    """The step engine: a numba kernel where one fits, else the numpy reference."""
    autoencoder_mse = isinstance(model, ReluAutoencoder) and config.loss == "mse"
    untied = (
        autoencoder_mse
        and not model.tied
        and isinstance(data, SparseSource)
        and config.batch_size is not None
    )
    tied = autoencoder_mse and model.tied and isinstance(data, FixedData | GeneratedData)
    if config.backend == "kernel" and not (untied or tied):
        raise InvalidParameter(
            "backend",
            "kernel",
            "'kernel' only for an autoencoder with MSE: untied on a sparse source "
            "(SparseFeatureData, FeatureDistribution) with a batch size, or tied on "
            "FixedData / GeneratedData",
        )
    if config.backend == "numpy":
        return _NumpyEngine
    return _KernelEngine if untied else _TiedKernelEngine if tied else _NumpyEngine


def _check_fit(model: Any, data: Data, config: TrainConfig) -> TrainConfig:
    """Refuse a model, data source and config that do not fit together; return the config
    with the loss weights of :func:`~toyforge.verify.train.data.source_importance`."""
    if not isinstance(config, TrainConfig):
        raise InvalidParameter("config", type(config).__name__, "a TrainConfig")
    if not isinstance(model, ReluAutoencoder | MLP):
        raise InvalidParameter("model_init", type(model).__name__, "a ReluAutoencoder or MLP")
    if not isinstance(data, (SparseSource, FixedData, GeneratedData)):
        raise InvalidParameter(
            "data",
            type(data).__name__,
            "a sparse source (SparseFeatureData, FeatureDistribution), FixedData or GeneratedData",
        )
    importance = source_importance(data, config.importance)
    if importance != config.importance:
        config = dataclasses.replace(config, importance=importance)
    if isinstance(data, SparseSource) and data.n_features != model.n_features:
        raise InvalidParameter(
            "data.n_features", data.n_features, f"the model's n_features = {model.n_features}"
        )
    if isinstance(data, FixedData) and data.inputs.shape[1] != model.n_features:
        raise InvalidParameter(
            "data.inputs", data.inputs.shape, f"(n_points, {model.n_features}) to fit the model"
        )
    if config.batch_size is None and not isinstance(data, FixedData):
        raise InvalidParameter(
            "batch_size", None, "an integer for fresh data (full batch needs a FixedData)"
        )
    if config.importance is not None:
        width = model.n_features if isinstance(model, ReluAutoencoder) else model.n_outputs
        if len(config.importance) != width:
            raise InvalidParameter(
                "importance",
                f"{len(config.importance)} weights",
                f"{width} weights (one per output)",
            )
    return config


# --------------------------------------------------------------------------- the loop


class TrainingRun:
    """One training run advanced a step at a time (the loop of :func:`train`).

    ``advance()`` takes one optimiser step, records it, and every
    ``config.convergence.window`` steps consults the convergence rule; :attr:`done` turns
    True when the rule fires or the budget is spent. :meth:`result` finishes the run
    (final held-out estimate) and returns the :class:`TrainResult`.
    """

    def __init__(self, model_init: ReluAutoencoder | MLP, data: Data, config: TrainConfig):
        config = _check_fit(model_init, data, config)
        self.engine = _engine(model_init, data, config)(model_init, data, config)
        self.data, self.config = data, config
        self.recorder = _Recorder(
            config,
            lambda: held_out_loss(self.engine.snapshot(), data, config, eval_seed(config.seed)),
            self.engine.snapshot,
        )
        rule = config.convergence
        self.monitor = None if rule is None else ConvergenceMonitor(rule=rule)
        self.step, self.sparse_steps, self.positive_fraction = 0, 0, math.nan
        self.converged, self.done, self.seconds = False, False, 0.0
        self.last_loss = math.nan

    def advance(self) -> float:
        """One step (and its bookkeeping); returns the training-batch loss."""
        start = time.perf_counter()
        # A diverging run overflows; the recorder turns the non-finite loss into InvalidParameter.
        with np.errstate(over="ignore", invalid="ignore"):
            loss, self.positive_fraction, sparse = self.engine.step()
            self.step += 1
            self.sparse_steps += sparse
            self.last_loss = loss
            self.recorder.record(self.step, loss, self.positive_fraction)
            self._check_convergence()
        self.done = self.done or self.step >= self.config.steps
        self.seconds += time.perf_counter() - start
        return loss

    def _check_convergence(self) -> None:
        rule = self.config.convergence
        if self.monitor is None or self.step % rule.window:  # type: ignore[union-attr]
            return
        start = time.perf_counter()
        decision = self.monitor.update(monitor_loss(self.engine.snapshot(), self.data, self.config))
        self.recorder.eval_seconds += time.perf_counter() - start
        if decision == "decay":
            self.engine.optimizer.lr_scale = self.monitor.lr_factor
            logger.info("step %d: plateau, learning rate x %.3g", self.step, rule.lr_decay)
        elif decision == "converged":
            self.converged = self.done = True

    def result(self) -> TrainResult:
        """Finish the run: final held-out estimate and the :class:`TrainResult`."""
        start = time.perf_counter()
        with np.errstate(over="ignore", invalid="ignore"):
            final = self.recorder.finish(self.step, self.positive_fraction)
        self.seconds += time.perf_counter() - start
        train_seconds = max(self.seconds - self.recorder.eval_seconds, 1e-9)
        model = self.engine.snapshot()
        return TrainResult(
            model=model,
            history=self.recorder.history(),
            checkpoints=tuple(self.recorder.checkpoints),
            steps_per_second=self.step / train_seconds,
            train_seconds=train_seconds,
            final_eval=final,
            backend=self.engine.backend,
            sparse_steps=self.sparse_steps,
            config=self.config,
            steps=self.step,
            converged=self.converged,
            lr_decays=0 if self.monitor is None else self.monitor.decays,
            silent_features=silent_features(model) if isinstance(model, ReluAutoencoder) else None,
        )


def train(
    model_init: ReluAutoencoder | MLP,
    data: Data,
    config: TrainConfig,
    progress: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Train ``model_init`` (not modified) on ``data`` with ``config``.

    Parameters
    ----------
    model_init : ReluAutoencoder or MLP
        Initial weights (e.g. :func:`init_relu_autoencoder`, :func:`init_mlp`).
    data : SparseSource, FixedData or GeneratedData
        A sparse source (:class:`SparseFeatureData`, a
        :class:`~toyforge.verify.data.feature_sampler.FeatureDistribution`) trains on the
        sparse kernel path; its importance, if not all ones, weights the loss.
    config : TrainConfig
        ``config.steps`` is the budget; ``config.convergence`` may stop the run earlier.
    progress : callable, optional
        Called as ``progress(steps_done, batch_loss)`` after every step.

    Returns
    -------
    TrainResult
        With ``converged``, ``steps`` and the held-out ``final_eval`` (value ± SE).
    """
    run = TrainingRun(model_init, data, config)
    while not run.done:
        loss = run.advance()
        if progress is not None:
            progress(run.step, loss)
    return run.result()
