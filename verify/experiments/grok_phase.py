"""Batched grokking runs: many seeds or hyperparameters at once, and the grokking phase diagram.

All models of a batch share the architecture (p, d_embed, N), β1, β2 and ε of
:class:`~toyforge.verify.experiments.grokking.ModularTrainingConfig`; each has its own seed
(initialisation and split), train fraction, learning rate and weight decay. The batch is
advanced by :func:`toyforge.verify.kernels.modular_batched.train_steps_kernel` in float64 with
the initialisation and split of the serial trainer, so model ``i`` of a batch is the run
``train_modular_addition`` would make with the same settings and ``dtype="float64"`` (up to
summation order; ``tests/verify/experiments/test_grok_phase.py`` checks it).

Phases (Liu, Kitouni, Nolte, Michaud, Tegmark & Williams 2022, "Towards understanding
grokking: an effective theory of representation learning", arXiv:2205.10343), with
``t_train``/``t_test`` the first logged steps at which train/test accuracy reach
``threshold`` (0.9) within the step budget:

* **confusion** — train accuracy never reaches the threshold;
* **memorisation** — train does, test does not;
* **grokking** — both do, test more than ``delay`` steps after train;
* **comprehension** — both do, test within ``delay`` steps of train.

See docs/grokking.md#the-phase-diagram.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from toyforge.core.budget import check_memory
from toyforge.core.errors import InvalidParameter
from toyforge.core.validate import check_int, check_interval, check_seed
from toyforge.verify.data.sampling import modular_addition_pairs
from toyforge.verify.experiments.grokking import (
    GROK_ACCURACY,
    ModularTrainingConfig,
    _single_thread_blas,
    init_parameters,
)
from toyforge.verify.kernels.modular_batched import evaluate_kernel, train_steps_kernel

__all__ = [
    "PHASES",
    "BatchedRuns",
    "GrokRun",
    "PhaseDiagram",
    "batch_memory_bytes",
    "classify_phase",
    "phase_diagram",
    "train_batched",
]

PHASES = ("confusion", "memorisation", "grokking", "comprehension")
_COLUMNS = ("train_loss", "train_accuracy", "test_loss", "test_accuracy")


@dataclass(frozen=True, kw_only=True, slots=True)
class GrokRun:
    """What varies between the models of a batch."""

    seed: int = 0
    train_fraction: float = 0.4
    lr: float = 1e-3
    weight_decay: float = 1.0

    def __post_init__(self) -> None:
        check_seed("seed", self.seed)
        check_interval(
            "train_fraction", self.train_fraction, 0.0, 1.0, low_open=True, high_open=True
        )
        check_interval("lr", self.lr, 0.0, math.inf, low_open=True)
        check_interval("weight_decay", self.weight_decay, 0.0, math.inf)


@dataclass(frozen=True, kw_only=True, slots=True)
class BatchedRuns:
    """A finished batch. ``history[i, r]`` = (train CE, train acc, test CE, test acc) of model i
    at logged step ``steps[r]`` (CE in nats, not ÷ p; nan after a model stopped).

    ``grok_step[i]``: first logged step with test accuracy >= 99 % (-1: never);
    ``steps_run[i]``: steps model i took; ``cpu_seconds``: process CPU time of the batch.
    """

    base: ModularTrainingConfig
    runs: tuple[GrokRun, ...]
    steps: np.ndarray = field(repr=False)
    history: np.ndarray = field(repr=False)
    grok_step: np.ndarray
    steps_run: np.ndarray
    parameters: dict[str, np.ndarray] = field(repr=False)
    wall_seconds: float
    cpu_seconds: float

    def first_step(self, column: str, threshold: float) -> np.ndarray:
        """First logged step where ``column`` >= ``threshold``, per model (-1: never)."""
        values = self.history[:, :, _COLUMNS.index(column)]
        reached = np.nan_to_num(values, nan=-np.inf) >= threshold
        first = np.where(reached.any(axis=1), np.argmax(reached, axis=1), -1)
        return np.where(first >= 0, self.steps[np.maximum(first, 0)], -1)

    def final(self, column: str) -> np.ndarray:
        """The last logged value of ``column`` per model."""
        values = self.history[:, :, _COLUMNS.index(column)]
        last = np.sum(~np.isnan(values), axis=1) - 1
        return values[np.arange(len(values)), np.maximum(last, 0)]


def batch_memory_bytes(base: ModularTrainingConfig, n_models: int) -> float:
    """Bytes a batch of ``n_models`` holds (parameters, Adam moments, pair indices)."""
    p, d, n = base.modulus, base.d_embed, base.n_hidden
    pairs = p * (p + 1) / 2 if base.unordered else p * p
    per_model = 8.0 * (3 * (p * d + 2 * d * n)) + 9.0 * pairs  # params + moments, index, mask
    return n_models * per_model + 8.0 * 4 * p * n


def _prepare(base: ModularTrainingConfig, runs: Sequence[GrokRun]) -> dict[str, object]:
    """Initial parameters, moments and splits, exactly as the serial trainer draws them."""
    p = base.modulus
    configs = [
        replace(base, seed=run.seed, train_fraction=run.train_fraction, dtype="float64")
        for run in runs
    ]
    splits = [
        modular_addition_pairs(p, c.train_fraction, seed=c.seed, unordered=c.unordered)
        for c in configs
    ]
    pairs = np.concatenate(splits[0]).astype(np.int64)
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    pairs = pairs[order]
    code = pairs[:, 0] * p + pairs[:, 1]
    n_train = np.array([len(train) for train, _ in splits], dtype=np.int64)
    if np.any(n_train == 0) or np.any(n_train == len(pairs)):
        raise InvalidParameter(
            "train_fraction",
            [run.train_fraction for run in runs],
            "fractions leaving at least one train and one test pair",
        )
    train_index = np.zeros((len(runs), int(n_train.max())), dtype=np.int64)
    is_train = np.zeros((len(runs), len(pairs)), dtype=bool)
    for i, (train, _) in enumerate(splits):
        rows = np.searchsorted(code, train[:, 0] * p + train[:, 1])
        train_index[i, : len(rows)] = rows
        is_train[i, rows] = True
    inits = [init_parameters(c, np.random.default_rng(c.seed)) for c in configs]
    params = (
        np.stack([x["embedding"] for x in inits]),
        np.stack([x["projection"] for x in inits]),
        np.ascontiguousarray(np.stack([x["readout"].T for x in inits])),
    )
    return {
        "params": params,
        "moments": tuple(np.zeros_like(x) for x in params for _ in range(2)),
        "pairs": pairs,
        "train_index": train_index,
        "n_train": n_train,
        "is_train": is_train,
    }


def train_batched(
    base: ModularTrainingConfig,
    runs: Sequence[GrokRun],
    *,
    stop_when: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    progress: Callable[[int], None] | None = None,
) -> BatchedRuns:
    """Train one model per ``runs`` entry together (float64, one numba kernel).

    Parameters
    ----------
    base : ModularTrainingConfig
        Shared settings (architecture, β, ε, ``steps`` budget, ``eval_every``,
        ``stop_after_grok``); its seed, train fraction, lr, weight decay and dtype are ignored.
    runs : sequence of GrokRun
    stop_when : callable, optional
        ``stop_when(step, metrics) -> bool mask``: models to stop after an evaluation
        (``metrics`` is (B, 4) as in ``history``). By default a model stops
        ``base.stop_after_grok`` steps after it reaches 99 % test accuracy (never if None).
    progress : callable, optional
        Called with the step after each evaluation (for a progress bar).

    Returns
    -------
    BatchedRuns
    """
    runs = tuple(runs)
    if not runs:
        raise InvalidParameter("runs", runs, "at least one run")
    if base.architecture != "factored":
        raise InvalidParameter("architecture", base.architecture, "'factored' (batched)")
    check_memory("runs", len(runs), batch_memory_bytes(base, len(runs)), what="the batched models")
    with _single_thread_blas():  # the products are tiny: BLAS threads only cost CPU
        return _train_batched(base, runs, stop_when, progress)


def _train_batched(
    base: ModularTrainingConfig,
    runs: tuple[GrokRun, ...],
    stop_when: Callable[[np.ndarray, np.ndarray], np.ndarray] | None,
    progress: Callable[[int], None] | None,
) -> BatchedRuns:
    state = _prepare(base, runs)
    n_models = len(runs)
    lr = np.array([run.lr for run in runs])
    wd = np.array([run.weight_decay for run in runs])
    betas = np.array([base.beta1, base.beta2])
    active = np.ones(n_models, dtype=bool)
    grok = np.full(n_models, -1, dtype=np.int64)
    steps_run = np.zeros(n_models, dtype=np.int64)
    logged_steps: list[int] = []
    rows: list[np.ndarray] = []
    wall, cpu = time.perf_counter(), time.process_time()
    step = 0
    while True:
        metrics = evaluate_kernel(*state["params"], state["pairs"], state["is_train"])
        metrics[~active] = np.nan
        logged_steps.append(step)
        rows.append(metrics)
        newly = active & (grok < 0) & (metrics[:, 3] >= GROK_ACCURACY)
        grok[newly] = step
        if stop_when is not None:
            active &= ~np.asarray(stop_when(step, metrics), dtype=bool)
        elif base.stop_after_grok is not None:
            active &= ~((grok >= 0) & (step >= grok + base.stop_after_grok))
        if progress is not None:
            progress(step)
        if step >= base.steps or not active.any():
            break
        chunk = min(base.eval_every, base.steps - step)
        train_steps_kernel(
            state["params"], state["moments"], state["pairs"], state["train_index"],
            state["n_train"], lr, wd, active, betas, base.eps, step, chunk,
        )  # fmt: skip
        steps_run[active] += chunk
        step += chunk
    names = ("embedding", "projection", "readout_transposed")
    return BatchedRuns(
        base=base,
        runs=runs,
        steps=np.asarray(logged_steps, dtype=np.int64),
        history=np.stack(rows, axis=1),
        grok_step=grok,
        steps_run=steps_run,
        parameters=dict(zip(names, state["params"], strict=True)),
        wall_seconds=time.perf_counter() - wall,
        cpu_seconds=time.process_time() - cpu,
    )


# --------------------------------------------------------------------------- phases


def classify_phase(t_train: int, t_test: int, delay: int) -> str:
    """Liu et al.'s phase from the steps at which train/test accuracy crossed the threshold.

    ``t_train``/``t_test`` are -1 when never reached.
    """
    if t_train < 0:
        return "confusion"
    if t_test < 0:
        return "memorisation"
    return "grokking" if t_test - t_train > delay else "comprehension"


@dataclass(frozen=True, kw_only=True, slots=True)
class PhaseDiagram:
    """Phases over a grid of two hyperparameters (``x`` columns, ``y`` rows), ``n_seeds`` each.

    ``phase[iy, ix, s]`` is an index into :data:`PHASES`; ``t_train``/``t_test`` the steps the
    threshold was crossed (-1: never). ``grok_delay`` = t_test − t_train where both exist.
    """

    x_name: str
    x_values: tuple[float, ...]
    y_name: str
    y_values: tuple[float, ...]
    n_seeds: int
    threshold: float
    delay: int
    phase: np.ndarray
    t_train: np.ndarray
    t_test: np.ndarray
    batch: BatchedRuns = field(repr=False)

    def majority(self) -> np.ndarray:
        """Most frequent phase index per cell (ties: the later phase in :data:`PHASES`)."""
        counts = np.stack([(self.phase == k).sum(axis=2) for k in range(len(PHASES))], axis=-1)
        return len(PHASES) - 1 - np.argmax(counts[..., ::-1], axis=-1)

    def to_json(self) -> dict[str, object]:
        """JSON-convertible summary (no parameters)."""
        return {
            "x": {"name": self.x_name, "values": list(self.x_values)},
            "y": {"name": self.y_name, "values": list(self.y_values)},
            "n_seeds": self.n_seeds,
            "threshold": self.threshold,
            "delay": self.delay,
            "phases": list(PHASES),
            "phase": self.phase.tolist(),
            "t_train": self.t_train.tolist(),
            "t_test": self.t_test.tolist(),
            "steps": int(self.batch.base.steps),
            "cpu_seconds": self.batch.cpu_seconds,
            "wall_seconds": self.batch.wall_seconds,
        }


AXES = ("train_fraction", "lr", "weight_decay")


def phase_diagram(
    base: ModularTrainingConfig,
    x: tuple[str, Sequence[float]],
    y: tuple[str, Sequence[float]],
    *,
    n_seeds: int = 2,
    threshold: float = 0.9,
    delay: int = 1000,
    defaults: GrokRun | None = None,
    progress: Callable[[int], None] | None = None,
) -> PhaseDiagram:
    """Train every (x, y, seed) cell in one batch and classify it (see the module docstring).

    ``x``/``y`` are (name, values) with names from ``train_fraction``, ``lr``,
    ``weight_decay``; the other hyperparameters come from ``defaults``. A model stops as soon
    as its phase is settled (test accuracy reached the threshold) or at ``base.steps``.
    """
    for axis_name, _ in (x, y):
        if axis_name not in AXES:
            raise InvalidParameter("axis", axis_name, f"one of {AXES}")
    if x[0] == y[0]:
        raise InvalidParameter("axis", y[0], f"a different hyperparameter than {x[0]!r}")
    check_int("n_seeds", n_seeds, minimum=1)
    check_interval("threshold", threshold, 0.0, 1.0, low_open=True)
    check_int("delay", delay, minimum=0)
    defaults = defaults or GrokRun()
    runs = [
        replace(defaults, **{x[0]: float(xv), y[0]: float(yv)}, seed=defaults.seed + s)
        for yv in y[1]
        for xv in x[1]
        for s in range(n_seeds)
    ]

    def settled(step: int, metrics: np.ndarray) -> np.ndarray:
        del step
        return np.nan_to_num(metrics[:, 3], nan=0.0) >= threshold

    batch = train_batched(base, runs, stop_when=settled, progress=progress)
    shape = (len(y[1]), len(x[1]), n_seeds)
    t_train = batch.first_step("train_accuracy", threshold).reshape(shape)
    t_test = batch.first_step("test_accuracy", threshold).reshape(shape)
    phase = np.vectorize(lambda a, b: PHASES.index(classify_phase(int(a), int(b), delay)))(
        t_train, t_test
    )
    return PhaseDiagram(
        x_name=x[0],
        x_values=tuple(float(v) for v in x[1]),
        y_name=y[0],
        y_values=tuple(float(v) for v in y[1]),
        n_seeds=n_seeds,
        threshold=threshold,
        delay=delay,
        phase=np.asarray(phase, dtype=np.int64).reshape(shape),
        t_train=t_train,
        t_test=t_test,
        batch=batch,
    )
