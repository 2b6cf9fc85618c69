"""A thin, torch-free trainer for the ReLU autoencoder and the one-hidden-layer MLP.

Adam / AdamW (:mod:`toyforge.verify.train.optim`, torch form), constant or warm-up + cosine
schedules, full-batch or minibatch, fresh batches or a fixed dataset, MSE (optionally
importance-weighted, mean over batch × features or summed over features) or cross-entropy (hard
or soft labels), float32 or float64, seeded and reproducible.

Two backends:

* ``"kernel"``: the sparse-aware numba step of
  :mod:`toyforge.verify.kernels.autoencoder_train` (spec performance.md §0, §7). Used
  automatically for an untied :class:`ReluAutoencoder` trained with MSE on fresh sparse data
  (:class:`SparseFeatureData`) — the Persian-rug setting (spec persian_rug.md §5).
* ``"numpy"``: the plain-numpy reference gradients of :mod:`toyforge.verify.train.gradients`, for
  every model, loss and data source (tied autoencoders, MLPs, fixed datasets, cross-entropy).

The library never prints: pass ``progress`` (a callable ``(steps_done, loss) -> None``) to
follow a run.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from toyforge.constructions.models import MLP, ReluAutoencoder
from toyforge.core.errors import InvalidParameter
from toyforge.core.fileio import atomic_write_text
from toyforge.core.validate import (
    as_rng,
    check_choice,
    check_int,
    check_interval,
    check_probability,
    check_seed,
)
from toyforge.verify.evaluate.estimate import Estimate
from toyforge.verify.train.gradients import (
    LOSSES,
    REDUCTIONS,
    mlp_loss_gradients,
    per_sample_losses,
    relu_autoencoder_loss_gradients,
    trainable_arrays,
)
from toyforge.verify.train.optim import Adam, AdamConfig, Schedule

__all__ = [
    "BACKENDS",
    "Checkpoint",
    "eval_seed",
    "history_path",
    "FixedData",
    "GeneratedData",
    "SparseFeatureData",
    "TrainConfig",
    "TrainHistory",
    "TrainResult",
    "held_out_loss",
    "init_mlp",
    "init_relu_autoencoder",
    "train",
]

logger = logging.getLogger(__name__)

BACKENDS = ("auto", "kernel", "numpy")
DTYPES = ("float32", "float64")
INIT_SCHEMES = ("torch", "xavier_normal")


# --------------------------------------------------------------------------- data sources


@dataclass(frozen=True, kw_only=True, slots=True)
class SparseFeatureData:
    """Fresh sparse batches every step: ``x_i = B_i U_i``, target = x (spec persian_rug.md §1).

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
        from toyforge.verify.data.sampling import sample_sparse_batch

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


Data = SparseFeatureData | FixedData | GeneratedData


# --------------------------------------------------------------------------- config


@dataclass(frozen=True, kw_only=True, slots=True)
class TrainConfig:
    """Everything that defines a training run (frozen, JSON-able).

    Parameters
    ----------
    steps : int
        Number of optimiser steps.
    batch_size : int or None
        Minibatch size; None = full batch (fixed datasets only).
    optimizer : AdamConfig
        Adam (``decoupled=False``) or AdamW (``decoupled=True``) hyperparameters.
    schedule : Schedule
        Learning-rate multiplier (constant, or warm-up + cosine).
    loss : {"mse", "cross_entropy"}
    reduction : {"mean", "sum_features"}
        MSE normalisation: mean over batch × outputs (spec persian_rug.md §1), or summed over
        outputs and averaged over the batch (memorization.md §1, §7).
    importance : tuple of float, optional
        Per-output MSE weight (TMS importance).
    decay_biases : bool
        Apply weight decay to biases too (torch AdamW decays every parameter).
    dtype : {"float32", "float64"}
        Training precision (it changes grokking times: record it).
    seed : int
        Seeds the data stream (and minibatch order); the same seed gives identical weights.
    log_every : int
        Record the mean training loss every ``log_every`` steps.
    checkpoint_steps : tuple of int
        Keep a copy of the model after these steps.
    eval_every : int or None
        Evaluate the held-out loss every ``eval_every`` steps (and after the last step).
    eval_samples : int
        Held-out samples per evaluation (fresh data; fixed data uses its test set).
    backend : {"auto", "kernel", "numpy"}
    dense_threshold : float
        Kernel backend: dense ``dL/du`` path when the previous step's fraction of positive
        pre-activations exceeds this (spec performance.md §7 finding 4; measured crossover here
        12–15 %, :data:`toyforge.verify.kernels.autoencoder_train.DEFAULT_DENSE_THRESHOLD`).
    threads : int or None
        numba threads for the kernel backend (None: leave numba's setting, serial kernels;
        > 1 uses the parallel kernels; set ``OMP_WAIT_POLICY=PASSIVE`` first, spec finding 3).
    """

    steps: int
    batch_size: int | None = 1024
    optimizer: AdamConfig = dataclasses.field(default_factory=AdamConfig)
    schedule: Schedule = dataclasses.field(default_factory=Schedule)
    loss: str = "mse"
    reduction: str = "mean"
    importance: tuple[float, ...] | None = None
    decay_biases: bool = True
    dtype: str = "float32"
    seed: int = 0
    log_every: int = 10
    checkpoint_steps: tuple[int, ...] = ()
    eval_every: int | None = None
    eval_samples: int = 16384
    backend: str = "auto"
    dense_threshold: float = 0.12
    threads: int | None = None

    def __post_init__(self) -> None:
        check_int("steps", self.steps, minimum=1)
        if self.batch_size is not None:
            check_int("batch_size", self.batch_size, minimum=1)
        if not isinstance(self.optimizer, AdamConfig):
            raise InvalidParameter("optimizer", type(self.optimizer).__name__, "an AdamConfig")
        if not isinstance(self.schedule, Schedule):
            raise InvalidParameter("schedule", type(self.schedule).__name__, "a Schedule")
        check_choice("loss", self.loss, LOSSES)
        check_choice("reduction", self.reduction, REDUCTIONS)
        if self.importance is not None:
            weights = tuple(float(w) for w in np.asarray(self.importance, dtype=float).ravel())
            if not all(math.isfinite(w) and w >= 0 for w in weights):
                raise InvalidParameter(
                    "importance", "non-finite or negative", "finite weights >= 0"
                )
            if self.loss != "mse":
                raise InvalidParameter("importance", "given", "None with cross-entropy")
            object.__setattr__(self, "importance", weights)
        check_choice("dtype", self.dtype, DTYPES)
        check_seed("seed", self.seed)
        if self.seed is None:
            raise InvalidParameter("seed", None, "an integer >= 0 (runs are reproducible)")
        check_int("log_every", self.log_every, minimum=1)
        steps = tuple(
            sorted({check_int("checkpoint_steps", s, minimum=1) for s in self.checkpoint_steps})
        )
        if steps and steps[-1] > self.steps:
            raise InvalidParameter("checkpoint_steps", steps[-1], f"steps in [1, {self.steps}]")
        object.__setattr__(self, "checkpoint_steps", steps)
        if self.eval_every is not None:
            check_int("eval_every", self.eval_every, minimum=1)
        check_int("eval_samples", self.eval_samples, minimum=2)
        check_choice("backend", self.backend, BACKENDS)
        check_interval("dense_threshold", self.dense_threshold, 0.0, math.inf)
        if self.threads is not None:
            check_int("threads", self.threads, minimum=1)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class TrainHistory:
    """The loss curve: one row per logging or evaluation point.

    ``train_loss[k]`` is the mean training-batch loss over the steps since the previous row;
    ``eval_loss``/``eval_stderr`` are NaN on rows without an evaluation.
    ``positive_fraction`` is the kernel backend's fraction of positive pre-activations at
    that step (NaN on the numpy backend).
    """

    steps: np.ndarray
    train_loss: np.ndarray
    eval_loss: np.ndarray
    eval_stderr: np.ndarray
    positive_fraction: np.ndarray

    COLUMNS = ("step", "train_loss", "eval_loss", "eval_stderr", "positive_fraction")

    def to_csv(self) -> str:
        """The history as CSV text (header + one line per row; NaN written as ``nan``)."""
        table = np.column_stack(
            [self.steps, self.train_loss, self.eval_loss, self.eval_stderr, self.positive_fraction]
        )
        buffer = io.StringIO()
        buffer.write(",".join(self.COLUMNS) + "\n")
        for row in table:
            buffer.write(f"{int(row[0])}," + ",".join(f"{v:.9g}" for v in row[1:]) + "\n")
        return buffer.getvalue()

    def save_csv(self, path: str | Path) -> Path:
        """Write :meth:`to_csv` to ``path`` atomically."""
        atomic_write_text(path, self.to_csv())
        return Path(path)

    @classmethod
    def from_csv(cls, text: str) -> TrainHistory:
        """Parse :meth:`to_csv` output."""
        rows = [line.split(",") for line in text.strip().splitlines()[1:]]
        table = np.array(rows, dtype=np.float64).reshape(-1, len(cls.COLUMNS))
        return cls(
            steps=table[:, 0].astype(np.int64),
            train_loss=table[:, 1],
            eval_loss=table[:, 2],
            eval_stderr=table[:, 3],
            positive_fraction=table[:, 4],
        )


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class Checkpoint:
    """The model after ``step`` optimiser steps."""

    step: int
    model: Any


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class TrainResult:
    """A trained model with its history, checkpoints, speed and config.

    ``steps_per_second`` counts training time only (evaluations excluded);
    ``final_eval`` is the held-out Estimate after the last step (None without evaluation);
    ``backend`` is the backend actually used; ``sparse_steps`` the number of kernel steps
    that took the sparse ``dL/du`` path.
    """

    model: Any
    history: TrainHistory
    checkpoints: tuple[Checkpoint, ...]
    steps_per_second: float
    train_seconds: float
    final_eval: Estimate | None
    backend: str
    sparse_steps: int
    config: TrainConfig

    def summary(self) -> dict[str, Any]:
        """JSON-able facts about the run (used as weight-file metadata)."""
        from toyforge.core.serde import to_jsonable

        final = self.final_eval
        return {
            "config": to_jsonable(self.config),
            "backend": self.backend,
            "sparse_steps": self.sparse_steps,
            "steps_per_second": self.steps_per_second,
            "train_seconds": self.train_seconds,
            "final_train_loss": float(self.history.train_loss[-1]),
            "final_eval_loss": None if final is None else final.value,
            "final_eval_stderr": None if final is None else final.stderr,
        }

    def save(self, path: str | Path, *, metadata: dict[str, Any] | None = None) -> list[Path]:
        """Save the model (``path``, with :meth:`summary` as metadata), the history beside it
        (``<stem>.history.csv``) and each checkpoint (``<stem>.step<k><suffix>``); atomic."""
        from toyforge.constructions.io import save

        path = Path(path)
        written = [save(self.model, path, metadata={**self.summary(), **(metadata or {})})]
        written.append(self.history.save_csv(history_path(path)))
        for checkpoint in self.checkpoints:
            target = path.with_name(f"{path.stem}.step{checkpoint.step}{path.suffix}")
            written.append(save(checkpoint.model, target, metadata={"step": checkpoint.step}))
        return written


def history_path(model_path: str | Path) -> Path:
    """Where :meth:`TrainResult.save` puts the loss history of ``model_path``."""
    model_path = Path(model_path)
    return model_path.with_name(f"{model_path.stem}.history.csv")


# --------------------------------------------------------------------------- initialisers


def _uniform(rng: np.random.Generator, bound: float, shape: tuple[int, ...]) -> np.ndarray:
    return rng.uniform(-bound, bound, size=shape)


def init_relu_autoencoder(
    n_features: int,
    n_hidden: int,
    seed: int | np.random.Generator | None = 0,
    *,
    tied: bool = False,
    scheme: str = "torch",
) -> ReluAutoencoder:
    """A freshly initialised :class:`ReluAutoencoder` (float64).

    ``scheme="torch"``: PyTorch ``nn.Linear`` defaults, uniform on ±1/√fan_in for weights and
    bias (spec persian_rug.md §1): ``W_in`` ±1/√n_features, ``W_out`` and ``b`` ±1/√n_hidden.
    ``scheme="xavier_normal"``: the TMS colab, ``W`` ~ N(0, 2/(n_features + n_hidden)), b = 0
    (spec memorization.md §1). Tied models use ``W_in`` for both layers.
    """
    n_features = check_int("n_features", n_features, minimum=1)
    n_hidden = check_int("n_hidden", n_hidden, minimum=1)
    check_choice("scheme", scheme, INIT_SCHEMES)
    rng = as_rng(seed)
    if scheme == "xavier_normal":
        std = math.sqrt(2.0 / (n_features + n_hidden))
        W_in = rng.normal(0.0, std, size=(n_hidden, n_features))
        W_out = W_in.T if tied else rng.normal(0.0, std, size=(n_features, n_hidden))
        b = np.zeros(n_features)
    else:
        W_in = _uniform(rng, 1.0 / math.sqrt(n_features), (n_hidden, n_features))
        W_out = W_in.T if tied else _uniform(rng, 1.0 / math.sqrt(n_hidden), (n_features, n_hidden))
        b = _uniform(rng, 1.0 / math.sqrt(n_hidden), (n_features,))
    if tied:
        return ReluAutoencoder.tied_from(W_in, b)
    return ReluAutoencoder(W_in=W_in, W_out=W_out, b=b)


def init_mlp(
    n_inputs: int,
    n_hidden: int,
    n_outputs: int,
    seed: int | np.random.Generator | None = 0,
    *,
    activation: str = "relu",
    output_relu: bool = False,
    embedding: np.ndarray | None = None,
    scheme: str = "torch",
) -> MLP:
    """A freshly initialised :class:`MLP` (float64).

    ``scheme="torch"``: ``nn.Linear`` defaults (uniform ±1/√fan_in for weights and biases);
    ``"xavier_normal"``: N(0, 2/(fan_in + fan_out)) weights, zero biases. ``embedding``
    (n_inputs, n_features) is kept fixed by the trainer.
    """
    n_inputs = check_int("n_inputs", n_inputs, minimum=1)
    n_hidden = check_int("n_hidden", n_hidden, minimum=1)
    n_outputs = check_int("n_outputs", n_outputs, minimum=1)
    check_choice("scheme", scheme, INIT_SCHEMES)
    rng = as_rng(seed)
    if scheme == "xavier_normal":
        W1 = rng.normal(0.0, math.sqrt(2.0 / (n_inputs + n_hidden)), size=(n_hidden, n_inputs))
        W2 = rng.normal(0.0, math.sqrt(2.0 / (n_hidden + n_outputs)), size=(n_outputs, n_hidden))
        b1, b2 = np.zeros(n_hidden), np.zeros(n_outputs)
    else:
        W1 = _uniform(rng, 1.0 / math.sqrt(n_inputs), (n_hidden, n_inputs))
        b1 = _uniform(rng, 1.0 / math.sqrt(n_inputs), (n_hidden,))
        W2 = _uniform(rng, 1.0 / math.sqrt(n_hidden), (n_outputs, n_hidden))
        b2 = _uniform(rng, 1.0 / math.sqrt(n_hidden), (n_outputs,))
    return MLP(
        W1=W1,
        b1=b1,
        W2=W2,
        b2=b2,
        activation=activation,
        output_relu=output_relu,
        embedding=embedding,
    )


# --------------------------------------------------------------------------- evaluation


def held_out_loss(model: Any, data: Data, config: TrainConfig, seed: int) -> Estimate | None:
    """Held-out loss of ``model`` as an Estimate (mean ± SE of per-sample losses).

    Fresh data (:class:`SparseFeatureData`, :class:`GeneratedData`): ``config.eval_samples``
    new samples from ``seed`` (the autoencoder with the plain mean MSE goes through
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
        from toyforge.verify.evaluate.evaluators import SparseDataSpec, evaluate

        spec = SparseDataSpec(feature_prob=data.feature_prob, value_dist=data.value_dist)
        return evaluate(model, spec, n_samples=config.eval_samples, seed=seed)
    rng = np.random.default_rng(seed)
    chunks = []
    remaining = config.eval_samples
    while remaining > 0:
        size = min(remaining, 4096)
        inputs, targets = _draw(data, rng, size, np.dtype(np.float64))
        chunks.append(per_sample_losses(model, inputs, targets, **kwargs))
        remaining -= size
    return Estimate.from_samples(np.concatenate(chunks))


def _draw(
    data: Data, rng: np.random.Generator, size: int, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray | None]:
    if isinstance(data, SparseFeatureData):
        return data.sample(rng, size, dtype).to_dense(), None
    drawn = data.sample(rng, size)  # type: ignore[union-attr]
    if isinstance(drawn, tuple):
        inputs, targets = drawn
        return np.asarray(inputs, dtype=dtype), targets
    return np.asarray(drawn, dtype=dtype), None


# --------------------------------------------------------------------------- the trainer


class _Recorder:
    """Accumulates batch losses into history rows, evaluations and checkpoints."""

    def __init__(
        self,
        config: TrainConfig,
        evaluate: Callable[[], Estimate | None],
        snapshot: Callable[[], Any],
    ) -> None:
        self.config, self.evaluate, self.snapshot = config, evaluate, snapshot
        self.rows: list[tuple[int, float, float, float, float]] = []
        self.window: list[float] = []
        self.checkpoints: list[Checkpoint] = []
        self.eval_seconds = 0.0
        self.final_eval: Estimate | None = None

    def record(self, step: int, loss: float, positive_fraction: float = math.nan) -> None:
        if not math.isfinite(loss):
            raise InvalidParameter(
                "optimizer.lr",
                self.config.optimizer.lr,
                f"a smaller learning rate: the loss became {loss} at step {step}",
            )
        self.window.append(loss)
        config = self.config
        last = step == config.steps
        do_eval = config.eval_every is not None and (step % config.eval_every == 0 or last)
        if step in config.checkpoint_steps:
            self.checkpoints.append(Checkpoint(step=step, model=self.snapshot()))
        if not (do_eval or last or step % config.log_every == 0):
            return
        estimate = None
        if do_eval:
            start = time.perf_counter()
            estimate = self.evaluate()
            self.eval_seconds += time.perf_counter() - start
            if last:
                self.final_eval = estimate
        self.rows.append(
            (
                step,
                float(np.mean(self.window)),
                math.nan if estimate is None else estimate.value,
                math.nan if estimate is None else estimate.stderr,
                positive_fraction,
            )
        )
        self.window = []

    def history(self) -> TrainHistory:
        table = np.array(self.rows, dtype=np.float64).reshape(-1, 5)
        return TrainHistory(
            steps=table[:, 0].astype(np.int64),
            train_loss=table[:, 1],
            eval_loss=table[:, 2],
            eval_stderr=table[:, 3],
            positive_fraction=table[:, 4],
        )


def _use_kernel(model: Any, data: Data, config: TrainConfig) -> bool:
    fits = (
        isinstance(model, ReluAutoencoder)
        and not model.tied
        and isinstance(data, SparseFeatureData)
        and config.loss == "mse"
        and config.batch_size is not None
    )
    if config.backend == "kernel" and not fits:
        raise InvalidParameter(
            "backend",
            "kernel",
            "'kernel' only for an untied "
            "ReluAutoencoder with MSE on SparseFeatureData and a batch size",
        )
    return fits and config.backend != "numpy"


def _check_fit(model: Any, data: Data, config: TrainConfig) -> None:
    if not isinstance(model, ReluAutoencoder | MLP):
        raise InvalidParameter("model_init", type(model).__name__, "a ReluAutoencoder or MLP")
    if isinstance(data, SparseFeatureData) and data.n_features != model.n_features:
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
    if not isinstance(data, SparseFeatureData | FixedData | GeneratedData):
        raise InvalidParameter(
            "data", type(data).__name__, "SparseFeatureData, FixedData or GeneratedData"
        )
    if config.importance is not None:
        width = model.n_features if isinstance(model, ReluAutoencoder) else model.n_outputs
        if len(config.importance) != width:
            raise InvalidParameter(
                "importance",
                f"{len(config.importance)} weights",
                f"{width} weights (one per output)",
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
    data : SparseFeatureData, FixedData or GeneratedData
    config : TrainConfig
    progress : callable, optional
        Called as ``progress(steps_done, batch_loss)`` after every step.

    Returns
    -------
    TrainResult
    """
    if not isinstance(config, TrainConfig):
        raise InvalidParameter("config", type(config).__name__, "a TrainConfig")
    _check_fit(model_init, data, config)
    # A diverging run overflows; the recorder turns the non-finite loss into InvalidParameter.
    with np.errstate(over="ignore", invalid="ignore"):
        if _use_kernel(model_init, data, config):
            return _train_kernel(model_init, data, config, progress)  # type: ignore[arg-type]
        return _train_numpy(model_init, data, config, progress)


def eval_seed(seed: int) -> int:
    """The held-out seed of a run with training seed ``seed``: an independent stream."""
    return int(np.random.SeedSequence([seed, 0x5EED]).generate_state(1)[0])


def _train_kernel(
    model: ReluAutoencoder,
    data: SparseFeatureData,
    config: TrainConfig,
    progress: Callable[[int, float], None] | None,
) -> TrainResult:
    from toyforge.verify.kernels.autoencoder_train import AutoencoderStepper

    parallel = False
    if config.threads is not None:
        import numba

        numba.set_num_threads(min(config.threads, numba.config.NUMBA_NUM_THREADS))
        parallel = config.threads > 1
    dtype = np.dtype(config.dtype)
    optimizer = Adam(config=config.optimizer, schedule=config.schedule)
    importance = None if config.importance is None else np.asarray(config.importance)
    stepper = AutoencoderStepper(
        model.W_in,
        model.W_out,
        model.b,
        optimizer,
        batch_size=config.batch_size,
        dtype=dtype,
        importance=importance,
        reduction=config.reduction,
        dense_threshold=config.dense_threshold,
        parallel=parallel,
        decay_bias=config.decay_biases,
    )

    def snapshot() -> ReluAutoencoder:
        return ReluAutoencoder(**stepper.arrays())

    recorder = _Recorder(
        config, lambda: held_out_loss(snapshot(), data, config, eval_seed(config.seed)), snapshot
    )
    rng = np.random.default_rng(config.seed)
    sparse_steps = 0
    start = time.perf_counter()
    for step in range(1, config.steps + 1):
        batch = data.sample(rng, config.batch_size, dtype)
        stats = stepper.step(batch.indptr, batch.indices, batch.values)
        sparse_steps += stats.sparse_path
        recorder.record(step, stats.loss, stats.positive_fraction)
        if progress is not None:
            progress(step, stats.loss)
    return _result(
        snapshot(), recorder, config, time.perf_counter() - start, "kernel", sparse_steps
    )


def _result(
    model: Any,
    recorder: _Recorder,
    config: TrainConfig,
    seconds: float,
    backend: str,
    sparse_steps: int,
) -> TrainResult:
    train_seconds = max(seconds - recorder.eval_seconds, 1e-9)
    return TrainResult(
        model=model,
        history=recorder.history(),
        checkpoints=tuple(recorder.checkpoints),
        steps_per_second=config.steps / train_seconds,
        train_seconds=train_seconds,
        final_eval=recorder.final_eval,
        backend=backend,
        sparse_steps=sparse_steps,
        config=config,
    )


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


def _train_numpy(
    model: ReluAutoencoder | MLP,
    data: Data,
    config: TrainConfig,
    progress: Callable[[int, float], None] | None,
) -> TrainResult:
    dtype = np.dtype(config.dtype)
    params = {name: np.array(array, dtype=dtype) for name, array in trainable_arrays(model).items()}
    optimizer = Adam(config=config.optimizer, schedule=config.schedule)
    skip_decay = frozenset() if config.decay_biases else frozenset({"b", "b1", "b2"})
    importance = None if config.importance is None else np.asarray(config.importance, dtype=dtype)
    gradient_fn = _gradient_function(model, config, importance, dtype)

    def snapshot() -> Any:
        return _rebuild(model, {name: array.copy() for name, array in params.items()})

    recorder = _Recorder(
        config, lambda: held_out_loss(snapshot(), data, config, eval_seed(config.seed)), snapshot
    )
    rng = np.random.default_rng(config.seed)
    batches = _batch_source(data, config, rng, dtype)
    start = time.perf_counter()
    for step in range(1, config.steps + 1):
        inputs, targets = batches()
        result = gradient_fn(params, inputs, targets)
        optimizer.step(params, result.gradients, skip_decay=skip_decay)
        recorder.record(step, result.loss)
        if progress is not None:
            progress(step, result.loss)
    return _result(snapshot(), recorder, config, time.perf_counter() - start, "numpy", 0)


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
    return lambda: _draw(data, rng, config.batch_size, dtype)  # type: ignore[arg-type]


def _gradient_function(
    model: Any, config: TrainConfig, importance: np.ndarray | None, dtype: np.dtype
) -> Callable[..., Any]:
    kwargs = {"loss": config.loss, "importance": importance, "reduction": config.reduction}
    if isinstance(model, ReluAutoencoder):
        tied = model.tied

        def autoencoder(params, inputs, targets):
            return relu_autoencoder_loss_gradients(
                params["W_in"],
                params.get("W_out"),
                params["b"],
                inputs,
                targets,
                tied=tied,
                **kwargs,
            )

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
            params,
            inputs,
            targets,
            activation=model.activation,
            output_relu=model.output_relu,
            embedding=embedding,
            **kwargs,
        )

    return mlp


def _rebuild(model: Any, params: dict[str, np.ndarray]) -> Any:
    if isinstance(model, ReluAutoencoder):
        if model.tied:
            return ReluAutoencoder.tied_from(params["W_in"], params["b"])
        return ReluAutoencoder(W_in=params["W_in"], W_out=params["W_out"], b=params["b"])
    return dataclasses.replace(model, **params)
