"""Data double descent in the ReLU-output bottleneck with m = 2 (memorising → generalising).

The recipe of Henighan et al. (2023), "Superposition, Memorization, and Double Descent", at
Hobbhahn's reduced scale (docs/memorisation.md#data-double-descent):

* n = 1000 features, m = 2, sparsity S = 0.99 (about 10 active features per point), active
  values U[0,1), every point rescaled to unit norm;
* a fixed training set of T points and an independent test set (2000 points by default);
* model x' = ReLU(WᵀW x + b) (tied :class:`~toyforge.constructions.models.ReluAutoencoder`),
  W Xavier-normal (std √(2/(m+n))), b = 0;
* loss (1/T) Σ_t ‖x_t − x'_t‖² (the zero output scores exactly 1 on unit-norm data);
* 50,000 full-batch AdamW steps, lr 1e-3, 2,500 linear warm-up steps then cosine decay to 0,
  decoupled weight decay 1e-2 on W and b;
* several dataset seeds per T, optionally several initialisations per dataset, keeping the
  lowest training loss (the paper's remedy for the fragile m = 2 optimisation,
  docs/memorisation.md#data-double-descent).

Per T and seed it records the train and test losses, ‖W‖_F, the feature dimensionalities D_i,
the data-point dimensionalities D_X and the maximal data dimensionality D* (:mod:`.dimensionality`),
and the weights and hidden vectors for the geometry plots. Training runs on the dedicated m = 2
numba kernel :mod:`toyforge.verify.kernels.bottleneck2d`.

:func:`run_double_descent` can write its result to JSON after every size (atomically) and, given
the same file again, skips the (T, seed) runs it already holds.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from toyforge.constructions.models import ReluAutoencoder
from toyforge.core.errors import CorruptFile, InvalidParameter
from toyforge.core.fileio import atomic_write_text
from toyforge.core.serde import to_json
from toyforge.core.validate import as_rng, check_int, check_interval
from toyforge.verify.data.sampling import fixed_dataset
from toyforge.verify.evaluate import dimensionality
from toyforge.verify.evaluate.estimate import Estimate
from toyforge.verify.train.optim import warmup_cosine_schedule

__all__ = [
    "DEFAULT_SIZES",
    "DoubleDescentConfig",
    "DoubleDescentPoint",
    "DoubleDescentResult",
    "TrainedBottleneck",
    "feature_geometry",
    "load_double_descent",
    "run_double_descent",
    "sparse_rows",
    "train_bottleneck2d",
]

logger = logging.getLogger(__name__)

DEFAULT_SIZES: tuple[int, ...] = (
    3,
    5,
    6,
    8,
    10,
    15,
    20,
    30,
    50,
    75,
    100,
    150,
    200,
    300,
    500,
    750,
    1000,
    1500,
    2000,
    3000,
    5000,
)
"""The T grid of docs/memorisation.md#data-double-descent (the ARENA grid plus the landmarks of the
bump)."""

_CHUNK_STEPS = 1000


@dataclass(frozen=True, kw_only=True, slots=True)
class DoubleDescentConfig:
    """The double-descent recipe (defaults: docs/memorisation.md#data-double-descent).

    Parameters
    ----------
    n_features : int
        n, >= 2.
    n_hidden : int
        m; only 2 is supported (the dedicated kernel).
    sparsity : float
        S in [0, 1); a feature is active with probability 1 − S.
    sizes : tuple of int
        Training-set sizes T (distinct, >= 1), in the order they are run.
    seeds : int
        Number of dataset seeds per T (seeds 0 … seeds−1).
    restarts : int
        Initialisations per dataset; the one with the lowest final training loss is kept
        (default 3: the paper's "several seeds, keep the lowest loss" remedy for the fragile
        m = 2 optimisation, docs/memorisation.md#data-double-descent; 1 reproduces the runs of
        docs/memorisation.md#data-double-descent).
    steps, warmup_steps : int
        AdamW steps and linear warm-up steps (then cosine decay to 0).
    lr, weight_decay : float
    n_test : int
        Size of the independent test set (one per seed, shared by all T).
    base_seed : int
        Offset of every random stream (datasets, test sets, initialisations).
    """

    n_features: int = 1000
    n_hidden: int = 2
    sparsity: float = 0.99
    sizes: tuple[int, ...] = DEFAULT_SIZES
    seeds: int = 3
    restarts: int = 3
    steps: int = 50_000
    warmup_steps: int = 2_500
    lr: float = 1e-3
    weight_decay: float = 1e-2
    n_test: int = 2000
    base_seed: int = 0

    def __post_init__(self) -> None:
        check_int("n_features", self.n_features, minimum=2)
        if self.n_hidden != 2:
            raise InvalidParameter(
                "n_hidden", self.n_hidden, "2 (the double-descent kernel is specialised to m = 2)"
            )
        check_interval("sparsity", self.sparsity, 0.0, 1.0, high_open=True)
        sizes = tuple(self.sizes)
        if not sizes:
            raise InvalidParameter("sizes", self.sizes, "at least one training-set size")
        for size in sizes:
            check_int("sizes", size, minimum=1)
        if len(set(sizes)) != len(sizes):
            raise InvalidParameter("sizes", self.sizes, "distinct sizes")
        object.__setattr__(self, "sizes", tuple(int(size) for size in sizes))
        check_int("seeds", self.seeds, minimum=1)
        check_int("restarts", self.restarts, minimum=1)
        check_int("steps", self.steps, minimum=1)
        check_int("warmup_steps", self.warmup_steps, minimum=0)
        if self.warmup_steps > self.steps:
            raise InvalidParameter(
                "warmup_steps", self.warmup_steps, f"at most steps = {self.steps}"
            )
        check_interval("lr", self.lr, 0.0, math.inf, low_open=True)
        check_interval("weight_decay", self.weight_decay, 0.0, math.inf)
        check_int("n_test", self.n_test, minimum=2)
        check_int("base_seed", self.base_seed, minimum=0)

    @property
    def feature_prob(self) -> float:
        """Probability 1 − S that a feature is active."""
        return 1.0 - self.sparsity

    def learning_rates(self) -> np.ndarray:
        """Learning rate of every step: linear warm-up then cosine to 0 (verify/optim.py)."""

        schedule = warmup_cosine_schedule(self.steps, self.warmup_steps)
        return np.array([self.lr * schedule.factor(step) for step in range(self.steps)])

    def same_recipe(self, other: DoubleDescentConfig) -> bool:
        """True when ``other`` differs from this config at most in ``sizes`` and ``seeds``."""
        return replace(self, sizes=other.sizes, seeds=other.seeds) == other


@dataclass(frozen=True, kw_only=True, slots=True)
class TrainedBottleneck:
    """The outcome of one training run of the m = 2 model.

    ``W`` has shape (2, n_features), ``b`` (n_features,), ``losses`` the training loss logged
    before every step (float64, shape (steps,)).
    """

    W: np.ndarray
    b: np.ndarray
    losses: np.ndarray


@dataclass(frozen=True, kw_only=True, slots=True)
class DoubleDescentPoint:
    """Measurements for one (T, seed): the best of ``restarts`` initialisations.

    ``train_loss`` is exact (the whole training set); ``test_loss`` is a Monte Carlo estimate
    over the test set. ``restart_train_losses`` lists the final training loss of every
    initialisation. ``W`` (2 x n), ``b`` (n), ``hidden`` (T x 2, the hidden vectors of the
    training points), ``feature_dims`` (n), ``data_dims`` and ``max_data_dims`` (T).
    """

    n_points: int
    seed: int
    train_loss: float
    test_loss: Estimate
    weight_norm: float
    n_represented: int
    restart_train_losses: tuple[float, ...]
    W: np.ndarray
    b: np.ndarray
    hidden: np.ndarray
    feature_dims: np.ndarray
    data_dims: np.ndarray
    max_data_dims: np.ndarray
    seconds: float = 0.0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DoubleDescentPoint:
        """Rebuild from :func:`toyforge.core.serde.to_jsonable` output."""
        values = dict(data)
        values["test_loss"] = Estimate(**values["test_loss"])
        values["restart_train_losses"] = tuple(values["restart_train_losses"])
        for name in ("W", "b", "hidden", "feature_dims", "data_dims", "max_data_dims"):
            values[name] = np.asarray(values[name], dtype=np.float64)
        return cls(**values)


@dataclass(frozen=True, kw_only=True, slots=True)
class DoubleDescentResult:
    """All points of a double-descent sweep, with the config that produced them."""

    config: DoubleDescentConfig
    points: tuple[DoubleDescentPoint, ...] = field(default_factory=tuple)

    def sizes(self) -> np.ndarray:
        """The distinct T values present, sorted."""
        return np.array(sorted({point.n_points for point in self.points}), dtype=np.int64)

    def at(self, n_points: int) -> list[DoubleDescentPoint]:
        """The points of training-set size ``n_points`` (one per seed), by seed."""
        found = [point for point in self.points if point.n_points == n_points]
        return sorted(found, key=lambda point: point.seed)

    def summary(self, statistic: Callable[[np.ndarray], float] = np.median) -> list[dict]:
        """One row per T: median (or ``statistic``) over seeds of the main measurements."""
        rows = []
        for size in self.sizes():
            points = self.at(int(size))
            test = np.array([point.test_loss.value for point in points])
            rows.append(
                {
                    "n_points": int(size),
                    "seeds": len(points),
                    "train_loss": float(statistic(np.array([p.train_loss for p in points]))),
                    "test_loss": float(statistic(test)),
                    "test_loss_min": float(test.min()),
                    "test_loss_max": float(test.max()),
                    "weight_norm": float(statistic(np.array([p.weight_norm for p in points]))),
                    "n_represented": float(statistic(np.array([p.n_represented for p in points]))),
                    "max_data_dim_max": float(
                        statistic(np.array([p.max_data_dims.max() for p in points]))
                    ),
                }
            )
        return rows

    def to_json(self) -> str:
        """JSON text of the config and every point."""
        return to_json(
            {"kind": "toyforge-double-descent", "config": self.config, "points": self.points}
        )


def load_double_descent(path: str | Path) -> DoubleDescentResult:
    """Read a result written by :func:`run_double_descent` (CorruptFile if it is not one)."""
    target = Path(path)
    try:
        data = json.loads(target.read_text())
        if data.get("kind") != "toyforge-double-descent":
            raise ValueError("not a toyforge double-descent file")
        config_data = dict(data["config"])
        config_data["sizes"] = tuple(config_data["sizes"])
        config = DoubleDescentConfig(**config_data)
        points = tuple(DoubleDescentPoint.from_dict(point) for point in data["points"])
    except (ValueError, KeyError, TypeError) as error:
        raise CorruptFile(f"{target}: {error}") from error
    return DoubleDescentResult(config=config, points=points)


# --------------------------------------------------------------------------- data


def sparse_rows(dense: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR arrays ``(indptr int64, indices int64, values float64)`` of a dense (T, n) array."""
    rows, columns = np.nonzero(dense)
    indptr = np.zeros(dense.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=dense.shape[0]), out=indptr[1:])
    return (
        indptr,
        columns.astype(np.int64),
        np.ascontiguousarray(dense[rows, columns], dtype=np.float64),
    )


def _streams(config: DoubleDescentConfig, n_points: int, seed: int) -> dict[str, Any]:
    base = config.base_seed
    return {
        "train": np.random.default_rng([base, seed, n_points, 0]),
        "test": np.random.default_rng([base, seed, 0, 1]),
        "init": [
            np.random.default_rng([base, seed, n_points, 2, restart])
            for restart in range(config.restarts)
        ],
    }


def _dataset(config: DoubleDescentConfig, n_points: int, rng: np.random.Generator) -> np.ndarray:
    return fixed_dataset(n_points, config.n_features, config.feature_prob, unit_norm=True, seed=rng)


# --------------------------------------------------------------------------- training


def train_bottleneck2d(
    X: np.ndarray,
    config: DoubleDescentConfig,
    rng: np.random.Generator | int | None = 0,
    learning_rates: np.ndarray | None = None,
) -> TrainedBottleneck:
    """Train the tied m = 2 ReLU-output model on the fixed dataset ``X`` (full batch).

    Parameters
    ----------
    X : ndarray, shape (n_points, n_features)
        The training points (dense; the kernel uses their sparsity pattern).
    config : DoubleDescentConfig
        Steps, learning rate, warm-up, weight decay (sizes and seeds are ignored).
    rng : Generator, int or None
        Initialisation: W Xavier-normal with std √(2/(m+n)), b = 0.
    learning_rates : ndarray, shape (steps,), optional
        Precomputed ``config.learning_rates()``.
    """
    # numba loads with the first training run, not when the module is imported
    from toyforge.verify.kernels.bottleneck2d import train_steps_kernel

    dense = np.asarray(X, dtype=np.float64)
    if dense.ndim != 2 or dense.shape[1] != config.n_features or dense.shape[0] < 1:
        raise InvalidParameter("X", dense.shape, f"shape (n_points >= 1, {config.n_features})")
    generator = as_rng(rng)
    std = math.sqrt(2.0 / (config.n_hidden + config.n_features))
    W = generator.normal(0.0, std, size=(2, config.n_features))
    b = np.zeros(config.n_features)
    moments = [np.zeros_like(W), np.zeros_like(W), np.zeros_like(b), np.zeros_like(b)]
    rates = config.learning_rates() if learning_rates is None else learning_rates
    indptr, indices, values = sparse_rows(dense)
    losses = np.empty(config.steps)
    for start in range(0, config.steps, _CHUNK_STEPS):
        stop = min(start + _CHUNK_STEPS, config.steps)
        train_steps_kernel(
            W,
            b,
            *moments,
            indptr,
            indices,
            values,
            rates[start:stop],
            start,
            0.9,
            0.999,
            1e-8,
            config.weight_decay,
            losses[start:stop],
        )
    return TrainedBottleneck(W=W, b=b, losses=losses)


def _per_point_loss(W: np.ndarray, b: np.ndarray, X: np.ndarray) -> np.ndarray:
    """``‖ReLU(WᵀW x + b) − x‖²`` for every row x of X (exact, numpy)."""

    residual = ReluAutoencoder.tied_from(W, b).forward(X) - X
    return np.sum(residual * residual, axis=1)


def feature_geometry(W: np.ndarray, threshold: float = 0.5) -> dict[str, np.ndarray]:
    """Features with ‖W_i‖ > ``threshold`` in the 2-d hidden plane, sorted by angle.

    Returns ``{"features", "norms", "angles_deg", "gaps_deg"}``: the feature indices, their
    norms, their polar angles in [0, 360) and the angular gaps between neighbours (including
    the wrap-around gap). A regular pentagon has five gaps of 72°.
    """
    matrix = np.asarray(W, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != 2:
        raise InvalidParameter("W", matrix.shape, "shape (2, n_features)")
    norms = np.linalg.norm(matrix, axis=0)
    features = np.flatnonzero(norms > threshold)
    angles = np.degrees(np.arctan2(matrix[1, features], matrix[0, features])) % 360.0
    order = np.argsort(angles)
    features, angles = features[order], angles[order]
    gaps = np.diff(np.concatenate([angles, angles[:1] + 360.0])) if angles.size else angles
    return {"features": features, "norms": norms[features], "angles_deg": angles, "gaps_deg": gaps}


def _measure_point(
    config: DoubleDescentConfig, n_points: int, seed: int, rates: np.ndarray, test: np.ndarray
) -> DoubleDescentPoint:
    import time

    start = time.perf_counter()
    streams = _streams(config, n_points, seed)
    X = _dataset(config, n_points, streams["train"])
    runs = [train_bottleneck2d(X, config, init, rates) for init in streams["init"]]
    final = [float(np.mean(_per_point_loss(run.W, run.b, X))) for run in runs]
    best = runs[int(np.argmin(final))]
    hidden = X @ best.W.T
    test_losses = _per_point_loss(best.W, best.b, test)
    return DoubleDescentPoint(
        n_points=n_points,
        seed=seed,
        train_loss=min(final),
        test_loss=Estimate.from_samples(test_losses),
        weight_norm=float(np.linalg.norm(best.W)),
        n_represented=int(np.sum(np.linalg.norm(best.W, axis=0) > 0.5)),
        restart_train_losses=tuple(final),
        W=best.W,
        b=best.b,
        hidden=hidden,
        feature_dims=dimensionality.feature_dimensionality(best.W),
        data_dims=dimensionality.data_dimensionality(hidden),
        max_data_dims=dimensionality.max_data_dimensionality(hidden),
        seconds=time.perf_counter() - start,
    )


def _resume(config: DoubleDescentConfig, out: Path | None) -> list[DoubleDescentPoint]:
    if out is None or not out.exists():
        return []
    previous = load_double_descent(out)
    if not config.same_recipe(previous.config):
        raise InvalidParameter(
            "out",
            str(out),
            "a file from the same recipe (only sizes and seeds may differ) or a new path",
        )
    return list(previous.points)


def run_double_descent(
    config: DoubleDescentConfig,
    *,
    out: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    on_point: Callable[[DoubleDescentPoint], None] | None = None,
) -> DoubleDescentResult:
    """Train every (T, seed) of ``config`` and measure it.

    Parameters
    ----------
    config : DoubleDescentConfig
    out : path, optional
        JSON file rewritten atomically after every size. If it exists and holds the same
        recipe, its (T, seed) runs are kept and not recomputed (resume).
    progress : callable, optional
        ``progress(done, total)`` after every newly computed (T, seed) run; ``total`` counts
        the runs not already in ``out`` (the CLI draws its progress bar from it).
    on_point : callable, optional
        Called with every newly computed point.

    Returns
    -------
    DoubleDescentResult
        The points of ``config.sizes`` x seeds (plus any other points the file held).
    """
    target = None if out is None else Path(out)
    points = _resume(config, target)
    done = {(point.n_points, point.seed) for point in points}
    todo = [
        (size, seed)
        for size in config.sizes
        for seed in range(config.seeds)
        if (size, seed) not in done
    ]
    rates = config.learning_rates()
    tests: dict[int, np.ndarray] = {}
    for index, (size, seed) in enumerate(todo):
        if seed not in tests:
            tests[seed] = _dataset(config, config.n_test, _streams(config, 0, seed)["test"])
        point = _measure_point(config, size, seed, rates, tests[seed])
        points.append(point)
        logger.info(
            "T=%d seed=%d train=%.4g test=%s (%.1f s)",
            size,
            seed,
            point.train_loss,
            point.test_loss,
            point.seconds,
        )
        if on_point is not None:
            on_point(point)
        if progress is not None:
            progress(index + 1, len(todo))
        last_of_size = index + 1 == len(todo) or todo[index + 1][0] != size
        if target is not None and last_of_size:
            _write(target, config, points)
    result = DoubleDescentResult(config=config, points=_ordered(points))
    if target is not None and not todo:
        _write(target, config, points)
    return result


def _ordered(points: Sequence[DoubleDescentPoint]) -> tuple[DoubleDescentPoint, ...]:
    return tuple(sorted(points, key=lambda point: (point.n_points, point.seed)))


def _write(target: Path, config: DoubleDescentConfig, points: Sequence[DoubleDescentPoint]) -> None:
    result = DoubleDescentResult(config=config, points=_ordered(points))
    atomic_write_text(target, result.to_json())
