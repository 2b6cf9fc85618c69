"""Declarative, resumable parameter sweeps over a grid of tasks.

A sweep is a spec (TOML or JSON): a *task* name, a *grid* (the product of named axes) and
*fixed* settings. Every grid point becomes one task with a stable content hash: the SHA-256 of
the canonical JSON of ``{"params": ..., "schema": SCHEMA_VERSION, "task": ...}`` (sorted keys,
no spaces), never Python's ``hash()``. The Persian-rug paper's grid (Cowsik, Dolev, Infanger
2024, arXiv:2410.12101) is 20 × 20 (ratio, feature_prob) points at three sizes: 1200 tasks per
seed.

Storage in the output folder ``DIR``:

* ``DIR/sweep.json`` — the canonical spec (axes expanded to lists); a different spec in the
  same folder is refused once it holds finished tasks. ``DIR/spec.toml`` (or ``.json``) — a
  verbatim copy of the source.
* ``DIR/tasks/<hash>.json`` — one record per finished task (done or failed), written atomically
  by the driver as each result arrives. The records are the source of truth: a rerun skips every
  hash that has a record, so a killed sweep loses only the tasks that were running.
* ``DIR/results.parquet`` (pyarrow installed) or ``DIR/results.csv`` — the tidy table, one row
  per finished task in grid order, rebuilt from the records.
* ``DIR/models/<hash>.npz`` — model files, when the spec sets ``save_models = true`` and the
  task returns a ``model``. Written by the worker (a shared filesystem is needed for remote
  Dask workers); records and tables travel back to the driver and need none.

Tasks are functions ``task(params: dict, seed: int) -> dict``: the built-in ones, those the
user registers from Python (:func:`register_task`), and ``"package.module:function"``
references that the caller allows by name (``--allow-task`` on the command line,
``allow_tasks=`` here) — a spec file alone never makes a sweep import or run other code
(``docs/safety.md#what-a-sweep-spec-may-name``). Only plain dicts travel to workers, so the
in-process, process-pool and Dask executors give identical results: each task is seeded from its
grid point (the ``seed`` parameter when the grid or the fixed settings have one, else the first
32 bits of the content hash).

A task that trains models may come with a batch function: the pending points of one shape
(for ``train+evaluate``: one ``n_features``, batch size, dtype) then train together, one
batched job per worker, each point's record stored as soon as it finishes and identical to
the unbatched one; ``batch_training = false`` in a spec turns it off
(``docs/sweeps.md#batched-training``).

The package, one concern per module: :mod:`.registry` (which tasks may run), :mod:`.spec`,
:mod:`.hashing`, :mod:`.worker` (one job on a worker), :mod:`.batching` (batched jobs),
:mod:`.executors`, :mod:`.store` (the folder), :mod:`.plan` (planning and running) and
:mod:`.table`; :mod:`.tasks` holds the built-in tasks and :mod:`.batch_tasks` their batch
functions.
"""

from typing import Any

from toyforge.verify.sweep.batching import batch_jobs
from toyforge.verify.sweep.executors import (
    CHEAP_IN_PROCESS,
    TINY_SWEEP,
    DaskExecutor,
    Executor,
    InProcessExecutor,
    ProcessPoolExecutor,
    available_cpus,
    choose_executor,
    executor_slots,
)
from toyforge.verify.sweep.hashing import (
    HASH_LENGTH,
    SCHEMA_VERSION,
    TaskPoint,
    canonical_json,
    point_seed,
    task_hash,
)
from toyforge.verify.sweep.plan import (
    SweepPlan,
    SweepStatus,
    SweepSummary,
    as_spec,
    execute_plan,
    plan_sweep,
    run_sweep,
    sweep_status,
)
from toyforge.verify.sweep.registry import (
    TaskInfo,
    check_task_name,
    load_task_function,
    register_task,
    registered_tasks,
    resolve_task,
)
from toyforge.verify.sweep.spec import (
    EXECUTION_KEYS,
    RESERVED_COLUMNS,
    SPEC_KEYS,
    Axis,
    SweepSpec,
    axis_length,
    expand_axis,
    load_spec,
)
from toyforge.verify.sweep.store import read_records, stored_spec
from toyforge.verify.sweep.table import (
    TABLE_FORMATS,
    read_table,
    same_results,
    table_rows,
    write_table,
)
from toyforge.verify.sweep.worker import flatten_outputs, run_batch_job, run_job, watch_parent

__all__ = [
    "CHEAP_IN_PROCESS",
    "EXECUTION_KEYS",
    "HASH_LENGTH",
    "RESERVED_COLUMNS",
    "SCHEMA_VERSION",
    "SPEC_KEYS",
    "TABLE_FORMATS",
    "TINY_SWEEP",
    "Axis",
    "DaskExecutor",
    "Executor",
    "InProcessExecutor",
    "ProcessPoolExecutor",
    "SweepPlan",
    "SweepSpec",
    "SweepStatus",
    "SweepSummary",
    "TaskInfo",
    "TaskPoint",
    "as_spec",
    "available_cpus",
    "axis_length",
    "batch_jobs",
    "canonical_json",
    "check_task_name",
    "choose_executor",
    "execute_plan",
    "executor_slots",
    "expand_axis",
    "flatten_outputs",
    "load_spec",
    "load_task_function",
    "plan_sweep",
    "point_seed",
    "read_records",
    "read_table",
    "register_task",
    "registered_tasks",
    "resolve_task",
    "run_batch_job",
    "run_job",
    "run_sweep",
    "same_results",
    "stored_spec",
    "sweep_status",
    "table_rows",
    "task_hash",
    "watch_parent",
    "write_table",
    "compare_task",
    "construct_evaluate_task",
    "predict_task",
    "train_evaluate_task",
]

_TASKS = ("compare_task", "construct_evaluate_task", "predict_task", "train_evaluate_task")


def __getattr__(name: str) -> Any:
    """The built-in task functions, imported from :mod:`.tasks` on first use."""
    if name in _TASKS:
        from toyforge.verify.sweep import tasks  # keeps `import toyforge.verify.sweep` light

        return getattr(tasks, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
