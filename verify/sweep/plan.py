"""Planning and running a sweep: which tasks are pending, run them, write each record.

:func:`run_sweep` is the whole sweep in one call; :func:`plan_sweep` and :func:`execute_plan`
are its two halves (the CLI uses them to show progress). The task is resolved (registered, or
allowed by the caller) and every grid point computed before the folder is touched.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toyforge.verify.sweep.batching import batch_jobs
from toyforge.verify.sweep.executors import Executor, choose_executor, executor_slots
from toyforge.verify.sweep.hashing import TaskPoint
from toyforge.verify.sweep.registry import TaskInfo, resolve_task
from toyforge.verify.sweep.spec import SweepSpec, load_spec
from toyforge.verify.sweep.store import prepare_folder, read_records, stored_spec, write_record
from toyforge.verify.sweep.table import write_table

__all__ = [
    "SweepPlan",
    "SweepStatus",
    "SweepSummary",
    "as_spec",
    "execute_plan",
    "plan_sweep",
    "run_sweep",
    "sweep_status",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class SweepPlan:
    """What a run of a sweep will do: the spec, its folder, every point and the pending ones."""

    spec: SweepSpec
    out_dir: Path
    points: tuple[TaskPoint, ...]
    pending: tuple[TaskPoint, ...]
    n_done: int
    n_failed: int
    task: TaskInfo

    def jobs(self) -> list[dict[str, Any]]:
        """The pending tasks as plain dicts for :func:`run_job`."""
        model_dir = str((self.out_dir / "models").resolve()) if self.spec.save_models else None
        return [
            {
                "task": self.spec.task,
                "reference": self.task.reference,
                "hash": point.hash,
                "params": dict(point.params),
                "seed": point.seed,
                "model_dir": model_dir,
            }
            for point in self.pending
        ]

    @property
    def batched(self) -> bool:
        """Whether pending points of one shape are run together (the task has a batch
        function and the spec does not set ``batch_training = false``)."""
        return self.spec.batch_training and self.task.batch is not None

    def work(self, slots: int | None) -> list[dict[str, Any]]:
        """The jobs for an executor with ``slots`` workers: batched jobs
        (:func:`~toyforge.verify.sweep.batching.batch_jobs`) when :attr:`batched` and the
        executor runs them (``slots`` not ``None``), else :meth:`jobs`."""
        jobs = self.jobs()
        if slots is None or not self.batched:
            return jobs
        return batch_jobs(
            jobs,
            batch_reference=self.task.batch,
            keys=self.task.batch_keys,
            slots=slots,
            when=self.task.batch_when,
        )


def as_spec(spec: SweepSpec | Mapping[str, Any] | str | os.PathLike[str]) -> SweepSpec:
    """A :class:`SweepSpec` from a spec object, a parsed mapping or a spec file path."""
    if isinstance(spec, SweepSpec):
        return spec
    if isinstance(spec, Mapping):
        return SweepSpec.from_dict(spec)
    return load_spec(spec)


def plan_sweep(
    spec: SweepSpec | Mapping[str, Any] | str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    retry_failed: bool = False,
    allow_tasks: Iterable[str] = (),
) -> SweepPlan:
    """Prepare ``out_dir`` (spec copy, or the check that it holds the same spec) and list the
    tasks without a record (plus the failed ones when ``retry_failed``).

    The task must be registered or its ``"module:function"`` listed in ``allow_tasks``; that is
    decided, and every grid point computed, before anything is imported or written.
    """
    source = None if isinstance(spec, (SweepSpec, Mapping)) else Path(spec)
    spec = as_spec(spec)
    task = resolve_task(spec.task, allow_tasks)
    points = tuple(spec.points())
    folder = Path(out_dir)
    prepare_folder(spec, folder, source)
    records = read_records(folder)
    statuses = {point.hash: records.get(point.hash, {}).get("status") for point in points}
    n_done = sum(status == "done" for status in statuses.values())
    n_failed = sum(status == "failed" for status in statuses.values())
    rerun = {None, "failed"} if retry_failed else {None}
    pending = tuple(point for point in points if statuses[point.hash] in rerun)
    return SweepPlan(
        spec=spec,
        out_dir=folder,
        points=points,
        pending=pending,
        n_done=n_done,
        n_failed=n_failed,
        task=task,
    )


def execute_plan(plan: SweepPlan, executor: Executor | None = None) -> Iterator[dict[str, Any]]:
    """Run the pending tasks of ``plan``; write and yield each record as it arrives (the tasks
    of a batched job one by one, as each finishes)."""
    if executor is None:
        executor = choose_executor(len(plan.pending), cheap=plan.task.cheap)
    run_id = uuid.uuid4().hex
    expected = {point.hash for point in plan.pending}
    slots = executor_slots(executor) if plan.batched else None
    for record in executor.run(plan.work(slots)):
        if record.get("hash") not in expected:  # pragma: no cover - defensive
            logger.warning("ignoring a record for an unknown task %s", record.get("hash"))
            continue
        record["run_id"] = run_id
        write_record(plan.out_dir, record)
        yield record


@dataclass(frozen=True, kw_only=True, slots=True)
class SweepStatus:
    """Counts of a sweep folder's tasks and the errors of the failed ones."""

    out_dir: Path
    name: str
    task: str
    n_tasks: int
    n_done: int
    n_failed: int
    n_pending: int
    failures: tuple[tuple[str, Mapping[str, Any], str], ...]
    """(hash, axis values, error) of each failed task, in grid order."""


@dataclass(frozen=True, kw_only=True, slots=True)
class SweepSummary:
    """The outcome of :func:`run_sweep`."""

    status: SweepStatus
    n_ran: int
    n_skipped: int
    executor: str
    elapsed_s: float
    table_path: Path | None


def run_sweep(
    spec: SweepSpec | Mapping[str, Any] | str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    executor: Executor | None = None,
    retry_failed: bool = False,
    table_format: str = "auto",
    on_record: Callable[[dict[str, Any]], None] | None = None,
    allow_tasks: Iterable[str] = (),
) -> SweepSummary:
    """Run (or resume) a sweep and write its table.

    Parameters
    ----------
    spec : SweepSpec, mapping or path
        The sweep (a ``.toml``/``.json`` path is also copied into ``out_dir``).
    out_dir : path
        The sweep folder; an existing one must hold the same spec.
    executor : executor, optional
        :class:`InProcessExecutor`, :class:`ProcessPoolExecutor` or :class:`DaskExecutor`;
        default from :func:`choose_executor`.
    retry_failed : bool
        Also rerun the tasks recorded as failed.
    table_format : {"auto", "parquet", "csv"}
        ``auto``: Parquet when pyarrow is installed, else CSV.
    on_record : callable, optional
        Called with each new record (progress reporting).
    allow_tasks : iterable of str
        ``"module:function"`` references a spec may name besides the registered tasks
        (``docs/safety.md#what-a-sweep-spec-may-name``).
    """
    started = time.perf_counter()
    plan = plan_sweep(spec, out_dir, retry_failed=retry_failed, allow_tasks=allow_tasks)
    if executor is None:
        executor = choose_executor(len(plan.pending), cheap=plan.task.cheap)
    n_ran = 0
    for record in execute_plan(plan, executor):
        n_ran += 1
        if on_record is not None:
            on_record(record)
    table_path = write_table(plan.out_dir, table_format=table_format)
    return SweepSummary(
        status=sweep_status(plan.out_dir),
        n_ran=n_ran,
        n_skipped=len(plan.points) - len(plan.pending),
        executor=executor.label,
        elapsed_s=time.perf_counter() - started,
        table_path=table_path,
    )


def sweep_status(out_dir: str | os.PathLike[str]) -> SweepStatus:
    """Done / failed / pending counts of a sweep folder (read from its records)."""
    folder = Path(out_dir)
    spec = stored_spec(folder)
    points = spec.points()
    records = read_records(folder)
    statuses = [records.get(point.hash, {}).get("status") for point in points]
    failures = tuple(
        (point.hash, dict(point.axis_values), records[point.hash].get("error") or "")
        for point, status in zip(points, statuses, strict=True)
        if status == "failed"
    )
    n_done = statuses.count("done")
    return SweepStatus(
        out_dir=folder,
        name=spec.name,
        task=spec.task,
        n_tasks=len(points),
        n_done=n_done,
        n_failed=len(failures),
        n_pending=len(points) - n_done - len(failures),
        failures=failures,
    )
