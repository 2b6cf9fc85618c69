"""Training the PAIR "1s and 0s" (sparse parity) MLP, with L2 or L1 weight decay.

Recipe (docs/modular_addition.md#sparse-parity, PAIR sweep ``sweep-sparse-parity``): n = 30 bits,
label = parity of the first k = 3; a fixed training set (>= 1000 examples generalise reliably
with wd 0.1), full batch, AdamW lr 3e-3, β = (0.99, 0.98), weight decay 0.1; 5000 fresh test
examples. The network is :class:`~toyforge.constructions.models.MLP` with one ReLU hidden layer
and one output logit; loss = logistic (binary cross-entropy) on that logit.

``decay="l2"`` is AdamW's decoupled decay θ ← θ − lr·wd·θ (optax ``adamw``, PAIR's sweep);
``decay="l1"`` is PAIR's ``l1_regularizer`` chained before Adam: the gradient becomes
g + wd·sign(θ) and Adam normalises the sum (the article's figure uses L1). Biases are not
decayed. Both go through the one Adam of :mod:`toyforge.verify.train.optim`. The gradients are
analytic numpy (a step at 1200 × 30 × 64 costs about 1 ms of CPU). See
docs/grokking.md#sparse-parity-l1-versus-l2.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from toyforge.constructions.models import MLP
from toyforge.constructions.sparse_parity import sparse_parity_data
from toyforge.core.validate import check_choice, check_int, check_interval, check_seed
from toyforge.verify.experiments.grokking import _single_thread_blas, truncated_normal
from toyforge.verify.train.optim import Adam, AdamConfig

__all__ = [
    "ParityHistory",
    "ParityTrainingConfig",
    "ParityTrainingResult",
    "active_neurons",
    "train_sparse_parity",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class ParityTrainingConfig:
    """Hyperparameters of one sparse-parity run (defaults: PAIR sweep,
    docs/modular_addition.md#sparse-parity)."""

    n_bits: int = 30
    k: int = 3
    n_train: int = 1200
    n_test: int = 5000
    n_hidden: int = 64
    lr: float = 3e-3
    beta1: float = 0.99
    beta2: float = 0.98
    eps: float = 1e-8
    weight_decay: float = 0.1
    decay: str = "l2"
    steps: int = 5000
    eval_every: int = 50
    seed: int = 0

    def __post_init__(self) -> None:
        check_int("n_bits", self.n_bits, minimum=1)
        check_int("k", self.k, minimum=1)
        check_int("n_train", self.n_train, minimum=1)
        check_int("n_test", self.n_test, minimum=1)
        check_int("n_hidden", self.n_hidden, minimum=1)
        check_interval("lr", self.lr, 0.0, math.inf, low_open=True)
        check_interval("beta1", self.beta1, 0.0, 1.0, high_open=True)
        check_interval("beta2", self.beta2, 0.0, 1.0, high_open=True)
        check_interval("eps", self.eps, 0.0, math.inf, low_open=True)
        check_interval("weight_decay", self.weight_decay, 0.0, math.inf)
        check_choice("decay", self.decay, ("l2", "l1"))
        check_int("steps", self.steps, minimum=1)
        check_int("eval_every", self.eval_every, minimum=1)
        check_seed("seed", self.seed)


@dataclass(frozen=True, kw_only=True, slots=True)
class ParityHistory:
    """The logged curves (trainer protocol: ``steps`` and ``train_loss``)."""

    steps: np.ndarray
    train_loss: np.ndarray
    test_loss: np.ndarray
    train_accuracy: np.ndarray
    test_accuracy: np.ndarray


@dataclass(frozen=True, kw_only=True, slots=True)
class ParityTrainingResult:
    """A finished run. History arrays have shape (n_logged,).

    ``relevant_weight_share``: share of the first-layer |W1| mass on the k relevant bits
    (1 = the network ignores the 27 distractor bits; k/n_bits = 0.1 at random init).
    ``generalize_step``: first logged step with test accuracy >= 99 % (None if never).
    """

    config: ParityTrainingConfig
    model: MLP = field(repr=False)
    step: np.ndarray = field(repr=False)
    train_accuracy_history: np.ndarray = field(repr=False)
    test_accuracy_history: np.ndarray = field(repr=False)
    train_loss_history: np.ndarray = field(repr=False)
    test_loss_history: np.ndarray = field(repr=False)
    train_accuracy: float
    test_accuracy: float
    generalize_step: int | None
    relevant_weight_share: float
    wall_seconds: float

    @property
    def history(self) -> ParityHistory:
        """The curves in the trainer protocol's shape."""
        return ParityHistory(
            steps=self.step,
            train_loss=self.train_loss_history,
            test_loss=self.test_loss_history,
            train_accuracy=self.train_accuracy_history,
            test_accuracy=self.test_accuracy_history,
        )

    @property
    def steps(self) -> int:
        """Optimiser steps taken (always the budget: there is no early stop)."""
        return self.config.steps

    @property
    def converged(self) -> bool:
        """True when test accuracy reached 99 %."""
        return self.generalize_step is not None


def active_neurons(model: MLP, k: int, fraction: float = 0.1) -> int:
    """Hidden neurons whose weight on the k relevant bits exceeds ``fraction`` of the largest.

    L1 decay leaves a few such neurons, L2 many redundant small ones (PAIR's article).
    """
    check_interval("fraction", fraction, 0.0, 1.0, low_open=True, high_open=True)
    strength = np.linalg.norm(np.asarray(model.W1)[:, :k], axis=1) * np.abs(model.W2[0])
    return int(np.sum(strength > fraction * strength.max())) if strength.max() > 0 else 0


def _forward(params: dict[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pre = x @ params["W1"].T + params["b1"]
    return pre, np.maximum(pre, 0) @ params["W2"][0] + params["b2"][0]


def _metrics(params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    _, logit = _forward(params, x)
    signed = logit * (2 * y - 1)
    return float(np.mean(np.logaddexp(0.0, -signed))), float(np.mean(signed > 0))


def _grads(params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Gradients of mean BCE(logit, y) (logistic loss)."""
    pre, logit = _forward(params, x)
    hidden = np.maximum(pre, 0)
    d_logit = (1.0 / (1.0 + np.exp(-logit)) - y) / len(y)
    d_pre = np.outer(d_logit, params["W2"][0]) * (pre > 0)
    return {
        "W2": (d_logit @ hidden)[None, :],
        "b2": np.array([d_logit.sum()]),
        "W1": d_pre.T @ x,
        "b1": d_pre.sum(axis=0),
    }


def train_sparse_parity(config: ParityTrainingConfig | None = None) -> ParityTrainingResult:
    """Train the 1s-and-0s MLP full batch with AdamW (L2) or its L1 analogue
    (docs/modular_addition.md#sparse-parity)."""
    config = config or ParityTrainingConfig()
    with _single_thread_blas():
        return _train(config)


def _optimiser(config: ParityTrainingConfig) -> Adam:
    """AdamW for L2; plain Adam for L1 (its decay enters the gradient instead)."""
    decay = config.weight_decay if config.decay == "l2" else 0.0
    return Adam(
        config=AdamConfig(
            lr=config.lr, beta1=config.beta1, beta2=config.beta2, eps=config.eps, weight_decay=decay
        )
    )


def _train(config: ParityTrainingConfig) -> ParityTrainingResult:
    rng = np.random.default_rng(config.seed)
    x_train, y_train = sparse_parity_data(config.n_train, config.n_bits, config.k, rng)
    x_test, y_test = sparse_parity_data(config.n_test, config.n_bits, config.k, rng)
    params = {
        "W1": truncated_normal(rng, (config.n_hidden, config.n_bits), 1 / math.sqrt(config.n_bits)),
        "b1": np.zeros(config.n_hidden),
        "W2": truncated_normal(rng, (1, config.n_hidden), 1 / math.sqrt(config.n_hidden)),
        "b2": np.zeros(1),
    }
    optimiser = _optimiser(config)
    log: dict[str, list[float]] = {
        "step": [],
        "train_acc": [],
        "test_acc": [],
        "train_loss": [],
        "test_loss": [],
    }
    start = time.perf_counter()
    for step in range(config.steps + 1):
        if step % config.eval_every == 0 or step == config.steps:
            train_loss, train_acc = _metrics(params, x_train, y_train)
            test_loss, test_acc = _metrics(params, x_test, y_test)
            for name, value in zip(
                log, (step, train_acc, test_acc, train_loss, test_loss), strict=True
            ):
                log[name].append(value)
        if step == config.steps:
            break
        grads = _grads(params, x_train, y_train)
        if config.decay == "l1" and config.weight_decay:
            for name in ("W1", "W2"):  # PAIR's l1_regularizer, chained before Adam
                grads[name] = grads[name] + config.weight_decay * np.sign(params[name])
        optimiser.step(params, grads, skip_decay=frozenset({"b1", "b2"}))
    wall = time.perf_counter() - start
    test_history = np.asarray(log["test_acc"])
    reached = np.flatnonzero(test_history >= 0.99)
    mass = np.abs(params["W1"])
    model = MLP(W1=params["W1"], b1=params["b1"], W2=params["W2"], b2=params["b2"])
    return ParityTrainingResult(
        config=config,
        model=model,
        step=np.asarray(log["step"], dtype=np.int64),
        train_accuracy_history=np.asarray(log["train_acc"]),
        test_accuracy_history=test_history,
        train_loss_history=np.asarray(log["train_loss"]),
        test_loss_history=np.asarray(log["test_loss"]),
        train_accuracy=log["train_acc"][-1],
        test_accuracy=log["test_acc"][-1],
        generalize_step=int(log["step"][reached[0]]) if reached.size else None,
        relevant_weight_share=float(mass[:, : config.k].sum() / mass.sum()),
        wall_seconds=wall,
    )
