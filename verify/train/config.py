"""The configuration of one training run (frozen, validated, JSON-able).

See ``docs/training.md#the-trainer-protocol``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from toyforge.core.errors import InvalidParameter
from toyforge.core.validate import check_choice, check_int, check_interval, check_seed
from toyforge.verify.train.convergence import ConvergenceRule
from toyforge.verify.train.gradients import LOSSES, REDUCTIONS
from toyforge.verify.train.optim import AdamConfig, Schedule

__all__ = ["BACKENDS", "DTYPES", "TrainConfig"]

BACKENDS = ("auto", "kernel", "numpy")
DTYPES = ("float32", "float64")


@dataclass(frozen=True, kw_only=True, slots=True)
class TrainConfig:
    """Everything that defines a training run (frozen, JSON-able).

    Parameters
    ----------
    steps : int
        The step budget: at most this many optimiser steps (fewer when ``convergence`` stops
        the run first).
    batch_size : int or None
        Minibatch size; None = full batch (fixed datasets only).
    optimizer : AdamConfig
        Adam (``decoupled=False``) or AdamW (``decoupled=True``) hyperparameters.
    schedule : Schedule
        Learning-rate multiplier (constant, or warm-up + cosine).
    loss : {"mse", "cross_entropy"}
    reduction : {"mean", "sum_features"}
        MSE normalisation: mean over batch × outputs (the Persian-rug paper), or summed over
        outputs and averaged over the batch (the TMS convention).
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
        pre-activations exceeds this (measured crossover here
        12–15 %, :data:`toyforge.verify.kernels.autoencoder_train.DEFAULT_DENSE_THRESHOLD`).
    threads : int or None
        numba threads for the kernel backend (None: leave numba's setting, serial kernels;
        > 1 uses the parallel kernels; set ``OMP_WAIT_POLICY=PASSIVE`` first).
    convergence : ConvergenceRule or None
        Stop once the held-out loss stops improving
        (``docs/training.md#the-convergence-rule``); None runs the whole budget and the
        result says ``converged=False``.
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
    convergence: ConvergenceRule | None = None

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
        if self.convergence is not None and not isinstance(self.convergence, ConvergenceRule):
            raise InvalidParameter(
                "convergence", type(self.convergence).__name__, "a ConvergenceRule or None"
            )
