"""Batch functions of the built-in tasks: several grid points trained in one call.

``train+evaluate`` points of one shape are trained together by
:func:`toyforge.verify.train.runs.train_runs` (one step of each in turn, each with its own
convergence state, every run with the bits it gets alone), then each is evaluated and reported
as soon as its run finishes. Each point's run and outputs come from the same helpers as the
unbatched task (:func:`~toyforge.verify.sweep.tasks.train_evaluate_run`,
:func:`~toyforge.verify.sweep.tasks.train_evaluate_outputs`), so a point's record is the
one the unbatched sweep writes (timing columns aside). The protocol is in
:mod:`toyforge.verify.sweep.batching`; see ``docs/sweeps.md#batched-training``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from toyforge.core.budget import memory_limit
from toyforge.verify.sweep.batching import fitting_chunks
from toyforge.verify.sweep.tasks import train_evaluate_outputs, train_evaluate_run

__all__ = ["train_evaluate_batch"]

OnOutputs = Callable[[int, Any], None]


def train_evaluate_batch(
    points: Sequence[tuple[dict[str, Any], int]],
    on_outputs: OnOutputs,
    *,
    progress: Callable[[int, int, float], None] | None = None,
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
    # deferred: a task loads only its own library part (see verify/sweep/tasks.py)
    from toyforge.verify.train.runs import run_bytes, train_runs

    prepared: list[tuple[int, Any, int]] = []
    for index, (params, seed) in enumerate(points):
        try:
            run, evaluate_seed = train_evaluate_run(params, seed)
        except Exception as error:  # noqa: BLE001 - this point fails as it does alone
            on_outputs(index, error)
            continue
        prepared.append((index, run, evaluate_seed))
    limit = memory_limit() * memory_share
    for chunk in fitting_chunks([run_bytes(run) for _, run, _ in prepared], limit):
        members = [prepared[position] for position in chunk]

        def finished(position: int, result: Any, members: list = members) -> None:
            index, run, evaluate_seed = members[position]
            try:
                outputs: Any = train_evaluate_outputs(points[index][0], run, result, evaluate_seed)
            except Exception as error:  # noqa: BLE001 - this point fails as it does alone
                outputs = error
            on_outputs(index, outputs)

        relay = None
        if progress is not None:
            indices = [index for index, _, _ in members]

            def relay(position: int, step: int, loss: float, indices: list = indices) -> None:
                progress(indices[position], step, loss)

        train_runs([run for _, run, _ in members], relay, on_result=finished)
