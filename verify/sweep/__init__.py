"""Sweeps: declarative grids of tasks, resumable records, local/process/Dask executors, tidy tables.

Public names are re-exported here and imported lazily from their modules
(engine, tasks), so importing one module does not import its siblings.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "Axis": "toyforge.verify.sweep.engine",
    "DaskExecutor": "toyforge.verify.sweep.engine",
    "InProcessExecutor": "toyforge.verify.sweep.engine",
    "ProcessPoolExecutor": "toyforge.verify.sweep.engine",
    "SCHEMA_VERSION": "toyforge.verify.sweep.engine",
    "SweepPlan": "toyforge.verify.sweep.engine",
    "SweepSpec": "toyforge.verify.sweep.engine",
    "SweepStatus": "toyforge.verify.sweep.engine",
    "SweepSummary": "toyforge.verify.sweep.engine",
    "TaskInfo": "toyforge.verify.sweep.engine",
    "TaskPoint": "toyforge.verify.sweep.engine",
    "choose_executor": "toyforge.verify.sweep.engine",
    "compare_task": "toyforge.verify.sweep.tasks",
    "construct_evaluate_task": "toyforge.verify.sweep.tasks",
    "load_spec": "toyforge.verify.sweep.engine",
    "plan_sweep": "toyforge.verify.sweep.engine",
    "predict_task": "toyforge.verify.sweep.tasks",
    "read_records": "toyforge.verify.sweep.engine",
    "read_table": "toyforge.verify.sweep.engine",
    "register_task": "toyforge.verify.sweep.engine",
    "registered_tasks": "toyforge.verify.sweep.engine",
    "resolve_task": "toyforge.verify.sweep.engine",
    "run_job": "toyforge.verify.sweep.engine",
    "run_sweep": "toyforge.verify.sweep.engine",
    "sweep_status": "toyforge.verify.sweep.engine",
    "table_rows": "toyforge.verify.sweep.engine",
    "task_hash": "toyforge.verify.sweep.engine",
    "train_evaluate_task": "toyforge.verify.sweep.tasks",
    "write_table": "toyforge.verify.sweep.engine",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
