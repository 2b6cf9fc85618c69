"""Full-batch AdamW training of the PAIR modular-addition MLP (grokking), torch-free.

The model is PAIR's trained architecture (docs/modular_addition.md#the-architecture, colab
``server-side/grokking/MLP_Modular_Addition.ipynb``)::

    W_in  = E · H            E: p x d_embed (tied embedding), H: d_embed x N
    W_out = O · Eᵀ           O: N x d_embed (tied unembedding)
    logits(a, b) = ReLU(W_in[a] + W_in[b]) · W_out

or, with ``architecture="direct"``, free ``W_in`` (p x N) and ``W_out`` (N x p) (which, as PAIR
states and docs/modular_addition.md#training-recipes measured, memorises but does not generalise).

Loss: PAIR's ``-mean(onehot ⊙ log_softmax)`` = cross-entropy / p
(docs/modular_addition.md#training-recipes: harmless under Adam
except through ε, but it changes the timing, so it is kept). Optimiser: AdamW as in optax
(decoupled decay ``lr·wd·θ``, β = (0.9, 0.98), ε = 1e-8), full batch. Initialisation as in the
colab: ``E`` VarianceScaling(2.0, fan_in = p, truncated normal with the ÷0.8796 correction),
``H`` and ``O`` haiku ``Linear`` defaults (truncated normal, std 1/√fan_in, no correction).

The arithmetic is plain numpy with analytic gradients (``grads_reference`` spells them out and
is checked against finite differences in the tests); the optimiser is the one Adam of
:mod:`toyforge.verify.train.optim`. Many runs at once (seeds, phase diagrams) go through the
batched numba kernel of :mod:`toyforge.verify.experiments.grok_phase`.

Precision (docs/grokking.md#why-precision-mattered): ``dtype="mixed"`` is PAIR's notebook,
which enables JAX x64 — embedding and its Adam moments in float32, the other matrices, their
moments and the forward/backward pass in float64. The softmax gradient of the target class is
computed as ``−Σ_{c≠t} softmax_c`` (equal to ``softmax_t − 1`` in exact arithmetic); the naive
form cancels to exactly zero in float32 once a training pair is fitted below the rounding unit
while the wrong-class terms survive, a biased gradient that Adam rescales to full-size steps.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from toyforge.constructions.models import ModularAdditionMLP
from toyforge.constructions.modular_addition import is_prime
from toyforge.core.budget import check_memory
from toyforge.core.errors import InvalidParameter
from toyforge.core.validate import check_choice, check_int, check_interval, check_seed
from toyforge.verify.data.sampling import modular_addition_pairs
from toyforge.verify.train.optim import Adam, AdamConfig

__all__ = [
    "RECIPES",
    "ModularTrainingConfig",
    "ModularTrainingResult",
    "TrainingHistory",
    "grads_reference",
    "init_parameters",
    "memory_bytes",
    "train_modular_addition",
]

logger = logging.getLogger(__name__)

ARCHITECTURES = ("factored", "direct")
DTYPES = ("float32", "float64", "mixed")
GROK_ACCURACY = 0.99

#: Named recipes: PAIR's is the config's defaults; "reliable" triples the learning rate so that
#: every measured seed groks well inside 50 000 steps (docs/grokking.md#a-reliable-recipe).
RECIPES: dict[str, dict[str, float]] = {"pair": {}, "reliable": {"lr": 3e-3}}


@dataclass(frozen=True, kw_only=True, slots=True)
class ModularTrainingConfig:
    """Hyperparameters of one grokking run (defaults: the PAIR recipe,
    docs/modular_addition.md#training-recipes).

    Parameters
    ----------
    modulus : int
        p, a prime >= 3 (the Fourier analysis needs every frequency invertible mod p).
    train_fraction : float
        Fraction of the pairs used for training, in (0, 1).
    unordered : bool
        Use only pairs a <= b (PAIR: 2278 pairs at p = 67).
    d_embed, n_hidden : int
        Embedding width (500) and hidden neurons (24).
    architecture : {"factored", "direct"}
    lr, weight_decay, beta1, beta2, eps : float
        AdamW (decoupled) settings.
    steps : int
        Maximum number of full-batch steps.
    dtype : {"float32", "float64", "mixed"}
        "mixed" is PAIR's notebook: embedding float32, everything else float64.
    seed : int
        Seeds the initialisation and the train/test split.
    eval_every : int
        History is logged every ``eval_every`` steps (and at the last step).
    stop_after_grok : int or None
        If set, stop this many steps after test accuracy first reaches 99 %.
    """

    modulus: int = 67
    train_fraction: float = 0.4
    unordered: bool = True
    d_embed: int = 500
    n_hidden: int = 24
    architecture: str = "factored"
    lr: float = 1e-3
    weight_decay: float = 1.0
    beta1: float = 0.9
    beta2: float = 0.98
    eps: float = 1e-8
    steps: int = 50_000
    dtype: str = "float32"
    seed: int = 0
    eval_every: int = 100
    stop_after_grok: int | None = None

    def __post_init__(self) -> None:
        check_int("modulus", self.modulus, minimum=3)
        if not is_prime(self.modulus):
            raise InvalidParameter("modulus", self.modulus, "a prime >= 3")
        check_interval(
            "train_fraction", self.train_fraction, 0.0, 1.0, low_open=True, high_open=True
        )
        check_int("d_embed", self.d_embed, minimum=1)
        check_int("n_hidden", self.n_hidden, minimum=1)
        check_choice("architecture", self.architecture, ARCHITECTURES)
        check_interval("lr", self.lr, 0.0, math.inf, low_open=True)
        check_interval("weight_decay", self.weight_decay, 0.0, math.inf)
        check_interval("beta1", self.beta1, 0.0, 1.0, high_open=True)
        check_interval("beta2", self.beta2, 0.0, 1.0, high_open=True)
        check_interval("eps", self.eps, 0.0, math.inf, low_open=True)
        check_int("steps", self.steps, minimum=1)
        check_choice("dtype", self.dtype, DTYPES)
        check_seed("seed", self.seed)
        check_int("eval_every", self.eval_every, minimum=1)
        if self.stop_after_grok is not None:
            check_int("stop_after_grok", self.stop_after_grok, minimum=0)


@dataclass(frozen=True, kw_only=True, slots=True)
class TrainingHistory:
    """Metrics logged every ``eval_every`` steps; each array has shape (n_logged,).

    Losses are plain cross-entropy (nats, not divided by p); accuracies in [0, 1];
    ``weight_norm`` is the L2 norm of all trained parameters.
    """

    step: np.ndarray
    train_loss: np.ndarray
    test_loss: np.ndarray
    train_accuracy: np.ndarray
    test_accuracy: np.ndarray
    weight_norm: np.ndarray

    @property
    def steps(self) -> np.ndarray:
        """The logged steps (the trainer protocol's name for ``step``)."""
        return self.step

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The columns by name (for ``np.savez``)."""
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> TrainingHistory:
        """Inverse of :meth:`to_arrays` (extra keys are ignored)."""
        missing = [name for name in cls.__slots__ if name not in arrays]
        if missing:
            raise InvalidParameter("history", sorted(arrays), f"arrays named {missing}")
        return cls(**{name: np.asarray(arrays[name]) for name in cls.__slots__})


@dataclass(frozen=True, kw_only=True, slots=True)
class ModularTrainingResult:
    """A finished run: the config, the model, the history and the timing.

    ``memorize_step``: first logged step with train accuracy 1.0; ``grok_step``: first logged
    step with test accuracy >= 0.99 (None if never). ``steps_per_second`` counts training
    steps (evaluation included) per wall-clock second; ``cpu_seconds`` is process CPU time.
    """

    config: ModularTrainingConfig
    model: ModularAdditionMLP = field(repr=False)
    history: TrainingHistory = field(repr=False)
    train_accuracy: float
    test_accuracy: float
    memorize_step: int | None
    grok_step: int | None
    steps_run: int
    wall_seconds: float
    cpu_seconds: float

    @property
    def steps(self) -> int:
        """Optimiser steps taken (trainer protocol, ``verify/train/protocol.py``)."""
        return self.steps_run

    @property
    def converged(self) -> bool:
        """True when the run grokked (test accuracy reached 99 %)."""
        return self.grok_step is not None

    @property
    def steps_per_second(self) -> float:
        """Training steps per wall-clock second."""
        return self.steps_run / max(self.wall_seconds, 1e-12)


# --------------------------------------------------------------------------- initialisation


def truncated_normal(rng: np.random.Generator, shape: tuple[int, ...], std: float) -> np.ndarray:
    """Normal(0, std) truncated to ±2 std (haiku/jax ``truncated_normal``)."""
    values = rng.standard_normal(shape)
    bad = np.abs(values) > 2.0
    while np.any(bad):
        values[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(values) > 2.0
    return values * std


def _compute_dtype(config: ModularTrainingConfig) -> np.dtype:
    """The dtype of the forward/backward pass (float64 for "mixed")."""
    return np.dtype(np.float32 if config.dtype == "float32" else np.float64)


def init_parameters(
    config: ModularTrainingConfig, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Initial parameters (PAIR colab initialisers; docs/grokking.md#the-model-and-the-recipe).

    Drawn in float64 and rounded to ``config.dtype`` ("mixed": the embedding to float32, the
    rest float64), so every precision starts from the same numbers.
    """
    p, d, n = config.modulus, config.d_embed, config.n_hidden
    dtype = _compute_dtype(config)
    if config.architecture == "factored":
        params = {
            "embedding": truncated_normal(rng, (p, d), math.sqrt(2.0 / p) / 0.87962566103423978),
            "projection": truncated_normal(rng, (d, n), 1.0 / math.sqrt(d)),
            "readout": truncated_normal(rng, (n, d), 1.0 / math.sqrt(n)),
        }
    else:
        params = {
            "W_in": truncated_normal(rng, (p, n), math.sqrt(2.0 / p) / 0.87962566103423978),
            "W_out": truncated_normal(rng, (n, p), 1.0 / math.sqrt(n)),
        }
    params = {name: value.astype(dtype) for name, value in params.items()}
    if config.dtype == "mixed" and "embedding" in params:
        params["embedding"] = params["embedding"].astype(np.float32)
    return params


def memory_bytes(config: ModularTrainingConfig) -> float:
    """Bytes the trainer holds at its peak (parameters, Adam state, batches, activations)."""
    p, d, n = config.modulus, config.d_embed, config.n_hidden
    n_pairs = p * (p + 1) / 2 if config.unordered else float(p) * p
    weights = (2.0 * p * d + 2.0 * d * n) if config.architecture == "factored" else 2.0 * p * n
    per_pair = 2.0 * p + 4.0 * n  # operand counts + logits/probs, pre/hidden/grad rows
    return 8.0 * (5 * weights + n_pairs * per_pair + 4.0 * p * n)


# --------------------------------------------------------------------------- forward / backward


@dataclass(frozen=True, kw_only=True, slots=True)
class _Batch:
    """Fixed full batch: operands, targets and the (batch x p) operand-count matrix S."""

    a: np.ndarray
    b: np.ndarray
    target: np.ndarray
    counts: np.ndarray  # S[i, x] = [a_i = x] + [b_i = x]; dW_in = Sᵀ dpre


def _make_batch(pairs: np.ndarray, modulus: int, dtype: np.dtype) -> _Batch:
    a = np.ascontiguousarray(pairs[:, 0])
    b = np.ascontiguousarray(pairs[:, 1])
    counts = np.zeros((len(pairs), modulus), dtype=dtype)
    rows = np.arange(len(pairs))
    np.add.at(counts, (rows, a), 1.0)
    np.add.at(counts, (rows, b), 1.0)
    return _Batch(a=a, b=b, target=(a + b) % modulus, counts=counts)


def _matrices(params: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    if "embedding" in params:
        embedding = params["embedding"]
        return embedding @ params["projection"], params["readout"] @ embedding.T
    return params["W_in"], params["W_out"]


def _loss_and_grads(
    params: dict[str, np.ndarray], batch: _Batch
) -> tuple[float, float, dict[str, np.ndarray]]:
    """Mean CE, accuracy and gradients of PAIR's loss CE/p (analytic backward pass)."""
    W_in, W_out = _matrices(params)
    pre = W_in[batch.a] + W_in[batch.b]
    hidden = np.maximum(pre, 0)
    logits = hidden @ W_out
    n_rows, modulus = logits.shape
    rows = np.arange(n_rows)
    accuracy = float(np.mean(np.argmax(logits, axis=1) == batch.target))
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    totals = probs.sum(axis=1, keepdims=True)
    loss = float(np.mean(np.log(totals[:, 0]) - logits[rows, batch.target]))
    probs /= totals
    # d(CE)/d logit_target = −Σ_{c≠t} p_c, not p_t − 1: the latter cancels to 0 in float32 for
    # fitted pairs while the wrong-class terms survive (docs/grokking.md#why-precision-mattered)
    probs[rows, batch.target] = 0
    probs[rows, batch.target] = -probs.sum(axis=1)
    probs *= probs.dtype.type(1.0 / (n_rows * modulus))  # d(CE/p)/dlogits
    grad_W_out = hidden.T @ probs
    grad_pre = probs @ W_out.T
    grad_pre *= pre > 0
    grad_W_in = batch.counts.T @ grad_pre
    if "embedding" in params:
        embedding = params["embedding"]
        grads = {
            "embedding": grad_W_in @ params["projection"].T + grad_W_out.T @ params["readout"],
            "projection": embedding.T @ grad_W_in,
            "readout": grad_W_out @ embedding,
        }
    else:
        grads = {"W_in": grad_W_in, "W_out": grad_W_out}
    return loss, accuracy, grads


def grads_reference(
    params: dict[str, np.ndarray], pairs: np.ndarray, modulus: int
) -> tuple[float, dict[str, np.ndarray]]:
    """Loss CE/p and its gradients, written for clarity (float64, explicit one-hots).

    The reference the fast step is tested against (and finite differences against this).
    """
    params = {name: np.asarray(value, dtype=np.float64) for name, value in params.items()}
    a, b = pairs[:, 0], pairs[:, 1]
    onehot_a = np.eye(modulus)[a]
    onehot_b = np.eye(modulus)[b]
    target = np.eye(modulus)[(a + b) % modulus]
    W_in, W_out = _matrices(params)
    pre = onehot_a @ W_in + onehot_b @ W_in
    hidden = np.maximum(pre, 0.0)
    logits = hidden @ W_out
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -np.mean(target * log_probs)
    d_logits = (np.exp(log_probs) - target) / target.size
    d_W_out = hidden.T @ d_logits
    d_pre = (d_logits @ W_out.T) * (pre > 0)
    d_W_in = onehot_a.T @ d_pre + onehot_b.T @ d_pre
    if "embedding" in params:
        emb, proj, out = params["embedding"], params["projection"], params["readout"]
        return float(loss), {
            "embedding": d_W_in @ proj.T + (out.T @ d_W_out).T,
            "projection": emb.T @ d_W_in,
            "readout": d_W_out @ emb,
        }
    return float(loss), {"W_in": d_W_in, "W_out": d_W_out}


def _evaluate(params: dict[str, np.ndarray], batch: _Batch) -> tuple[float, float]:
    """Mean CE (nats) and accuracy on ``batch``."""
    W_in, W_out = _matrices(params)
    logits = np.maximum(W_in[batch.a] + W_in[batch.b], 0) @ W_out
    accuracy = float(np.mean(np.argmax(logits, axis=1) == batch.target))
    logits = logits.astype(np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    rows = np.arange(len(logits))
    loss = float(np.mean(np.log(np.exp(logits).sum(axis=1)) - logits[rows, batch.target]))
    return loss, accuracy


# --------------------------------------------------------------------------- training loop


def _split(config: ModularTrainingConfig) -> tuple[np.ndarray, np.ndarray]:
    return modular_addition_pairs(
        config.modulus, config.train_fraction, seed=config.seed, unordered=config.unordered
    )


def _to_model(params: dict[str, np.ndarray]) -> ModularAdditionMLP:
    if "embedding" in params:
        embedding = params["embedding"].copy()
        readout = params["readout"].copy()
        return ModularAdditionMLP(
            embedding=embedding,
            projection=params["projection"].copy(),
            readout=readout,
            W_out=readout @ embedding.T,
        )
    return ModularAdditionMLP(W_in=params["W_in"].copy(), W_out=params["W_out"].copy())


def _weight_norm(params: dict[str, np.ndarray]) -> float:
    return float(
        math.sqrt(sum(float(np.sum(np.square(v, dtype=np.float64))) for v in params.values()))
    )


def train_modular_addition(
    config: ModularTrainingConfig | None = None,
    *,
    callback: Callable[[int, Callable[[], ModularAdditionMLP]], None] | None = None,
) -> ModularTrainingResult:
    """Train the PAIR modular-addition MLP by full-batch AdamW
    (docs/modular_addition.md#training-recipes).

    Parameters
    ----------
    config : ModularTrainingConfig, optional
        Defaults to the PAIR recipe (p = 67, 40 % of unordered pairs, 50 000 steps, float32).
    callback : callable, optional
        ``callback(step, current_model)`` after each logged evaluation; ``current_model()``
        returns a copy of the model at that step (for progress bars or progress measures).

    Returns
    -------
    ModularTrainingResult
        Deterministic given ``config`` (same seed, same history).
    """
    config = config or ModularTrainingConfig()
    check_memory("n_hidden", config.n_hidden, memory_bytes(config), what="the training run")
    with _single_thread_blas():
        return _train(config, callback)


def _single_thread_blas() -> contextlib.AbstractContextManager[object]:
    """Limit BLAS to one thread: on these tiny matrices threads cost 2x CPU for no speed-up."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is a dev extra
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _train(
    config: ModularTrainingConfig,
    callback: Callable[[int, Callable[[], ModularAdditionMLP]], None] | None,
) -> ModularTrainingResult:
    rng = np.random.default_rng(config.seed)
    dtype = _compute_dtype(config)
    train_pairs, test_pairs = _split(config)
    if len(train_pairs) == 0 or len(test_pairs) == 0:
        raise InvalidParameter(
            "train_fraction",
            config.train_fraction,
            "a fraction leaving at least one train and one test pair",
        )
    params = init_parameters(config, rng)
    train_batch = _make_batch(train_pairs, config.modulus, dtype)
    test_batch = _make_batch(test_pairs, config.modulus, dtype)
    optimiser = _optimiser(config)
    columns: dict[str, list[float]] = {name: [] for name in TrainingHistory.__slots__}
    grok_step: int | None = None
    stop_at = config.steps
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    step = 0
    while step < stop_at:
        loss, accuracy, grads = _loss_and_grads(params, train_batch)
        if step % config.eval_every == 0:
            test_loss, test_accuracy = _evaluate(params, test_batch)
            _log(columns, step, loss, test_loss, accuracy, test_accuracy, params)
            if grok_step is None and test_accuracy >= GROK_ACCURACY:
                grok_step = step
                if config.stop_after_grok is not None:
                    stop_at = min(stop_at, step + config.stop_after_grok)
            if callback is not None:
                callback(step, lambda: _to_model(params))
        optimiser.step(params, grads)
        step += 1
    train_loss, train_accuracy = _evaluate(params, train_batch)
    test_loss, test_accuracy = _evaluate(params, test_batch)
    _log(columns, step, train_loss, test_loss, train_accuracy, test_accuracy, params)
    if grok_step is None and test_accuracy >= GROK_ACCURACY:
        grok_step = step
    wall, cpu = time.perf_counter() - wall_start, time.process_time() - cpu_start
    history = TrainingHistory(
        **{
            name: np.asarray(values, dtype=np.int64 if name == "step" else np.float64)
            for name, values in columns.items()
        }
    )
    memorized = np.flatnonzero(history.train_accuracy >= 1.0)
    return ModularTrainingResult(
        config=config,
        model=_to_model(params),
        history=history,
        train_accuracy=train_accuracy,
        test_accuracy=test_accuracy,
        memorize_step=int(history.step[memorized[0]]) if memorized.size else None,
        grok_step=grok_step,
        steps_run=step,
        wall_seconds=wall,
        cpu_seconds=cpu,
    )


def _optimiser(config: ModularTrainingConfig) -> Adam:
    """optax ``adamw`` = AdamW of :mod:`toyforge.verify.train.optim` (decay on every matrix)."""
    return Adam(
        config=AdamConfig(
            lr=config.lr,
            beta1=config.beta1,
            beta2=config.beta2,
            eps=config.eps,
            weight_decay=config.weight_decay,
            decoupled=True,
        )
    )


def _log(
    columns: dict[str, list[float]],
    step: int,
    train_loss: float,
    test_loss: float,
    train_accuracy: float,
    test_accuracy: float,
    params: dict[str, np.ndarray],
) -> None:
    columns["step"].append(step)
    columns["train_loss"].append(train_loss)
    columns["test_loss"].append(test_loss)
    columns["train_accuracy"].append(train_accuracy)
    columns["test_accuracy"].append(test_accuracy)
    columns["weight_norm"].append(_weight_norm(params))
    logger.debug(
        "step %d train %.3g/%.3f test %.3g/%.3f",
        step,
        train_loss,
        train_accuracy,
        test_loss,
        test_accuracy,
    )
