"""The worker side of a sweep: run one job (a plain dict) and return its record (a plain dict).

Only plain dicts travel between the driver and the workers, so the in-process, process-pool and
Dask executors give identical records. Pool workers watch their parent and exit when it dies
(:func:`watch_parent`): a killed ``toyforge sweep`` leaves no worker behind
(``docs/safety.md#signals-and-temporary-files``).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from toyforge.constructions.io import save
from toyforge.core.serde import to_jsonable
from toyforge.core.version import __version__
from toyforge.verify.sweep.hashing import SCHEMA_VERSION
from toyforge.verify.sweep.registry import load_task_function
from toyforge.verify.sweep.spec import _SCALARS, RESERVED_COLUMNS

__all__ = ["flatten_outputs", "run_batch_job", "run_job", "watch_parent"]

logger = logging.getLogger(__name__)

PARENT_POLL_SECONDS = 0.5
"""How often a pool worker checks that its parent is alive."""

EXIT_PARENT_DIED = 70
"""Exit status of a worker whose parent died."""

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def watch_parent(parent_pid: int | None) -> None:
    """Pool-worker initializer: end this process when ``parent_pid`` dies; leave Ctrl-C to
    the driver (which stops the pool and reports once).

    ``None`` watches whichever process is the parent now (a forkserver's children).

    On Linux the kernel sends SIGKILL when the parent exits (``prctl(PR_SET_PDEATHSIG)``); on
    every platform a daemon thread polls ``os.getppid()`` every :data:`PARENT_POLL_SECONDS` and
    exits when the process has been re-parented.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's: it ends the pool
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError, TypeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if parent_pid is None:
        parent_pid = os.getppid()
    if os.getppid() != parent_pid:  # died before the signal was armed
        os._exit(EXIT_PARENT_DIED)
    threading.Thread(
        target=_poll_parent, args=(parent_pid,), name="toyforge-parent-watch", daemon=True
    ).start()


def _poll_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(EXIT_PARENT_DIED)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _package_version() -> str:
    return __version__


def flatten_outputs(outputs: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten a task's outputs into scalar columns.

    Estimates (anything with ``value`` and ``stderr``) become ``<name>`` and ``<name>_stderr``;
    nested mappings become ``<outer>_<inner>``; numpy scalars are unwrapped; ``None`` stays.
    Anything else raises ``TypeError`` (the task is then recorded as failed).
    """
    if not isinstance(outputs, Mapping):
        raise TypeError(f"a task must return a dict of outputs, got {type(outputs).__name__}")
    flat: dict[str, Any] = {}
    for key, value in outputs.items():
        name = f"{prefix}{key}"
        if isinstance(value, np.generic):
            value = value.item()
        if hasattr(value, "value") and hasattr(value, "stderr"):
            flat[name] = float(value.value)
            flat[f"{name}_stderr"] = float(value.stderr)
        elif isinstance(value, Mapping):
            flat.update(flatten_outputs(value, prefix=f"{name}_"))
        elif value is None or isinstance(value, _SCALARS):
            flat[name] = value
        else:
            raise TypeError(
                f"output {name!r} is a {type(value).__name__}; allowed are numbers, "
                "strings, booleans, None, estimates (value, stderr) and dicts"
            )
    return flat


def _save_model(model: Any, model_dir: str, digest: str) -> str:
    """Save ``model`` as ``<model_dir>/<hash>.npz`` (toyforge.constructions.io); the name."""

    path = Path(model_dir) / f"{digest}.npz"
    save(model, path)
    return path.name


def _new_record(job: Mapping[str, Any]) -> dict[str, Any]:
    """The record of ``job`` before its task ran (status ``done``, no outputs yet)."""
    return {
        "hash": job["hash"],
        "task": job["task"],
        "params": dict(job["params"]),
        "seed": job["seed"],
        "status": "done",
        "outputs": {},
        "error": None,
        "started_at": _now(),
        "elapsed_s": 0.0,
        "cpu_s": 0.0,
        "toyforge_version": _package_version(),
        "schema_version": SCHEMA_VERSION,
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }


def _store_outputs(record: dict[str, Any], job: Mapping[str, Any], outputs: Any) -> None:
    """Flatten a task's outputs into ``record`` (saving its model); raises like the task."""
    outputs = dict(outputs)
    model = outputs.pop("model", None)
    flat = flatten_outputs(outputs)
    clashes = sorted(set(flat) & (set(job["params"]) | set(RESERVED_COLUMNS)))
    if clashes:
        raise ValueError(f"outputs {clashes} clash with parameter or reserved column names")
    if model is not None and job.get("model_dir"):
        record["model_file"] = "models/" + _save_model(model, job["model_dir"], job["hash"])
    record["outputs"] = to_jsonable(flat)


def _record_failure(record: dict[str, Any], error: BaseException) -> None:
    record["status"] = "failed"
    record["outputs"] = {}
    record["error"] = f"{type(error).__name__}: {error}"
    lines = traceback.format_exception(type(error), error, error.__traceback__, limit=20)
    record["traceback"] = "".join(lines)[-4000:]


def run_job(job: Mapping[str, Any]) -> dict[str, Any]:
    """Run one task and return its record; task exceptions become a ``failed`` record.

    ``job`` holds ``task``, ``reference``, ``hash``, ``params``, ``seed`` and ``model_dir``
    (``None`` unless models are saved). Executed on the workers: plain dicts in, plain dict out.
    """
    record = _new_record(job)
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        function = load_task_function(job["reference"])
        _store_outputs(record, job, function(dict(job["params"]), int(job["seed"])))
    except Exception as error:  # noqa: BLE001 - every task failure is recorded, not raised
        _record_failure(record, error)
    record["elapsed_s"] = time.perf_counter() - wall
    record["cpu_s"] = time.process_time() - cpu
    return record


def run_batch_job(
    job: Mapping[str, Any],
    emit: Callable[[dict[str, Any]], None] | None = None,
    progress: Callable[[int, int, float], None] | None = None,
) -> list[dict[str, Any]]:
    """Run a batched job (several tasks trained together) and return one record per task.

    ``job`` holds ``batch_reference`` (the task's batch function, see
    :mod:`toyforge.verify.sweep.batching`), ``memory_share`` and ``jobs``: the tasks, each a
    job of :func:`run_job`. Each task's record is built as :func:`run_job` builds it and passed
    to ``emit`` as soon as that task finishes (the driver stores it then: a killed batched job
    loses only its unfinished tasks). Its ``elapsed_s`` and ``cpu_s`` count from the start of
    the batched job, and ``batch`` says which job it was part of. If the batch function itself
    raises, the tasks it has not finished run one by one with :func:`run_job`, so every record
    is the one an unbatched sweep writes. ``progress(run_index, steps_done, batch_loss)`` is
    passed to the batch function (it may raise to stop the job).
    """
    members = list(job["jobs"])
    records: dict[int, dict[str, Any]] = {}
    started_at = _now()
    wall, cpu = time.perf_counter(), time.process_time()

    def finish(index: int, record: dict[str, Any]) -> None:
        records[index] = record
        if emit is not None:
            emit(record)

    def on_outputs(index: int, outputs: Any) -> None:
        member = members[index]
        record = _new_record(member)
        record["started_at"] = started_at
        record["batch"] = {"job": job["hash"], "size": len(members)}
        try:
            if isinstance(outputs, BaseException):
                raise outputs
            _store_outputs(record, member, outputs)
        except Exception as error:  # noqa: BLE001 - every task failure is recorded
            _record_failure(record, error)
        record["elapsed_s"] = time.perf_counter() - wall
        record["cpu_s"] = time.process_time() - cpu
        finish(index, record)

    try:
        function = load_task_function(job["batch_reference"])
        points = [(dict(member["params"]), int(member["seed"])) for member in members]
        function(
            points,
            on_outputs,
            progress=progress,
            memory_share=float(job.get("memory_share", 1.0)),
        )
    except Exception as error:  # noqa: BLE001 - the unfinished tasks run one by one
        logger.warning(
            "batched job %s stopped (%s: %s); its %d unfinished tasks run one by one",
            job["hash"],
            type(error).__name__,
            error,
            len(members) - len(records),
        )
    for index, member in enumerate(members):
        if index not in records:
            finish(index, run_job(member))
    return [records[index] for index in range(len(members))]


def _lost_record(job: Mapping[str, Any], error: BaseException) -> dict[str, Any]:
    """A failed record for a task whose worker died or whose result could not come back."""
    return {
        "hash": job["hash"],
        "task": job["task"],
        "params": dict(job["params"]),
        "seed": job["seed"],
        "status": "failed",
        "outputs": {},
        "error": f"worker lost: {type(error).__name__}: {error}",
        "started_at": None,
        "elapsed_s": None,
        "cpu_s": None,
        "toyforge_version": _package_version(),
        "schema_version": SCHEMA_VERSION,
        "host": None,
        "pid": None,
    }
