"""Sweep executors: each turns a list of jobs into an iterator of records, in completion order.

In-process (tiny or cheap sweeps), a local spawn process pool whose workers die with their
parent, or Dask distributed (a LocalCluster started for the sweep, or an existing scheduler).

A job is one task (:func:`~toyforge.verify.sweep.worker.run_job`) or a batched job of several
(:func:`~toyforge.verify.sweep.worker.run_batch_job`, :mod:`.batching`). A batched job's
records come back one by one as its tasks finish, not at its end: through a queue from a
thread (in-process), a pipe from the pool workers, Dask's event log (``log_event`` /
``subscribe_topic``). Each record is yielded once; the job's own return value carries them all
again, so a record that was on its way when the job ended is not lost.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import multiprocessing
import os
import queue
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from toyforge.core.errors import InvalidParameter, ToyforgeError
from toyforge.core.validate import check_choice, check_int
from toyforge.verify.sweep.worker import _lost_record, run_batch_job, run_job, watch_parent

__all__ = [
    "CHEAP_IN_PROCESS",
    "TINY_SWEEP",
    "DaskExecutor",
    "Executor",
    "InProcessExecutor",
    "ProcessPoolExecutor",
    "available_cpus",
    "choose_executor",
    "executor_slots",
]

TINY_SWEEP = 4
"""Sweeps with fewer pending tasks than this run in-process by default."""

CHEAP_IN_PROCESS = 64
"""Sweeps of a cheap task (tens of milliseconds) with at most this many pending tasks run
in-process by default: a spawn pool's start-up (1–2 s) would cost more than it saves."""


class Executor(Protocol):
    """What the sweep needs of an executor.

    An executor that also has ``n_slots() -> int`` (the number of tasks it runs at once) is
    given batched jobs (:mod:`.batching`); one without it gets one task per job.
    """

    label: str

    def run(self, jobs: Sequence[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
        """Yield one record per task as each finishes (any order)."""
        ...


def executor_slots(executor: Any) -> int | None:
    """``executor.n_slots()``, or ``None`` for an executor that does not run batched jobs."""
    n_slots = getattr(executor, "n_slots", None)
    return None if n_slots is None else max(int(n_slots()), 1)


def _is_batch(job: Mapping[str, Any]) -> bool:
    return "jobs" in job


def _members(job: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The tasks of a job: itself, or the tasks of a batched job."""
    return list(job["jobs"]) if _is_batch(job) else [job]


class _Stopped(BaseException):
    """Raised inside an in-process batched job when its consumer has gone (not a failure)."""


def _batch_in_thread(job: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Run a batched job in a thread of this process; yield its records as they come.

    Closing the iterator (Ctrl-C, an error in the consumer) stops the job at its next step.
    """
    records: queue.Queue[Any] = queue.Queue()
    stop = threading.Event()
    done = object()
    outcome: dict[str, Any] = {}

    def check(*_: Any) -> None:
        if stop.is_set():
            raise _Stopped

    def emit(record: dict[str, Any]) -> None:
        records.put(record)
        check()

    def target() -> None:
        try:
            outcome["records"] = run_batch_job(job, emit, check)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer
            outcome["error"] = error
        finally:
            records.put(done)

    thread = threading.Thread(target=target, name="toyforge-batch", daemon=True)
    thread.start()
    seen: set[str] = set()
    try:
        while True:
            try:
                item = records.get(timeout=0.5)
            except queue.Empty:
                continue
            if item is done:
                break
            seen.add(item["hash"])
            yield item
        error = outcome.get("error")
        if error is not None and not isinstance(error, _Stopped):
            raise error
        for record in outcome.get("records", ()):
            if record["hash"] not in seen:
                yield record
    finally:
        stop.set()
        thread.join()


@dataclass(frozen=True, kw_only=True, slots=True)
class InProcessExecutor:
    """Run the tasks one after another in this process (tiny or cheap sweeps, debugging).

    A batched job runs in a thread, so its records arrive as its tasks finish.
    """

    @property
    def label(self) -> str:
        return "in-process"

    def n_slots(self) -> int:
        """One task at a time."""
        return 1

    def run(self, jobs: Sequence[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
        for job in jobs:
            if _is_batch(job):
                yield from _batch_in_thread(job)
            else:
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

    def n_slots(self) -> int:
        """``workers`` tasks at a time."""
        return self.workers

    def run(self, jobs: Sequence[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
        if not jobs:
            return
        context = multiprocessing.get_context(self.context)
        interim = context.SimpleQueue()  # records of batched jobs, as their tasks finish
        pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=min(self.workers, len(jobs)),
            mp_context=context,
            initializer=_pool_worker_start,
            initargs=(os.getpid() if self.context == "spawn" else None, interim),
        )
        finished = False
        seen: set[str] = set()
        try:
            with _single_threaded_children():  # spawn happens on submit
                pending = {pool.submit(_pool_run, dict(job)) for job in jobs}
            while pending:
                done, pending = concurrent.futures.wait(
                    pending, timeout=0.1, return_when=concurrent.futures.FIRST_COMPLETED
                )
                yield from _unseen(_drain(interim), seen)
                for future in done:
                    try:
                        records = future.result()
                    except concurrent.futures.process.BrokenProcessPool as error:
                        yield from _unseen(_drain(interim), seen)
                        raise ToyforgeError(
                            "a worker process died (out of memory, a crash in native code, or "
                            "a script calling the sweep without `if __name__ == '__main__':` "
                            "— spawned workers re-import the main script); the finished tasks "
                            "are saved: rerun the sweep to resume"
                        ) from error
                    yield from _unseen(records, seen)
            finished = True
        finally:
            if not finished:
                _terminate(pool)
            pool.shutdown(wait=finished, cancel_futures=not finished)
            interim.close()


def _unseen(records: Iterator[dict[str, Any]] | list[dict[str, Any]], seen: set[str]):
    """The records whose hash is not in ``seen`` yet (added as they pass)."""
    for record in records:
        if record["hash"] not in seen:
            seen.add(record["hash"])
            yield record


def _drain(interim: Any) -> list[dict[str, Any]]:
    """Every record waiting in a pool's queue of interim records."""
    records = []
    while not interim.empty():
        records.append(interim.get())
    return records


_pool_interim: Any = None
"""In a pool worker: the queue that carries the records of batched jobs to the driver."""


def _pool_worker_start(parent_pid: int | None, interim: Any) -> None:
    """Pool-worker initializer: die with the parent (:func:`watch_parent`), keep the queue."""
    global _pool_interim
    watch_parent(parent_pid)
    _pool_interim = interim


def _pool_run(job: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Run a job in a pool worker; a batched job sends each record as its task finishes."""
    if _is_batch(job):
        return run_batch_job(job, _pool_interim.put if _pool_interim is not None else None)
    return [run_job(job)]


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

    def n_slots(self) -> int:
        """``n_workers``, or the threads of the scheduler's workers (asked once)."""
        if self.n_workers is not None:
            return self.n_workers
        with self.client() as client:
            workers = client.scheduler_info().get("workers", {})
            return max(sum(int(info.get("nthreads", 1)) for info in workers.values()), 1)

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
        _import_distributed()
        with self.client() as client:
            yield from _run_on_dask(client, jobs)


def _run_on_dask(client: Any, jobs: Sequence[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    """Submit ``jobs`` to a Dask client; yield records as tasks finish (batched jobs send
    theirs through the event log topic of this run)."""
    topic = f"toyforge-sweep-{uuid.uuid4().hex}"
    arrivals: queue.Queue[Any] = queue.Queue()
    client.subscribe_topic(topic, lambda event: arrivals.put(("record", event[1])))
    keys = [f"toyforge-sweep-{job['hash']}-{uuid.uuid4().hex[:8]}" for job in jobs]
    futures = client.map(_dask_run, [dict(job) for job in jobs], topic=topic, key=keys, pure=False)
    by_key = {key: job for key, job in zip(keys, jobs, strict=True)}
    for future in futures:
        future.add_done_callback(lambda done: arrivals.put(("done", done)))
    seen: set[str] = set()
    try:
        remaining = len(futures)
        while remaining:
            try:
                kind, item = arrivals.get(timeout=0.5)
            except queue.Empty:
                continue
            if kind == "record":
                yield from _unseen([item], seen)
                continue
            remaining -= 1
            job = by_key[item.key]
            try:
                records = item.result()
            except Exception as error:  # noqa: BLE001 - e.g. KilledWorker
                records = [_lost_record(member, error) for member in _members(job)]
            yield from _unseen(records, seen)
    finally:
        client.cancel(futures)
        with contextlib.suppress(Exception):
            client.unsubscribe_topic(topic)


def _dask_run(job: Mapping[str, Any], topic: str) -> list[dict[str, Any]]:
    """Run a job on a Dask worker; a batched job logs each record to ``topic`` as its task
    finishes."""
    if not _is_batch(job):
        return [run_job(job)]
    from distributed import get_worker  # deferred: runs on a Dask worker only

    worker = get_worker()
    return run_batch_job(job, lambda record: worker.log_event(topic, record))


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
