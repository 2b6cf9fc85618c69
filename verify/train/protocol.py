"""The one trainer protocol every toyforge trainer follows: a config in, a result out.

A *trainer* is a callable ``trainer(config) -> result``. The config is a frozen dataclass
that defines the whole run (seed included: the same config gives the same bits). The result
carries at least:

``model``
    The trained model (a :mod:`toyforge.constructions.models` instance).
``history``
    The loss curve: an object with a ``steps`` integer array (the step of each row) and at
    least one loss column of the same length (``train_loss``).
``converged``
    ``True`` when the run stopped because its convergence rule fired, ``False`` when it hit
    its step budget (or has no rule). A trained number whose run did not converge is shown as
    such wherever it is reported (see ``docs/training.md#the-convergence-rule``).
``steps``
    The number of optimiser steps actually taken (at most the budget).
``config``
    The config that produced it.

Results should also carry ``final_eval``, the held-out loss as an
:class:`toyforge.verify.evaluate.estimate.Estimate` (value ± standard error), or None when
the task has no held-out data.

The ReLU-autoencoder trainer is :func:`toyforge.verify.train.runs.train_run`
(:class:`toyforge.verify.train.runs.AutoencoderRun` in,
:class:`toyforge.verify.train.result.TrainResult` out). Other trainers (modular addition,
sparse parity, memorisation) follow the same shape, or are adapted to it; use
:func:`protocol_violations` in their tests to check a result.

See ``docs/training.md#the-trainer-protocol``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "RESULT_FIELDS",
    "TrainingHistoryLike",
    "TrainingResult",
    "Trainer",
    "protocol_violations",
]

#: The attributes every training result has.
RESULT_FIELDS = ("model", "history", "converged", "steps", "config")


@runtime_checkable
class TrainingHistoryLike(Protocol):
    """A loss curve: ``steps`` (int array) and ``train_loss`` of the same length."""

    @property
    def steps(self) -> np.ndarray: ...

    @property
    def train_loss(self) -> np.ndarray: ...


@runtime_checkable
class TrainingResult(Protocol):
    """What every trainer returns (see the module docstring)."""

    @property
    def model(self) -> Any: ...

    @property
    def history(self) -> TrainingHistoryLike: ...

    @property
    def converged(self) -> bool: ...

    @property
    def steps(self) -> int: ...

    @property
    def config(self) -> Any: ...


#: A trainer: ``trainer(config) -> result``.
Trainer = Callable[[Any], TrainingResult]


def protocol_violations(result: Any) -> list[str]:
    """What keeps ``result`` from following the trainer protocol (empty list: it follows it).

    Checks that every field of :data:`RESULT_FIELDS` exists, that ``converged`` is a bool,
    ``steps`` a non-negative int, and that ``history.steps`` and ``history.train_loss`` are
    1-D arrays of one length whose last step does not exceed ``steps``.
    """
    problems = [f"missing {name!r}" for name in RESULT_FIELDS if not hasattr(result, name)]
    if problems:
        return problems
    if not isinstance(result.converged, bool | np.bool_):
        problems.append(f"converged is {type(result.converged).__name__}, not bool")
    if not isinstance(result.steps, int | np.integer) or result.steps < 0:
        problems.append(f"steps is {result.steps!r}, not an int >= 0")
    history = result.history
    missing = [f"history has no {c!r}" for c in ("steps", "train_loss") if not hasattr(history, c)]
    if missing:
        return problems + missing
    steps = np.asarray(history.steps)
    losses = np.asarray(history.train_loss)
    if steps.ndim != 1 or losses.shape != steps.shape:
        problems.append(f"history columns have shapes {steps.shape} and {losses.shape}")
    elif steps.size and isinstance(result.steps, int | np.integer) and steps[-1] > result.steps:
        problems.append(f"history ends at step {int(steps[-1])} > steps = {result.steps}")
    return problems
