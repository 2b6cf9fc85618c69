"""Many ReLU autoencoders in one call: the protocol trainer, batched runs and restarts.

:class:`AutoencoderRun` is the config of one Persian-rug training run (size, data, initial
seed, the nested :class:`~toyforge.verify.train.config.TrainConfig`); :func:`train_run` is its
trainer in the protocol of :mod:`toyforge.verify.train.protocol` (a config in, a
:class:`~toyforge.verify.train.result.TrainResult` out). :func:`train_runs` advances K runs
together — different seeds, or different (ratio, feature_prob) at one n — one step of each in
turn, each with its own convergence state; a run that has converged drops out while the others
go on. Every run gives the same bits as when trained alone. Restarts (``restarts=K``) train K
initialisations together and keep the one with the lowest final training loss.

See ``docs/training.md#batched-training``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from toyforge.core.errors import InvalidParameter
from toyforge.core.validate import (
    check_choice,
    check_int,
    check_interval,
    check_probability,
    check_seed,
)
from toyforge.verify.train.autoencoder import TrainingRun
from toyforge.verify.train.config import TrainConfig
from toyforge.verify.train.data import SparseFeatureData, SparseSource
from toyforge.verify.train.initialisers import INIT_SCHEMES, init_relu_autoencoder
from toyforge.verify.train.result import TrainResult

__all__ = [
    "AutoencoderRun",
    "restart_seeds",
    "run_bytes",
    "train_run",
    "train_runs",
]

#: ``progress(run_index, steps_done, batch_loss)`` after every step of every run.
Progress = Callable[[int, int, float], None]


@dataclass(frozen=True, kw_only=True, slots=True)
class AutoencoderRun:
    """One ReLU autoencoder ``y = ReLU(W_out W_in x + b)`` to train on fresh sparse data.

    Parameters
    ----------
    n_features : int
    ratio : float
        ``n_hidden = max(floor(ratio · n_features), 1)``, ratio in (0, 1].
    feature_prob : float or None
        Probability that a feature is active, in (0, 1]; None when ``features`` is given.
    train : TrainConfig
        The optimiser, budget, convergence rule and data seed (``train.seed``).
    init_seed : int
        Seed of the initial weights.
    init : {"aligned", "torch", "xavier_normal"}
        Initial weights (:func:`~toyforge.verify.train.initialisers.init_relu_autoencoder`).
        ``"aligned"`` (the default) starts every output alive; ``"torch"`` (the PyTorch
        ``nn.Linear`` defaults of the Persian-rug code) starts about half of them silent, and
        at sparse points they stay silent (``docs/training.md#silent-features``).
    restarts : int
        Train this many initialisations and keep the best by final training loss.
    value_dist : {"uniform", "constant"}
    features : SparseSource, optional
        Non-identical features instead of ``feature_prob`` and ``value_dist``: a
        :class:`~toyforge.verify.data.feature_sampler.FeatureDistribution` (or any
        :class:`~toyforge.verify.train.data.SparseSource`) of ``n_features`` features; its
        importance weights the loss
        (docs/non_uniform_features.md#training-on-non-identical-features).
    """

    n_features: int
    ratio: float
    feature_prob: float | None = None
    train: TrainConfig
    init_seed: int = 0
    restarts: int = 1
    value_dist: str = "uniform"
    features: Any = None
    init: str = "aligned"

    def __post_init__(self) -> None:
        check_int("n_features", self.n_features, minimum=1)
        check_interval("ratio", self.ratio, 0.0, 1.0, low_open=True)
        self._check_features()
        if not isinstance(self.train, TrainConfig):
            raise InvalidParameter("train", type(self.train).__name__, "a TrainConfig")
        check_seed("init_seed", self.init_seed)
        if self.init_seed is None:
            raise InvalidParameter("init_seed", None, "an integer >= 0 (runs are reproducible)")
        check_int("restarts", self.restarts, minimum=1)
        check_choice("value_dist", self.value_dist, ("uniform", "constant"))
        check_choice("init", self.init, INIT_SCHEMES)

    def _check_features(self) -> None:
        if self.features is None:
            check_probability("feature_prob", self.feature_prob)
            return
        if not isinstance(self.features, SparseSource):
            raise InvalidParameter(
                "features", type(self.features).__name__, "a sparse source (FeatureDistribution)"
            )
        if self.features.n_features != self.n_features:
            raise InvalidParameter(
                "features", f"{self.features.n_features} features", f"{self.n_features}"
            )
        if self.feature_prob is not None:
            raise InvalidParameter("feature_prob", self.feature_prob, "None when features is given")

    @property
    def n_hidden(self) -> int:
        """``max(floor(ratio · n_features), 1)``."""
        return max(int(self.n_features * self.ratio), 1)

    def data(self) -> SparseSource:
        """The fresh-batch data source of the run (``features`` when given)."""
        if self.features is not None:
            return self.features
        return SparseFeatureData(
            n_features=self.n_features, feature_prob=self.feature_prob, value_dist=self.value_dist
        )


def restart_seeds(run: AutoencoderRun) -> list[tuple[int, int]]:
    """``(init_seed, train_seed)`` of each restart; restart 0 is the run's own seeds."""
    seeds = [(run.init_seed, run.train.seed)]
    for k in range(1, run.restarts):
        state = np.random.SeedSequence([run.init_seed, run.train.seed, k]).generate_state(2)
        seeds.append((int(state[0]), int(state[1])))
    return seeds


def run_bytes(run: AutoencoderRun) -> float:
    """Bytes the kernel step of one run holds (weights, moments and batch-sized buffers)."""
    itemsize = np.dtype(run.train.dtype).itemsize
    n, m = run.n_features, run.n_hidden
    batch = run.train.batch_size or 1
    weights = 3 * (2 * n * m + n) * itemsize  # parameters + two Adam moments
    # U, dL/du (dense or compacted values + int32 indices) and the dense input batch of the
    # dense-input path (verify/kernels/autoencoder_train.py), plus the hidden-size buffers.
    buffers = batch * n * (4 * itemsize + 4) + 4 * batch * m * itemsize
    return float(run.restarts * (weights + buffers))


def _start(run: AutoencoderRun) -> list[TrainingRun]:
    runs = []
    for init_seed, train_seed in restart_seeds(run):
        model = init_relu_autoencoder(run.n_features, run.n_hidden, seed=init_seed, scheme=run.init)
        config = dataclasses.replace(run.train, seed=train_seed)
        runs.append(TrainingRun(model, run.data(), config))
    return runs


def _best(results: list[TrainResult]) -> TrainResult:
    """The restart with the lowest final training loss (ties: the first)."""
    losses = [float(result.history.train_loss[-1]) for result in results]
    best = int(np.argmin(losses))
    return dataclasses.replace(results[best], restart_losses=tuple(losses), restart=best)


def train_runs(
    runs: Sequence[AutoencoderRun],
    progress: Progress | None = None,
    on_result: Callable[[int, TrainResult], None] | None = None,
) -> list[TrainResult]:
    """Train every run of ``runs`` together; one result per run (in order).

    One step of each unfinished run in turn (restarts included); each run stops on its own
    convergence rule or budget. A run's result is identical to :func:`train_run` of it alone.

    Parameters
    ----------
    runs : sequence of AutoencoderRun
    progress : callable, optional
        ``progress(run_index, steps_done, batch_loss)`` after every step.
    on_result : callable, optional
        ``on_result(run_index, result)`` as soon as a run has finished (the others go on).

    Returns
    -------
    list of TrainResult
        With ``converged``, ``steps`` and ``final_eval`` (held-out loss ± SE) each.
    """
    runs = list(runs)
    for index, run in enumerate(runs):
        if not isinstance(run, AutoencoderRun):
            raise InvalidParameter(f"runs[{index}]", type(run).__name__, "an AutoencoderRun")
    started = [_start(run) for run in runs]
    results: list[TrainResult | None] = [None] * len(runs)
    active = [(i, member) for i, members in enumerate(started) for member in members]
    while active:
        for index, member in active:
            loss = member.advance()
            if progress is not None:
                progress(index, member.step, loss)
        finished = {index for index, member in active if member.done}
        active = [(index, member) for index, member in active if not member.done]
        for index in sorted(finished - {index for index, _ in active}):
            results[index] = _best([member.result() for member in started[index]])
            if on_result is not None:
                on_result(index, results[index])
    return results  # type: ignore[return-value]


def train_run(
    run: AutoencoderRun, progress: Callable[[int, float], None] | None = None
) -> TrainResult:
    """Train one :class:`AutoencoderRun` (the trainer protocol: a config in, a result out).

    ``progress(steps_done, batch_loss)`` is called after every step (of every restart).
    """
    relay = None if progress is None else (lambda _index, step, loss: progress(step, loss))
    return train_runs([run], relay)[0]
