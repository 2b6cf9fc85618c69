"""What the report returns and writes: tables, item and report results, ``REPORT.md``."""

from __future__ import annotations

import json
import math
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from toyforge.core.version import __version__
from toyforge.report.config import ReportConfig

__all__ = [
    "ItemResult",
    "ReportResult",
    "Table",
    "item_from_record",
    "item_record",
    "relative_change",
    "summary_markdown",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class Table:
    """A Markdown table of the summary."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    def markdown(self) -> str:
        """The table as GitHub Markdown."""
        lines = [
            f"**{self.title}**",
            "",
            "| " + " | ".join(self.columns) + " |",
            "|" + "---|" * len(self.columns),
        ]
        lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in self.rows]
        return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool) or isinstance(value, (int, np.integer)):
        return str(value)
    if isinstance(value, (float, np.floating)):
        return "nan" if not math.isfinite(value) else f"{value:.5g}"
    return str(value)


def relative_change(value: float | None, reference: float) -> str:
    if value is None or not math.isfinite(value) or reference <= 0:
        return "–"
    return f"{100.0 * (value / reference - 1.0):+.2f} %"


@dataclass(frozen=True, kw_only=True, slots=True)
class ItemResult:
    """One item: its figures, tables, config, wall time and how much it computed afresh."""

    name: str
    figures: tuple[Path, ...]
    tables: tuple[Table, ...]
    config: Mapping[str, Any]
    seconds: float
    computed: int
    """New cache entries written (task records, weight files, double-descent points)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ReportResult:
    """The whole report."""

    config: ReportConfig
    items: tuple[ItemResult, ...]
    summary_path: Path
    seconds: float


def item_record(item: ItemResult, config_name: str) -> dict[str, Any]:
    """``item`` as JSON-ready data (table cells as the text REPORT.md shows), tagged with the
    report config's name; :func:`item_from_record` reads it back."""
    return {
        "config_name": config_name,
        "name": item.name,
        "figures": [path.name for path in item.figures],
        "tables": [
            {
                "title": table.title,
                "columns": list(table.columns),
                "rows": [[_cell(value) for value in row] for row in table.rows],
            }
            for table in item.tables
        ],
        "config": item.config,
        "seconds": item.seconds,
        "computed": item.computed,
    }


def item_from_record(record: Mapping[str, Any], folder: Path) -> ItemResult:
    """The :class:`ItemResult` of :func:`item_record` output (figures inside ``folder``)."""
    return ItemResult(
        name=str(record["name"]),
        figures=tuple(folder / name for name in record["figures"]),
        tables=tuple(
            Table(
                title=table["title"],
                columns=tuple(table["columns"]),
                rows=tuple(tuple(row) for row in table["rows"]),
            )
            for table in record["tables"]
        ),
        config=record["config"],
        seconds=float(record["seconds"]),
        computed=int(record["computed"]),
    )


def summary_markdown(result: ReportResult, items: Sequence[ItemResult] | None = None) -> str:
    """``REPORT.md``: version, timing, then each item's figures, tables and config.

    ``items`` (default ``result.items``) are the items to show, e.g. the ones run now merged
    with those of earlier runs into the same folder.
    """
    items = result.items if items is None else tuple(items)
    lines = [
        f"# toyforge reproduction report ({result.config.name})",
        "",
        f"toyforge {__version__}, Python {platform.python_version()}, "
        f"{platform.machine()}; this run took {result.seconds:.1f} s wall.",
        "",
        "| item | wall seconds | new cache entries | figures |",
        "|---|---|---|---|",
    ]
    for item in items:
        figures = ", ".join(path.name for path in item.figures) or "–"
        lines.append(f"| {item.name} | {item.seconds:.1f} | {item.computed} | {figures} |")
    lines.append("")
    for item in items:
        lines += [f"## {item.name}", ""]
        lines += [f"![{path.stem}]({path.name})" for path in item.figures]
        lines.append("")
        for table in item.tables:
            lines += [table.markdown(), ""]
        lines += [
            "<details><summary>config</summary>",
            "",
            "```json",
            json.dumps(item.config, indent=1, sort_keys=True),
            "```",
            "",
            "</details>",
            "",
        ]
    return "\n".join(lines)
