"""What every report item shares: its context (output folder, sizes, sweep executor, cache),
figure saving and cache keys."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toyforge.core.errors import InvalidParameter
from toyforge.core.serde import to_jsonable
from toyforge.figures._style import save_figure
from toyforge.report.config import ReportConfig
from toyforge.verify.sweep import InProcessExecutor, read_table, run_sweep

__all__ = ["REPORT_TASKS", "ReportContext", "config_key", "save_report_figure"]

REPORT_TASKS = (
    "toyforge.report:curve_point_task",
    "toyforge.report:convergence_point_task",
)
"""The report's own sweep tasks (its specs are built in code, so they may run them)."""


@dataclass(slots=True)
class ReportContext:
    """Where an item writes (``out``), its sizes, the sweep executor and its cache count."""

    out: Path
    config: ReportConfig
    executor: Any
    computed: int = 0

    def cache(self, item: str) -> Path:
        folder = self.out / ".cache" / item
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def sweep(
        self, item: str, spec: Mapping[str, Any], *, cheap: bool = False
    ) -> list[dict[str, Any]]:
        """Run (or resume) a sweep under the item's cache; its table rows."""
        executor = InProcessExecutor() if cheap else self.executor
        summary = run_sweep(
            dict(spec), self.cache(item) / spec["name"], executor=executor, allow_tasks=REPORT_TASKS
        )
        self.computed += summary.n_ran
        if summary.status.n_failed:
            failure = summary.status.failures[0]
            raise InvalidParameter(
                f"report item {item!r}", failure[1], f"a task that runs (it failed: {failure[2]})"
            )
        return read_table(summary.table_path)

    def count(self, *_: Any) -> None:
        """One more cache entry computed afresh (usable as a per-point callback)."""
        self.computed += 1


def save_report_figure(figure: Any, path: Path, config: Mapping[str, Any]) -> Path:
    """Save ``figure`` with ``config`` (marked as a report figure) stamped in its metadata."""
    return save_figure(figure, path, {"report": True, **config})


def config_key(data: Mapping[str, Any]) -> str:
    """16 hex digits of the SHA-256 of ``data`` as canonical JSON (the cache key)."""
    text = json.dumps(to_jsonable(dict(data)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
