"""The tidy results table of a sweep, rebuilt from its records: Parquet or CSV.

One row per finished task in grid order: ``hash``, ``status``, the axes, ``seed``, the task's
outputs (estimates as ``<name>`` and ``<name>_stderr``), timings, the version and the error.
"""

from __future__ import annotations

import csv
import json
import numbers
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from toyforge.core.errors import InvalidParameter, ToyforgeError
from toyforge.core.fileio import atomic_path
from toyforge.core.validate import check_choice
from toyforge.verify.sweep.store import read_records, read_stored, stored_spec

__all__ = ["TABLE_FORMATS", "read_table", "same_results", "table_rows", "write_table"]

TABLE_FORMATS = ("auto", "parquet", "csv")


def table_rows(out_dir: str | os.PathLike[str]) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and rows of the results table: one row per finished task, in grid order.

    Columns: ``hash``, ``status``, the axes, ``seed``, the task's outputs (estimates as
    ``<name>`` and ``<name>_stderr``), ``elapsed_s``, ``cpu_s``, ``toyforge_version``,
    ``error`` and, when models are saved, ``model_file``.
    """
    folder = Path(out_dir)
    spec = stored_spec(folder)
    records = read_records(folder)
    axis_names = [axis.name for axis in spec.axes]
    output_names: dict[str, None] = {}
    rows = []
    for point in spec.points():
        record = records.get(point.hash)
        if record is None:
            continue
        outputs = record.get("outputs") or {}
        output_names.update(dict.fromkeys(outputs))
        rows.append(
            {
                "hash": point.hash,
                "status": record.get("status"),
                **point.axis_values,
                "seed": point.seed,
                **outputs,
                "elapsed_s": record.get("elapsed_s"),
                "cpu_s": record.get("cpu_s"),
                "toyforge_version": record.get("toyforge_version"),
                "error": record.get("error"),
                "model_file": record.get("model_file"),
            }
        )
    head = ["hash", "status", *axis_names]
    if "seed" not in axis_names:
        head.append("seed")
    tail = ["elapsed_s", "cpu_s", "toyforge_version", "error"]
    if spec.save_models:
        tail.append("model_file")
    columns = [*head, *output_names, *tail]
    return columns, [{column: row.get(column) for column in columns} for row in rows]


def _pyarrow_available() -> bool:
    try:
        import pyarrow  # noqa: F401  (optional and heavy: imported on use)
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        return False
    return True


def _column_kind(values: Iterable[Any]) -> str:
    present = [value for value in values if value is not None]
    if present and all(isinstance(value, bool) for value in present):
        return "bool"
    if any(isinstance(value, bool) for value in present) or not all(
        isinstance(value, numbers.Real) for value in present
    ):
        return "string"
    if all(isinstance(value, int) for value in present):
        return "int"
    return "float"


def write_table(out_dir: str | os.PathLike[str], *, table_format: str = "auto") -> Path:
    """Rebuild the results table from the records: ``results.parquet`` or ``results.csv``."""
    check_choice("table_format", table_format, TABLE_FORMATS)
    if table_format == "parquet" and not _pyarrow_available():
        raise ToyforgeError("table_format='parquet' needs pyarrow (pip install pyarrow)")
    if table_format == "auto":
        table_format = "parquet" if _pyarrow_available() else "csv"
    folder = Path(out_dir)
    columns, rows = table_rows(folder)
    path = folder / f"results.{table_format}"
    if table_format == "parquet":
        _write_parquet(path, columns, rows, read_stored(folder))
    else:
        _write_csv(path, columns, rows)
    return path


def _write_parquet(
    path: Path, columns: list[str], rows: list[dict[str, Any]], stored: Mapping[str, Any]
) -> None:
    import pyarrow as pa  # optional and heavy: imported on use
    import pyarrow.parquet as pq

    types = {"bool": pa.bool_(), "int": pa.int64(), "float": pa.float64(), "string": pa.string()}
    arrays = {}
    for column in columns:
        values = [row[column] for row in rows]
        kind = _column_kind(values)
        if kind == "string":
            values = [None if value is None else str(value) for value in values]
        elif kind == "float":
            values = [None if value is None else float(value) for value in values]
        arrays[column] = pa.array(values, type=types[kind])
    table = pa.table(arrays).replace_schema_metadata(
        {"toyforge.sweep": json.dumps(stored, allow_nan=False)}
    )
    with atomic_path(path, suffix=".parquet") as temp:
        pq.write_table(table, temp)


def _write_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    def cell(value: Any) -> str:
        if value is None:
            return ""
        return repr(value) if isinstance(value, float) else str(value)

    with (
        atomic_path(path, suffix=".csv") as temp,
        open(temp, "w", newline="", encoding="utf-8") as handle,
    ):
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([cell(row[column]) for column in columns])


def _parse_cell(text: str) -> Any:
    if text == "":
        return None
    if text in ("True", "False"):
        return text == "True"
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            continue
    return text


_TEXT_COLUMNS = ("hash", "status", "toyforge_version", "error", "model_file")


def read_table(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Rows of a results table (Parquet or CSV) as dicts.

    CSV cells are parsed back to int, float (exact: floats are written with ``repr``), bool
    and ``None`` (empty cell), except the text columns ``hash``, ``status``,
    ``toyforge_version``, ``error``, ``model_file``; a task's string output that looks like a
    number comes back as a number from CSV (Parquet keeps the types).
    """
    table_path = Path(path)
    if table_path.suffix == ".parquet":
        if not _pyarrow_available():
            raise ToyforgeError("reading a Parquet table needs pyarrow (pip install pyarrow)")
        import pyarrow.parquet as pq

        return pq.read_table(table_path).to_pylist()
    try:
        with open(table_path, newline="", encoding="utf-8") as handle:
            return [
                {
                    key: (value or None) if key in _TEXT_COLUMNS else _parse_cell(value)
                    for key, value in row.items()
                }
                for row in csv.DictReader(handle)
            ]
    except FileNotFoundError as error:
        raise InvalidParameter("table", str(table_path), "an existing results table") from error


def same_results(
    left: Sequence[Mapping[str, Any]],
    right: Sequence[Mapping[str, Any]],
    ignore: Sequence[str] = ("elapsed_s", "cpu_s"),
) -> bool:
    """Whether two tables hold the same rows, ignoring timing columns."""

    def strip(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return [{key: value for key, value in row.items() if key not in ignore} for row in rows]

    return strip(left) == strip(right)
