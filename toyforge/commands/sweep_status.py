"""``toyforge sweep-status DIR``: done / failed / pending tasks of a sweep folder."""

from __future__ import annotations

import argparse
from typing import Any

MAX_FAILURES_SHOWN = 20


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sweep-status",
        help="show done / failed / pending tasks of a sweep folder",
        description="Count the task records of a sweep folder, list the failed tasks and "
        "rebuild its results table from the records.",
    )
    parser.add_argument("out", metavar="DIR", help="sweep folder (the --out of toyforge sweep)")
    parser.add_argument("--json", action="store_true", help="print the status as JSON")
    parser.add_argument("--no-table", action="store_true", help="do not rebuild the table")
    parser.add_argument(
        "--format",
        choices=("auto", "parquet", "csv"),
        default="auto",
        help="results table format (auto: parquet if pyarrow is installed)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from toyforge.commands._common import print_json, print_table
    from toyforge.core.errors import InvalidParameter
    from toyforge.verify import sweep

    folder = Path(args.out)
    if not folder.is_dir():
        raise InvalidParameter("DIR", args.out, "an existing sweep folder")
    status = sweep.sweep_status(folder)
    table = None if args.no_table else sweep.write_table(folder, table_format=args.format)
    if args.json:
        print_json(
            {
                "out_dir": str(folder),
                "name": status.name,
                "task": status.task,
                "n_tasks": status.n_tasks,
                "n_done": status.n_done,
                "n_failed": status.n_failed,
                "n_pending": status.n_pending,
                "failures": [
                    {"hash": digest, "point": point, "error": error}
                    for digest, point, error in status.failures
                ],
                "table": None if table is None else str(table),
            }
        )
        return 0
    label = f"'{status.name}' " if status.name else ""
    print(f"sweep {label}(task {status.task}) in {folder}")
    print_table(
        [[status.n_tasks, status.n_done, status.n_failed, status.n_pending]],
        header=["tasks", "done", "failed", "pending"],
    )
    if status.failures:
        print("failed:")
        for digest, point, error in status.failures[:MAX_FAILURES_SHOWN]:
            where = " ".join(f"{name}={value}" for name, value in point.items())
            print(f"  {digest}  {where}: {error}")
        if len(status.failures) > MAX_FAILURES_SHOWN:
            print(f"  ... and {len(status.failures) - MAX_FAILURES_SHOWN} more (--json)")
    if table is not None:
        print(f"table: {table}")
    return 0
