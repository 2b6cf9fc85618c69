"""Theory ↔ construction ↔ trained comparisons for the Persian rug
(docs/rug_construction.md#comparing-theory-construction-and-training).

* :func:`compare_persian_rug` — one table at (n_features, ratio, feature_prob): the large-N
  theory (symmetric optimum, docs/large_n_theory.md#the-closed-form-loss), the time-sharing envelope
  and the linear baseline (docs/large_n_theory.md#time-sharing, docs/large_n_theory.md#baselines),
  the finite-N theory at the construction's own (scale, bias)
  (:mod:`toyforge.theory.finite_n`), the construction's Monte Carlo loss ± SE (matrix-free,
  :mod:`toyforge.verify.evaluate.rug_monte_carlo`) and, optionally, a model trained by
  :mod:`toyforge.verify.train.autoencoder` at the same size, evaluated on fresh held-out data.
* the loss-vs-ratio curves and the convergence study live in
  :mod:`toyforge.verify.compare.rug_curves`.

Every Monte Carlo number carries its standard error; relative differences are
``value / theory − 1``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from toyforge.constructions.persian_rug import (
    SELECTIONS,
    check_power_of_two,
    hidden_size,
    persian_rug,
)
from toyforge.core.errors import InvalidParameter
from toyforge.core.serde import to_jsonable
from toyforge.core.validate import (
    check_choice,
    check_int,
    check_interval,
    check_probability,
    check_seed,
)
from toyforge.theory import linear_loss, predict, symmetric_optimum, time_sharing
from toyforge.theory.finite_n import predict_finite
from toyforge.verify.evaluate.evaluators import SparseDataSpec, evaluate
from toyforge.verify.evaluate.rug_monte_carlo import rug_monte_carlo
from toyforge.verify.train.config import TrainConfig
from toyforge.verify.train.convergence import ConvergenceRule, default_learning_rate
from toyforge.verify.train.optim import AdamConfig
from toyforge.verify.train.runs import AutoencoderRun, train_run

__all__ = [
    "ComparisonResult",
    "RugCompareConfig",
    "TrainedPoint",
    "autoencoder_run",
    "compare_persian_rug",
    "comparison_run",
    "large_n_losses",
    "train_autoencoder",
    "trained_label",
    "trained_point",
]

logger = logging.getLogger(__name__)

DEFAULT_TRAIN_STEPS = 20_000  # a budget: the convergence rule usually stops far earlier
DEFAULT_TRAIN_LR = None  # 0.03/sqrt(n_features), toyforge.verify.train.convergence
DEFAULT_TOL = 1e-3
DEFAULT_WINDOW = 200


# --------------------------------------------------------------------------- theory access


def large_n_losses(ratio: Any, feature_prob: Any) -> dict[str, np.ndarray]:
    """Large-N losses: ``symmetric`` (the rug's optimum), ``time_sharing``, ``linear``.

    Vectorised over broadcastable ``ratio`` and ``feature_prob``
    (docs/large_n_theory.md#the-closed-form-loss).
    """

    ratio, feature_prob = np.broadcast_arrays(
        np.asarray(ratio, float), np.asarray(feature_prob, float)
    )
    symmetric = symmetric_optimum(ratio, feature_prob).loss
    shared = time_sharing(ratio, feature_prob, symmetric_loss=symmetric).loss
    return {
        "symmetric": np.asarray(symmetric),
        "time_sharing": np.asarray(shared),
        "linear": np.asarray(linear_loss(ratio, feature_prob)),
    }


# --------------------------------------------------------------------------- training


@dataclass(frozen=True, kw_only=True, slots=True)
class TrainedPoint:
    """A ReLU autoencoder trained at one size, with its held-out loss ± SE.

    ``steps`` is the number of steps taken; ``converged`` whether the convergence rule stopped
    the run (False: it used its whole budget, ``max_steps``, and the loss may still fall; see
    ``docs/training.md#the-convergence-rule``); ``silent_features`` how many features the
    run dropped by silencing their output (``docs/training.md#silent-features``).
    """

    loss: float
    stderr: float
    n_samples: int
    steps: int
    learning_rate: float
    seconds: float
    converged: bool = False
    max_steps: int | None = None
    silent_features: int | None = None
    model: Any = field(default=None, repr=False, compare=False)


def train_autoencoder(
    n_features: int,
    n_hidden: int,
    feature_prob: float,
    *,
    steps: int = DEFAULT_TRAIN_STEPS,
    learning_rate: float | None = None,
    batch_size: int = 1024,
    seed: int = 0,
    eval_samples: int = 20_000,
    threads: int | None = None,
    converge: bool = True,
    tol: float = DEFAULT_TOL,
    window: int = DEFAULT_WINDOW,
) -> TrainedPoint:
    """Train ``y = ReLU(W_out W_in x + b)`` on fresh sparse batches until it converges.

    Adam at ``learning_rate`` (default ``0.03/√n_features``), the convergence rule (``tol``,
    ``window``; ``converge=False`` runs the whole budget of ``steps``), the aligned
    initialisation (docs/training.md#silent-features);
    the held-out loss uses fresh data (docs/training.md#the-convergence-rule). The run is
    :func:`autoencoder_run`, its report :func:`trained_point` (a sweep trains several such runs
    together with :func:`~toyforge.verify.train.runs.train_runs`).
    """
    run = autoencoder_run(
        n_features,
        n_hidden,
        feature_prob,
        steps=steps,
        learning_rate=learning_rate,
        batch_size=batch_size,
        seed=seed,
        threads=threads,
        converge=converge,
        tol=tol,
        window=window,
    )
    return trained_point(run, train_run(run), eval_samples=eval_samples)


def autoencoder_run(
    n_features: int,
    n_hidden: int,
    feature_prob: float,
    *,
    steps: int = DEFAULT_TRAIN_STEPS,
    learning_rate: float | None = None,
    batch_size: int = 1024,
    seed: int = 0,
    threads: int | None = None,
    converge: bool = True,
    tol: float = DEFAULT_TOL,
    window: int = DEFAULT_WINDOW,
) -> AutoencoderRun:
    """The :class:`~toyforge.verify.train.runs.AutoencoderRun` of :func:`train_autoencoder`."""
    lr = default_learning_rate(n_features) if learning_rate is None else learning_rate
    config = TrainConfig(
        steps=steps,
        batch_size=batch_size,
        optimizer=AdamConfig(lr=lr),
        seed=seed,
        log_every=max(1, min(steps // 100, 100)),
        threads=threads,
        eval_samples=2,  # the estimate of trained_point is the reported one
        convergence=ConvergenceRule(tol=tol, window=window) if converge else None,
    )
    # floor(n · ratio) = n_hidden exactly, whatever the rounding of ratio
    ratio = min(1.0, (n_hidden + 0.5) / n_features)
    return AutoencoderRun(
        n_features=n_features, ratio=ratio, feature_prob=feature_prob, train=config,
        init_seed=seed,
    )  # fmt: skip


def trained_point(run: AutoencoderRun, result: Any, *, eval_samples: int = 20_000) -> TrainedPoint:
    """The :class:`TrainedPoint` of a trained :func:`autoencoder_run`: its held-out loss on
    ``eval_samples`` fresh samples (seed ``run.init_seed + 1_000_003``)."""
    estimate = evaluate(
        result.model,
        SparseDataSpec(feature_prob=run.feature_prob),
        n_samples=eval_samples,
        seed=run.init_seed + 1_000_003,
    )
    return TrainedPoint(
        loss=estimate.value,
        stderr=estimate.stderr,
        n_samples=estimate.n_samples,
        steps=result.steps,
        learning_rate=run.train.optimizer.lr,
        seconds=result.train_seconds,
        converged=result.converged,
        max_steps=run.train.steps,
        silent_features=result.silent_features,
        model=result.model,
    )


def comparison_run(config: RugCompareConfig) -> AutoencoderRun:
    """The training run :func:`compare_persian_rug` makes for ``config`` (``train=True``): the
    autoencoder of the construction's size (:func:`autoencoder_run`)."""
    return autoencoder_run(
        config.n_features,
        hidden_size(config.n_features, config.ratio),
        config.feature_prob,
        steps=config.train_steps,
        learning_rate=config.train_lr,
        seed=config.seed,
        converge=config.train_converge,
        tol=config.train_tol,
        window=config.train_window,
    )


# --------------------------------------------------------------------------- one comparison


@dataclass(frozen=True, kw_only=True, slots=True)
class RugCompareConfig:
    """What :func:`compare_persian_rug` compares.

    Parameters
    ----------
    n_features : int
        A power of two.
    ratio, feature_prob : float
    seed : int
        Seed of the row selection (and of training).
    n_samples : int
        Monte Carlo samples of the construction.
    mc_seed : int
        Seed of the Monte Carlo data (independent of ``seed``).
    selection : str
        Row selection of the construction.
    train : bool
        Also train a ReLU autoencoder at the same size.
    train_steps : int
        Step budget of the trained model.
    train_lr : float or None
        Adam learning rate (None: ``0.03/√n_features``).
    train_converge : bool
        Stop training by the convergence rule (``train_tol``, ``train_window``); False runs
        the whole budget. The result says whether the model converged.
    train_tol : float
    train_window : int
    eval_samples : int
        Held-out samples for the trained model.
    parallel : bool
        Monte Carlo on numba's threads.
    """

    n_features: int
    ratio: float
    feature_prob: float
    seed: int = 0
    n_samples: int = 20_000
    mc_seed: int = 12345
    selection: str = "random"
    train: bool = False
    train_steps: int = DEFAULT_TRAIN_STEPS
    train_lr: float | None = DEFAULT_TRAIN_LR
    train_converge: bool = True
    train_tol: float = DEFAULT_TOL
    train_window: int = DEFAULT_WINDOW
    eval_samples: int = 20_000
    parallel: bool = False

    def __post_init__(self) -> None:
        check_power_of_two("n_features", self.n_features)
        check_interval("ratio", self.ratio, 0.0, 1.0, low_open=True)
        check_probability("feature_prob", self.feature_prob)
        check_seed("seed", self.seed)
        check_int("n_samples", self.n_samples, minimum=2)
        check_seed("mc_seed", self.mc_seed)
        check_choice("selection", self.selection, SELECTIONS)
        check_int("train_steps", self.train_steps, minimum=1)
        if self.train_lr is not None:
            check_interval("train_lr", self.train_lr, 0.0, math.inf, low_open=True)
        check_interval("train_tol", self.train_tol, 0.0, 1.0, high_open=True)
        check_int("train_window", self.train_window, minimum=1)
        check_int("eval_samples", self.eval_samples, minimum=2)


@dataclass(frozen=True, kw_only=True, slots=True)
class ComparisonResult:
    """Large-N theory, finite-N theory, construction and trained model at one point.

    ``theory_loss`` is the large-N symmetric optimum at r_eff (what the rug is built for;
    ``theory_regime`` says whether :func:`toyforge.theory.predict`'s lower envelope is that
    branch, time sharing or linear);
    ``finite_theory_loss`` the exact finite-N loss at the construction's (scale, bias);
    ``construction_loss ± construction_stderr`` its Monte Carlo estimate; ``trained_loss ±
    trained_stderr`` the trained model's held-out loss (None without training), after
    ``trained_steps`` steps; ``trained_converged`` says whether the convergence rule stopped
    it (False: the budget did, and the number is marked as unconverged in :meth:`rows`);
    ``trained_silent_features`` counts the features the run silenced.
    """

    config: RugCompareConfig
    n_hidden: int
    ratio_effective: float
    scale: float
    bias: float
    theory_loss: float
    theory_regime: str
    time_sharing_loss: float
    linear_loss: float
    finite_theory_loss: float
    finite_edgeworth_loss: float
    finite_optimal_loss: float
    construction_loss: float
    construction_stderr: float
    construction_samples_per_second: float
    trained_loss: float | None = None
    trained_stderr: float | None = None
    train_seconds: float | None = None
    trained_steps: int | None = None
    trained_converged: bool | None = None
    trained_silent_features: int | None = None

    @property
    def construction_vs_finite_z(self) -> float:
        """(construction − finite-N theory) / SE."""
        return (self.construction_loss - self.finite_theory_loss) / self.construction_stderr

    def relative(self, value: float | None) -> float | None:
        """``value / theory_loss − 1`` (None passes through; nan when the theory is 0)."""
        if value is None:
            return None
        return value / self.theory_loss - 1.0 if self.theory_loss > 0 else math.nan

    def rows(self) -> list[tuple[str, float, float | None, float | None]]:
        """(label, loss, stderr, relative difference to the large-N theory) per line."""
        table = [
            ("large-N theory (symmetric)", self.theory_loss, None, 0.0),
            (
                "time-sharing envelope",
                self.time_sharing_loss,
                None,
                self.relative(self.time_sharing_loss),
            ),
            ("linear baseline", self.linear_loss, None, self.relative(self.linear_loss)),
            (
                "finite-N theory (exact)",
                self.finite_theory_loss,
                None,
                self.relative(self.finite_theory_loss),
            ),
            (
                "finite-N theory (Edgeworth)",
                self.finite_edgeworth_loss,
                None,
                self.relative(self.finite_edgeworth_loss),
            ),
            (
                "finite-N optimum",
                self.finite_optimal_loss,
                None,
                self.relative(self.finite_optimal_loss),
            ),
            (
                "construction Monte Carlo",
                self.construction_loss,
                self.construction_stderr,
                self.relative(self.construction_loss),
            ),
        ]
        if self.trained_loss is not None:
            table.append(
                (
                    trained_label(
                        self.trained_converged,
                        self.trained_steps,
                        self.trained_silent_features,
                        self.config.n_features,
                    ),
                    self.trained_loss,
                    self.trained_stderr,
                    self.relative(self.trained_loss),
                )
            )
        return table


def trained_label(
    converged: bool | None,
    steps: int | None,
    silent: int | None = None,
    n_features: int | None = None,
) -> str:
    """Row label of a trained model: says when its run did not converge (never silently), and
    how many features it silenced (``docs/training.md#silent-features``)."""
    if converged:
        label = f"trained model (held out; converged, {steps} steps"
    elif steps is None:
        label = "trained model (held out"
    else:
        label = f"trained model (held out; NOT converged after {steps} steps"
    if silent:
        label += f"; {silent} of {n_features} features silent"
    return label + ")"


def compare_persian_rug(
    n_features: int,
    ratio: float,
    feature_prob: float,
    *,
    progress: Callable[..., Any] | None = None,
    trained: TrainedPoint | None = None,
    evaluation: Any | None = None,
    **options: Any,
) -> ComparisonResult:
    """Compare theory, finite-N theory, the rug's Monte Carlo and (optionally) training.

    Parameters
    ----------
    n_features, ratio, feature_prob : int, float, float
    progress : callable, optional
        Batch-progress wrapper passed to :func:`rug_monte_carlo`.
    trained : TrainedPoint, optional
        A model already trained at this size (:func:`train_autoencoder`); it is reported
        instead of training a new one.
    evaluation : RugEvaluation, optional
        A Monte Carlo evaluation of this very rug (:func:`rug_monte_carlo`, same size, seed
        and feature_prob); it is reported instead of sampling again.
    **options
        Other fields of :class:`RugCompareConfig` (``seed``, ``n_samples``, ``train``, …).

    Returns
    -------
    ComparisonResult
    """

    config = RugCompareConfig(
        n_features=n_features, ratio=ratio, feature_prob=feature_prob, **options
    )
    p = config.feature_prob
    model = persian_rug(config.n_features, config.ratio, p, config.seed, selection=config.selection)
    theory = predict(model.ratio, p)
    finite = predict_finite(model, p)
    if evaluation is None:
        evaluation = rug_monte_carlo(
            model, p, config.n_samples, config.mc_seed, parallel=config.parallel, progress=progress
        )
    else:
        _check_evaluation_matches(evaluation, model, p)
    if (
        trained is not None
        and trained.model is not None
        and trained.model.n_features != config.n_features
    ):
        raise InvalidParameter(
            "trained", trained.model.n_features, f"a model with n_features = {config.n_features}"
        )
    if trained is None and config.train:
        run = comparison_run(config)  # of model.n_hidden = hidden_size(n_features, ratio)
        trained = trained_point(run, train_run(run), eval_samples=config.eval_samples)
    return ComparisonResult(
        config=config,
        n_hidden=model.n_hidden,
        ratio_effective=model.ratio,
        scale=model.scale,
        bias=model.bias,
        theory_loss=theory.symmetric_loss,
        theory_regime=theory.regime,
        time_sharing_loss=theory.time_sharing_loss,
        linear_loss=theory.linear_loss,
        finite_theory_loss=finite.loss,
        finite_edgeworth_loss=finite.edgeworth_loss,
        finite_optimal_loss=finite.optimal_loss,
        construction_loss=evaluation.loss,
        construction_stderr=evaluation.stderr,
        construction_samples_per_second=evaluation.samples_per_second,
        trained_loss=None if trained is None else trained.loss,
        trained_stderr=None if trained is None else trained.stderr,
        train_seconds=None if trained is None else trained.seconds,
        trained_steps=None if trained is None else trained.steps,
        trained_converged=None if trained is None else bool(trained.converged),
        trained_silent_features=None if trained is None else trained.silent_features,
    )


def _check_evaluation_matches(evaluation: Any, model: Any, feature_prob: float) -> None:
    """Refuse a reused Monte Carlo evaluation that belongs to another rug or data law."""
    mine = (model.n_features, model.n_hidden, model.scale, model.bias, feature_prob)
    theirs = (
        evaluation.n_features,
        evaluation.n_hidden,
        evaluation.scale,
        evaluation.bias,
        evaluation.feature_prob,
    )
    if mine != theirs:
        raise InvalidParameter(
            "evaluation",
            theirs,
            f"an evaluation of this rug (n_features, n_hidden, scale, bias, feature_prob) = {mine}",
        )


def comparison_summary(result: ComparisonResult) -> dict[str, Any]:
    """JSON-able summary of a comparison (the documented keys of ``toyforge compare
    persian-rug --json`` first)."""
    return {
        "theory_loss": result.theory_loss,
        "finite_theory_loss": result.finite_theory_loss,
        "construction_loss": result.construction_loss,
        "construction_stderr": result.construction_stderr,
        "trained_loss": result.trained_loss,
        "trained_stderr": result.trained_stderr,
        "trained_steps": result.trained_steps,
        "trained_converged": result.trained_converged,
        "trained_silent_features": result.trained_silent_features,
        "theory_regime": result.theory_regime,
        "time_sharing_loss": result.time_sharing_loss,
        "linear_loss": result.linear_loss,
        "finite_edgeworth_loss": result.finite_edgeworth_loss,
        "finite_optimal_loss": result.finite_optimal_loss,
        "construction_vs_finite_z": result.construction_vs_finite_z,
        "n_hidden": result.n_hidden,
        "ratio_effective": result.ratio_effective,
        "scale": result.scale,
        "bias": result.bias,
        "config": to_jsonable(result.config),
    }
