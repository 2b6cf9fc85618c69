"""``toyforge sweep SPEC --out DIR``: run or resume a declarative sweep (issue 7)."""

from __future__ import annotations

import argparse
from typing import Any

EXECUTOR_HELP = """\
tasks: predict, construct+evaluate, train+evaluate, compare; a spec naming any other
package.module:function runs only with --allow-task package.module:function (a spec file alone
never runs code you did not name).
executors: in-process for tiny sweeps and small sweeps of cheap tasks (predict), else a local
spawn process pool with one worker per CPU; --workers N (1 = in-process), --dask-local N (a
Dask LocalCluster of N processes) or --scheduler tcp://HOST:PORT (an existing Dask cluster)
override it. Dask needs the extra toyforge[distributed]. Rerunning the same command resumes:
finished tasks are skipped (--retry-failed also reruns the failed ones)."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="run or resume a sweep over a grid of tasks (TOML/JSON spec)",
        description="Run every grid point of SPEC as a task, one record per task in "
        "DIR/tasks/, and write the tidy table DIR/results.parquet (or .csv).",
        epilog=EXECUTOR_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("spec", metavar="SPEC", help="sweep spec, .toml or .json")
    parser.add_argument("--out", required=True, metavar="DIR", help="sweep folder")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--workers", type=int, metavar="N", help="local process pool of N workers (1 = in-process)"
    )
    where.add_argument(
        "--dask-local",
        type=int,
        metavar="N",
        help="start a Dask LocalCluster of N worker processes",
    )
    where.add_argument(
        "--scheduler",
        metavar="ADDR",
        help="address of a running Dask scheduler, e.g. tcp://host:8786",
    )
    parser.add_argument(
        "--allow-task",
        action="append",
        default=[],
        metavar="MODULE:FUNCTION",
        help="allow the spec to run this custom task (repeatable); without it only the "
        "built-in tasks run",
    )
    parser.add_argument(
        "--retry-failed", action="store_true", help="also rerun the tasks recorded as failed"
    )
    parser.add_argument(
        "--format",
        choices=("auto", "parquet", "csv"),
        default="auto",
        help="results table format (auto: parquet if pyarrow is installed)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import time

    from toyforge.commands._common import output_folder, progress
    from toyforge.core.errors import InvalidParameter
    from toyforge.verify import sweep

    for name, value in (("--workers", args.workers), ("--dask-local", args.dask_local)):
        if value is not None and value < 1:
            raise InvalidParameter(name, value, "an integer >= 1")
    started = time.perf_counter()
    spec = sweep.load_spec(args.spec)
    sweep.resolve_task(spec.task, args.allow_task)  # refused before any folder or import
    folder = output_folder(args.out)
    plan = sweep.plan_sweep(
        args.spec, folder, retry_failed=args.retry_failed, allow_tasks=args.allow_task
    )
    executor = sweep.choose_executor(
        len(plan.pending),
        cheap=plan.task.cheap,
        workers=args.workers,
        dask_local=args.dask_local,
        scheduler=args.scheduler,
    )
    records = sweep.execute_plan(plan, executor)
    n_ran = n_failed_now = 0
    for record in progress(
        records,
        total=len(plan.pending),
        desc=f"sweep {spec.name}".strip(),
        enabled=not args.no_progress,
    ):
        n_ran += 1
        n_failed_now += record["status"] == "failed"
    table = sweep.write_table(folder, table_format=args.format)
    status = sweep.sweep_status(folder)
    elapsed = time.perf_counter() - started
    label = f"'{spec.name}' " if spec.name else ""
    print(
        f"sweep {label}(task {spec.task}): {status.n_tasks} tasks; ran {n_ran} "
        f"({n_failed_now} failed), skipped {len(plan.points) - len(plan.pending)} finished; "
        f"{executor.label}, {elapsed:.1f} s"
    )
    print(f"done {status.n_done}, failed {status.n_failed}, pending {status.n_pending}")
    print(f"table: {table}")
    if status.n_failed:
        print(
            f"{status.n_failed} task(s) failed: `toyforge sweep-status {folder}` lists them; "
            "--retry-failed reruns them"
        )
        return 1
    return 0
