"""Sweep executors: each turns a list of jobs into an iterator of records, in completion order.

In-process (tiny or cheap sweeps), a local spawn process pool whose workers die with their
parent, or Dask distributed (a LocalCluster started for the sweep, or an existing scheduler).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import multiprocessing
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from toyforge.core.errors import InvalidParameter, ToyforgeError
from toyforge.core.validate import check_choice, check_int
from toyforge.verify.sweep.worker import _lost_record, run_job, watch_parent

__all__ = [
    "CHEAP_IN_PROCESS",
    "TINY_SWEEP",
    "DaskExecutor",
    "Executor",
    "InProcessExecutor",
    "ProcessPoolExecutor",
    "available_cpus",
    "choose_executor",
]

TINY_SWEEP = 4
"""Sweeps with fewer pending tasks than this run in-process by default."""

CHEAP_IN_PROCESS = 64
"""Sweeps of a cheap task (tens of milliseconds) with at most this many pending tasks run
in-process by default: a spawn pool's start-up (1–2 s) would cost more than it saves."""


class Executor(Protocol):
    """What the sweep needs of an executor."""

    label: str

    def run(self, jobs: Sequence[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
        """Yield one record per job as each finishes (any order)."""
        ...


@dataclass(frozen=True, kw_only=True, slots=True)
class InProcessExecutor:
    """Run the tasks one after another in this process (tiny or cheap sweeps, debugging)."""

    @property
    def label(self) -> str:
        return "in-process"

    def run(self, jobs: Sequence[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
        for job in jobs:
            yield run_job(job)


_WORKER_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)


@contextlib.contextmanager
def _single_threaded_children() -> Iterator[None]:
    """Workers started inside this block inherit one BLAS/OpenMP/numba thread each (unless the
    user set these variables), so N workers do not oversubscribe N cores."""
    added = [name for name in _WORKER_THREAD_VARIABLES if name not in os.environ]
    for name in added:
        os.environ[name] = "1"
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


@dataclass(frozen=True, kw_only=True, slots=True)
class ProcessPoolExecutor:
    """A local pool of ``workers`` processes started with ``context`` ("spawn" or "forkserver";
    never fork, which is unsafe with numba's threading layer)."""

    workers: int
    context: str = "spawn"

    def __post_init__(self) -> None:
        check_int("workers", self.workers, minimum=1)
        check_choice("context", self.context, ("spawn", "forkserver"))

    @property
    def label(self) -> str:
        return f"process pool ({self.workers} workers, {self.context})"

    def run(self, jobs: Sequence[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
        if not jobs:
            return
        pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=min(self.workers, len(jobs)),
            mp_context=multiprocessing.get_context(self.context),
            initializer=watch_parent,
            initargs=(os.getpid() if self.context == "spawn" else None,),
        )
        finished = False
        try:
            with _single_threaded_children():  # spawn happens on submit
                futures = {pool.submit(run_job, dict(job)): job for job in jobs}
            for future in concurrent.futures.as_completed(futures):
                try:
                    yield future.result()
                except concurrent.futures.process.BrokenProcessPool as error:
                    raise ToyforgeError(
                        "a worker process died (out of memory, a crash in native code, or a "
                        "script calling the sweep without `if __name__ == '__main__':` — "
                        "spawned workers re-import the main script); the finished tasks are "
                        "saved: rerun the sweep to resume"
                    ) from error
            finished = True
        finally:
            if not finished:
                _terminate(pool)
            pool.shutdown(wait=finished, cancel_futures=not finished)


def _terminate(pool: concurrent.futures.ProcessPoolExecutor) -> None:
    """Stop the running workers of an interrupted pool (best effort; uses the pool's process
    table, which concurrent.futures keeps in ``_processes``)."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(Exception):
            process.terminate()


@dataclass(frozen=True, kw_only=True, slots=True)
class DaskExecutor:
    """Run the tasks on Dask distributed: an existing scheduler (``scheduler="tcp://host:port"``)
    or a ``LocalCluster`` of ``n_workers`` single-threaded processes started for this sweep.

    Workers need toyforge (and the task's module) installed. Records come back to the driver,
    which writes them; only model files (``save_models``) need a filesystem the workers share.
    """

    scheduler: str | None = None
    n_workers: int | None = None

    def __post_init__(self) -> None:
        if (self.scheduler is None) == (self.n_workers is None):
            raise InvalidParameter(
                "executor",
                (self.scheduler, self.n_workers),
                "exactly one of a scheduler address or n_workers",
            )
        if self.n_workers is not None:
            check_int("n_workers", self.n_workers, minimum=1)

    @property
    def label(self) -> str:
        if self.scheduler is not None:
            return f"dask ({self.scheduler})"
        return f"dask LocalCluster ({self.n_workers} workers)"

    @contextlib.contextmanager
    def client(self) -> Iterator[Any]:
        """A connected ``distributed.Client`` (and its LocalCluster, if one is started)."""
        distributed = _import_distributed()
        if self.scheduler is not None:
            try:
                client = distributed.Client(self.scheduler, timeout="20s")
            except (OSError, TimeoutError) as error:
                raise InvalidParameter(
                    "--scheduler", self.scheduler, f"a reachable Dask scheduler ({error})"
                ) from error
            with client:
                yield client
            return
        with (
            _quiet_dask(),
            distributed.LocalCluster(
                n_workers=self.n_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            yield client

    def run(self, jobs: Sequence[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
        if not jobs:
            return
        distributed = _import_distributed()
        with self.client() as client:
            keys = [f"toyforge-sweep-{job['hash']}-{uuid.uuid4().hex[:8]}" for job in jobs]
            futures = client.map(run_job, [dict(job) for job in jobs], key=keys, pure=False)
            by_key = {key: job for key, job in zip(keys, jobs, strict=True)}
            try:
                for future in distributed.as_completed(futures):
                    try:
                        yield future.result()
                    except Exception as error:  # noqa: BLE001 - e.g. KilledWorker
                        yield _lost_record(by_key[future.key], error)
            finally:
                client.cancel(futures)


_DASK_LOG_VARIABLE = "DASK_DISTRIBUTED__LOGGING__DISTRIBUTED"


@contextlib.contextmanager
def _quiet_dask() -> Iterator[None]:
    """Dask's start-up and shutdown INFO lines (scheduler, nanny, worker: ~90 of them) only
    when the caller asked for INFO logging (``toyforge -v``); warnings and errors always."""
    if logging.getLogger().getEffectiveLevel() <= logging.INFO:
        yield
        return
    loggers = [logging.getLogger(name) for name in ("distributed", "dask")]
    levels = [logger.level for logger in loggers]
    added = _DASK_LOG_VARIABLE not in os.environ
    if added:  # read by the spawned scheduler and worker processes
        os.environ[_DASK_LOG_VARIABLE] = "warning"
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        if added:
            os.environ.pop(_DASK_LOG_VARIABLE, None)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as error:
        raise ToyforgeError(
            "the Dask executor needs the optional extra 'toyforge[distributed]' "
            "(pip install 'toyforge[distributed]', i.e. dask[distributed])"
        ) from error
    return distributed


def available_cpus() -> int:
    """CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return os.cpu_count() or 1


def choose_executor(
    n_pending: int,
    *,
    cheap: bool = False,
    workers: int | None = None,
    dask_local: int | None = None,
    scheduler: str | None = None,
) -> Executor:
    """The executor for a sweep with ``n_pending`` tasks.

    At most one of ``workers``, ``dask_local`` and ``scheduler``. Without any: in-process when
    the sweep is tiny (< :data:`TINY_SWEEP` tasks), the task is cheap and at most
    :data:`CHEAP_IN_PROCESS` tasks are pending, or one CPU is available; else a spawn process
    pool with one worker per CPU. ``workers=1`` means in-process.
    """
    chosen = [
        name
        for name, value in (
            ("workers", workers),
            ("dask_local", dask_local),
            ("scheduler", scheduler),
        )
        if value is not None
    ]
    if len(chosen) > 1:
        raise InvalidParameter("executor", chosen, "at most one of workers, dask_local, scheduler")
    if scheduler is not None:
        return DaskExecutor(scheduler=scheduler)
    if dask_local is not None:
        return DaskExecutor(n_workers=dask_local)
    if workers is None:
        cpus = available_cpus()
        if n_pending < TINY_SWEEP or (cheap and n_pending <= CHEAP_IN_PROCESS) or cpus < 2:
            return InProcessExecutor()
        return ProcessPoolExecutor(workers=min(cpus, n_pending))
    workers = check_int("workers", workers, minimum=1)
    return InProcessExecutor() if workers == 1 else ProcessPoolExecutor(workers=workers)
