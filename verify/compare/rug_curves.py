"""Loss curves and the convergence study of the Persian rug against its theory.

* :func:`loss_curves` — the data of the loss-vs-ratio and loss-vs-feature-prob figures: the
  large-N curves (docs/large_n_theory.md#the-closed-form-loss), the rug's Monte Carlo points
  with their finite-N theory and, optionally, trained models at the same points.
* :func:`convergence_study` — the relative gap rug-vs-theory against p·n
  (docs/finite_n.md#convergence-with-the-number-of-active-features).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from toyforge.constructions.persian_rug import check_power_of_two, persian_rug
from toyforge.core.errors import InvalidParameter
from toyforge.core.validate import check_choice, check_interval, check_probability
from toyforge.theory.finite_n import predict_finite
from toyforge.verify.compare.persian_rug import (
    DEFAULT_TRAIN_LR,
    large_n_losses,
    train_autoencoder,
)
from toyforge.verify.evaluate.rug_monte_carlo import rug_monte_carlo

__all__ = ["ConvergencePoint", "ConvergenceStudy", "LossCurves", "convergence_study", "loss_curves"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class LossCurves:
    """Loss against ``ratio`` or ``feature_prob`` with the other held fixed.

    Parameters
    ----------
    axis : {"ratio", "feature_prob"}
    fixed : float
        The value of the other parameter.
    n_features : int
        Size of the rugs (and trained models).
    grid : ndarray, shape (n_grid,)
        Dense axis values of the theory curves.
    symmetric, time_sharing, linear : ndarray, shape (n_grid,)
        Large-N losses (symmetric optimum = the rug's branch).
    points : ndarray, shape (n_points,)
        Axis values of the Monte Carlo points (for ratio: the effective ratios).
    rug_loss, rug_stderr, finite_loss : ndarray, shape (n_points,)
        Rug Monte Carlo ± SE and the finite-N theory at the same rugs.
    trained_loss, trained_stderr : ndarray, shape (n_points,)
        Trained models (nan where not trained).
    """

    axis: str
    fixed: float
    n_features: int
    grid: np.ndarray
    symmetric: np.ndarray
    time_sharing: np.ndarray
    linear: np.ndarray
    points: np.ndarray
    rug_loss: np.ndarray
    rug_stderr: np.ndarray
    finite_loss: np.ndarray
    trained_loss: np.ndarray
    trained_stderr: np.ndarray


def loss_curves(
    axis: str,
    fixed: float,
    points: Sequence[float],
    *,
    n_features: int = 4096,
    n_samples: int = 5000,
    seed: int = 0,
    grid_size: int = 120,
    train_steps: int = 0,
    train_lr: float | None = DEFAULT_TRAIN_LR,
    parallel: bool = False,
    progress: Callable[..., Any] | None = None,
) -> LossCurves:
    """Theory curves and rug (and optionally trained) points along one axis.

    Parameters
    ----------
    axis : {"ratio", "feature_prob"}
        The varying parameter; ``fixed`` is the other one.
    points : sequence of float
        Where to build rugs (and train, when ``train_steps > 0``).
    n_features : int
        Power of two.
    n_samples : int
        Monte Carlo samples per rug.
    train_steps : int
        0 skips training; otherwise steps per trained model.
    """

    axis = check_choice("axis", axis, ("ratio", "feature_prob"))
    n_features = check_power_of_two("n_features", n_features)
    fixed = check_probability("fixed", fixed)
    values = np.asarray([check_probability("points", v) for v in points], dtype=float)
    if values.size == 0:
        raise InvalidParameter("points", [], "at least one point")
    low = min(values.min(), 1e-3) if axis == "feature_prob" else min(values.min(), 1e-2)
    grid = np.geomspace(low, 1.0 if axis == "ratio" else max(values.max(), 0.8), grid_size)
    ratio_grid, prob_grid = (grid, fixed) if axis == "ratio" else (fixed, grid)
    theory = large_n_losses(ratio_grid, prob_grid)
    results = []
    iterator = progress(values, total=values.size) if progress is not None else values
    for value in iterator:
        ratio, p = (value, fixed) if axis == "ratio" else (fixed, value)
        model = persian_rug(n_features, float(ratio), float(p), seed)
        mc = rug_monte_carlo(model, float(p), n_samples, seed + 7, parallel=parallel)
        finite = predict_finite(model, float(p), optimize=False).loss
        trained = (math.nan, math.nan)
        if train_steps > 0:
            point = train_autoencoder(
                n_features,
                model.n_hidden,
                float(p),
                steps=train_steps,
                learning_rate=train_lr,
                seed=seed,
            )
            trained = (point.loss, point.stderr)
        at = model.ratio if axis == "ratio" else float(p)
        results.append((at, mc.loss, mc.stderr, finite, *trained))
    table = np.array(results, dtype=float)
    return LossCurves(
        axis=axis,
        fixed=fixed,
        n_features=n_features,
        grid=grid,
        symmetric=theory["symmetric"],
        time_sharing=theory["time_sharing"],
        linear=theory["linear"],
        points=table[:, 0],
        rug_loss=table[:, 1],
        rug_stderr=table[:, 2],
        finite_loss=table[:, 3],
        trained_loss=table[:, 4],
        trained_stderr=table[:, 5],
    )


# --------------------------------------------------------------------------- convergence


@dataclass(frozen=True, kw_only=True, slots=True)
class ConvergencePoint:
    """Rug vs large-N theory at one size: relative gaps ``loss / theory − 1``."""

    n_features: int
    active_features: float  # p · n
    theory_loss: float
    rug_loss: float
    rug_stderr: float
    finite_loss: float

    @property
    def relative_gap(self) -> float:
        """Monte Carlo gap to the large-N theory."""
        return self.rug_loss / self.theory_loss - 1.0

    @property
    def relative_gap_stderr(self) -> float:
        """Standard error of the relative gap."""
        return self.rug_stderr / self.theory_loss

    @property
    def finite_gap(self) -> float:
        """Finite-N theory's gap to the large-N theory."""
        return self.finite_loss / self.theory_loss - 1.0


@dataclass(frozen=True, kw_only=True, slots=True)
class ConvergenceStudy:
    """Relative gap rug-vs-theory against p·n at fixed (ratio, feature_prob)."""

    ratio: float
    feature_prob: float
    seed: int
    points: tuple[ConvergencePoint, ...]


def convergence_study(
    ratio: float,
    feature_prob: float,
    sizes: Sequence[int],
    *,
    n_samples: int = 20_000,
    seed: int = 0,
    parallel: bool = False,
    progress: Callable[..., Any] | None = None,
) -> ConvergenceStudy:
    """Build rugs of each size and measure their gap to the large-N theory
    (docs/finite_n.md#convergence-with-the-number-of-active-features).

    The theory is evaluated at each rug's r_eff. ``n_samples`` per size (the standard error
    shrinks with n too: each sample averages n features).
    """

    ratio = check_interval("ratio", ratio, 0.0, 1.0, low_open=True)
    feature_prob = check_probability("feature_prob", feature_prob)
    points = []
    iterator = progress(sizes, total=len(sizes)) if progress is not None else sizes
    for size in iterator:
        model = persian_rug(int(size), ratio, feature_prob, seed)
        theory = float(large_n_losses(model.ratio, feature_prob)["symmetric"])
        mc = rug_monte_carlo(model, feature_prob, n_samples, seed + 11, parallel=parallel)
        finite = predict_finite(model, feature_prob, optimize=False).loss
        points.append(
            ConvergencePoint(
                n_features=model.n_features,
                active_features=feature_prob * model.n_features,
                theory_loss=theory,
                rug_loss=mc.loss,
                rug_stderr=mc.stderr,
                finite_loss=finite,
            )
        )
    return ConvergenceStudy(ratio=ratio, feature_prob=feature_prob, seed=seed, points=tuple(points))
