"""What a training run returns: the model, its loss history, checkpoints and the verdict.

:class:`TrainResult` follows the trainer protocol (:mod:`toyforge.verify.train.protocol`):
``model``, ``history``, ``converged``, ``steps``, ``config``, plus ``final_eval`` (the
held-out loss ± SE). See ``docs/training.md#the-trainer-protocol``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from toyforge.constructions.io import save
from toyforge.core.fileio import atomic_write_text
from toyforge.core.serde import to_jsonable
from toyforge.verify.evaluate.estimate import Estimate
from toyforge.verify.train.config import TrainConfig

__all__ = ["Checkpoint", "TrainHistory", "TrainResult", "history_path"]


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

    ``steps`` is the number of optimiser steps taken; ``converged`` says whether the
    convergence rule stopped the run (False when it used the whole budget or had no rule);
    ``lr_decays`` counts the rule's learning-rate decays; with restarts, ``restart`` is the
    kept one and ``restart_losses`` the final training loss of each. ``steps_per_second`` counts
    training time only (evaluations excluded); ``final_eval`` is the held-out Estimate after
    the last step (None when the data has no held-out set); ``backend`` is the backend
    actually used; ``sparse_steps`` the number of kernel steps that took the sparse ``dL/du``
    path. ``silent_features`` (ReLU autoencoders) counts the features whose own output stays
    zero when they are active alone (:mod:`toyforge.verify.train.diagnostics`): a run that
    converged with silent features sits in a local minimum that drops them.
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
    steps: int
    converged: bool
    lr_decays: int = 0
    restart: int = 0
    restart_losses: tuple[float, ...] = ()
    silent_features: int | None = None

    def summary(self) -> dict[str, Any]:
        """JSON-able facts about the run (used as weight-file metadata)."""
        final = self.final_eval
        return {
            "config": to_jsonable(self.config),
            "steps": self.steps,
            "converged": self.converged,
            "lr_decays": self.lr_decays,
            "silent_features": self.silent_features,
            "restart": self.restart,
            "restart_losses": list(self.restart_losses),
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
