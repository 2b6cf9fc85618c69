"""Batch functions of the built-in tasks: several grid points trained in one call.

``train+evaluate`` points of one shape (and ``compare`` points with ``train = true`` at one
``n_features``) are trained together by
:func:`toyforge.verify.train.runs.train_runs` (one step of each in turn, each with its own
convergence state, every run with the bits it gets alone), then each is evaluated and reported
as soon as its run finishes. Each point's run and outputs come from the same helpers as the
unbatched task (:func:`~toyforge.verify.sweep.tasks.train_evaluate_run` and
:func:`~toyforge.verify.sweep.tasks.train_evaluate_outputs`;
:func:`~toyforge.verify.sweep.tasks.compare_arguments`,
:func:`~toyforge.verify.compare.persian_rug.comparison_run` and
:func:`~toyforge.verify.sweep.tasks.compare_outputs`), so a point's record is the one the
unbatched sweep writes (timing columns aside). The protocol is in
:mod:`toyforge.verify.sweep.batching`; see ``docs/sweeps.md#batched-training``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from toyforge.core.budget import memory_limit
from toyforge.verify.sweep.batching import fitting_chunks
from toyforge.verify.sweep.tasks import (
    compare_arguments,
    compare_outputs,
    train_evaluate_outputs,
    train_evaluate_run,
)

__all__ = ["compare_batch", "train_evaluate_batch"]

OnOutputs = Callable[[int, Any], None]
Progress = Callable[[int, int, float], None]


def train_evaluate_batch(
    points: Sequence[tuple[dict[str, Any], int]],
    on_outputs: OnOutputs,
    *,
    progress: Progress | None = None,
    memory_share: float = 1.0,
) -> None:
    """[``train+evaluate``, batched] Train the autoencoders of ``points`` together.

    Parameters
    ----------
    points : sequence of (params, seed)
        Grid points of ``train+evaluate`` (see
        :func:`~toyforge.verify.sweep.tasks.train_evaluate_task`).
    on_outputs : callable
        ``on_outputs(index, outputs)`` as each point finishes: the task's outputs, or the
        exception the task raises for that point (bad parameters, a failed evaluation).
    progress : callable, optional
        ``progress(point_index, steps_done, batch_loss)`` after every step (may raise to stop).
    memory_share : float
        Part of the memory limit (:func:`toyforge.core.budget.memory_limit`) this call may use.
        The points are trained in consecutive groups whose summed
        :func:`~toyforge.verify.train.runs.run_bytes` fit it, checked before any weight is
        allocated; a run that alone exceeds it is trained alone, as without batching.
    """
    prepared = []
    for index, (params, seed) in enumerate(points):
        try:
            run, evaluate_seed = train_evaluate_run(params, seed)
        except Exception as error:  # noqa: BLE001 - this point fails as it does alone
            on_outputs(index, error)
            continue
        prepared.append(_Prepared(index=index, run=run, extra=evaluate_seed))

    def outputs(item: _Prepared, result: Any) -> dict[str, Any]:
        return train_evaluate_outputs(points[item.index][0], item.run, result, item.extra)

    _train_together(prepared, outputs, on_outputs, progress, memory_share)


def compare_batch(
    points: Sequence[tuple[dict[str, Any], int]],
    on_outputs: OnOutputs,
    *,
    progress: Progress | None = None,
    memory_share: float = 1.0,
) -> None:
    """[``compare``, batched] The comparisons of ``points``, their trained models trained
    together (parameters as in :func:`train_evaluate_batch`).

    Each point's training run is the one :func:`~toyforge.verify.compare.persian_rug.
    compare_persian_rug` would make (:func:`~toyforge.verify.compare.persian_rug.
    comparison_run`); when it finishes, the comparison is made with that model
    (``trained=``). A point without ``train = true`` is compared on its own.
    """
    # deferred: a task loads only its own library part (see verify/sweep/tasks.py)
    from toyforge.verify.compare.persian_rug import (
        RugCompareConfig,
        compare_persian_rug,
        comparison_run,
        trained_point,
    )

    prepared = []
    for index, (params, seed) in enumerate(points):
        try:
            n_features, ratio, feature_prob, options = compare_arguments(params, seed)
            config = RugCompareConfig(
                n_features=n_features, ratio=ratio, feature_prob=feature_prob, **options
            )
            alone = None
            if config.train:
                prepared.append(_Prepared(index=index, run=comparison_run(config), extra=config))
            else:
                alone = compare_outputs(params, compare_persian_rug(**_arguments(config)))
        except Exception as error:  # noqa: BLE001 - this point fails as it does alone
            alone = error
        if alone is not None:
            on_outputs(index, alone)

    def outputs(item: _Prepared, result: Any) -> dict[str, Any]:
        point = trained_point(item.run, result, eval_samples=item.extra.eval_samples)
        comparison = compare_persian_rug(**_arguments(item.extra), trained=point)
        return compare_outputs(points[item.index][0], comparison)

    _train_together(prepared, outputs, on_outputs, progress, memory_share)


def _arguments(config: Any) -> dict[str, Any]:
    """The keywords of ``compare_persian_rug`` that give back ``config``."""
    return {field.name: getattr(config, field.name) for field in dataclasses.fields(config)}


@dataclass(frozen=True, kw_only=True, slots=True)
class _Prepared:
    """A point ready to train: its index in the batch, its run and what its outputs need."""

    index: int
    run: Any
    extra: Any


def _train_together(
    prepared: list[_Prepared],
    outputs: Callable[[_Prepared, Any], dict[str, Any]],
    on_outputs: OnOutputs,
    progress: Progress | None,
    memory_share: float,
) -> None:
    """Train the runs of ``prepared`` with ``train_runs``, in consecutive parts whose summed
    ``run_bytes`` fit ``memory_share`` of the memory limit; report each point's
    ``outputs(item, result)`` (or the exception it raises) as its run finishes."""
    # deferred: a task loads only its own library part (see verify/sweep/tasks.py)
    from toyforge.verify.train.runs import run_bytes, train_runs

    limit = memory_limit() * memory_share
    for chunk in fitting_chunks([run_bytes(item.run) for item in prepared], limit):
        members = [prepared[position] for position in chunk]

        def finished(position: int, result: Any, members: list[_Prepared] = members) -> None:
            try:
                reported: Any = outputs(members[position], result)
            except Exception as error:  # noqa: BLE001 - this point fails as it does alone
                reported = error
            on_outputs(members[position].index, reported)

        relay = None
        if progress is not None:
            indices = [item.index for item in members]

            def relay(position: int, step: int, loss: float, indices: list = indices) -> None:
                progress(indices[position], step, loss)

        train_runs([item.run for item in members], relay, on_result=finished)
