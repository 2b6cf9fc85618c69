"""Batched sweep jobs: pending tasks that train models of one shape, trained together.

A task may come with a *batch function* (``TaskInfo.batch``): ``batch(points, on_outputs, *,
progress=None, memory_share=1.0)`` takes a list of ``(params, seed)`` and calls
``on_outputs(index, outputs)`` as each point finishes (``outputs`` is the dict the task would
return for that point, or the exception it would raise), in any order. The built-in
``train+evaluate`` and ``compare`` have one (:mod:`toyforge.verify.sweep.batch_tasks`): it
trains the autoencoders of its points with :func:`toyforge.verify.train.runs.train_runs`, one
step of each in turn, each with its own convergence state and the bits it gets alone.

The rule (:func:`batch_jobs`): the pending tasks are grouped by the values of the task's
``batch_keys`` (for ``train+evaluate``: ``n_features``, ``batch_size``, ``dtype``,
``backend``), in grid order; with ``S`` executor slots (workers) and ``P`` pending tasks, a
group of ``G`` tasks is dealt round-robin into ``ceil(G · S / P)`` jobs of near-equal size
(neighbouring grid points, which tend to cost alike, land in different jobs). So
one group (one ``n``) gives one job per worker, there are at least ``min(S, P)`` jobs (every
worker gets work), and no job holds more than ``ceil(P / S)`` tasks; a lone task stays a
plain job, as does a task whose ``TaskInfo.batch_when`` parameter is not true (``compare``
batches only points with ``train = true``). A spec turns batching off with
``batch_training = false``. See ``docs/sweeps.md#batched-training``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from toyforge.verify.sweep.hashing import canonical_json

__all__ = ["BATCH_JOB_PREFIX", "batch_jobs", "fitting_chunks", "group_key", "split_evenly"]

BATCH_JOB_PREFIX = "batch-"
"""A batched job's ``hash`` is this prefix and the hash of its first task."""


def group_key(params: Mapping[str, Any], keys: Sequence[str]) -> str:
    """The values of ``keys`` in ``params`` (missing ones as ``null``) as canonical JSON."""
    return canonical_json([params.get(name) for name in keys])


def split_evenly(items: Sequence[Any], n_parts: int) -> list[list[Any]]:
    """``items`` dealt round-robin into ``n_parts`` parts: part ``k`` holds items ``k``,
    ``k + n_parts``, ... in order, so sizes differ by at most one (the first ones are the
    larger) and a run of costly neighbours is shared out instead of landing in one part."""
    parts = [list(items[start::n_parts]) for start in range(n_parts)]
    return [part for part in parts if part]


def batch_jobs(
    jobs: Sequence[Mapping[str, Any]],
    *,
    batch_reference: str,
    keys: Sequence[str],
    slots: int,
    when: str | None = None,
) -> list[dict[str, Any]]:
    """Group ``jobs`` (plain task jobs, see :func:`~toyforge.verify.sweep.worker.run_job`)
    into batched jobs for ``slots`` workers (the rule is in the module docstring).

    A batched job is ``{"task", "reference", "hash", "batch_reference", "memory_share",
    "jobs"}``; ``memory_share = 1 / slots`` is the part of the memory limit it may use (its
    workers run at the same time). Jobs alone in their group, and jobs whose parameter
    ``when`` (if given) is not true, stay as they are.
    """
    if not jobs:
        return []
    slots = max(int(slots), 1)
    groups: dict[str, list[Mapping[str, Any]]] = {}
    work: list[dict[str, Any]] = []
    for job in jobs:
        if when is not None and job["params"].get(when) is not True:
            work.append(dict(job))
            continue
        groups.setdefault(group_key(job["params"], keys), []).append(job)
    for members in groups.values():
        n_parts = min(math.ceil(len(members) * slots / len(jobs)), len(members))
        for part in split_evenly(members, n_parts):
            if len(part) == 1:
                work.append(dict(part[0]))
                continue
            work.append(
                {
                    "task": part[0]["task"],
                    "reference": part[0]["reference"],
                    "hash": BATCH_JOB_PREFIX + part[0]["hash"],
                    "batch_reference": batch_reference,
                    "memory_share": 1.0 / slots,
                    "jobs": [dict(member) for member in part],
                }
            )
    return work


def fitting_chunks(sizes: Sequence[float], limit: float) -> list[list[int]]:
    """Consecutive index chunks of ``sizes`` whose sums stay within ``limit`` (greedy, in
    order); an item larger than ``limit`` on its own is a chunk of one."""
    chunks: list[list[int]] = []
    total = 0.0
    for index, size in enumerate(sizes):
        if chunks and total + size <= limit:
            chunks[-1].append(index)
            total += size
        else:
            chunks.append([index])
            total = size
    return chunks
