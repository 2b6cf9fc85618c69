"""``toyforge warmup``: compile and cache every numba kernel, and say how long each took.

Every module of ``toyforge.verify.kernels`` that defines ``warmup()`` is imported and its
``warmup()`` called (it compiles its kernels on tiny inputs, or loads them from numba's cache
in ``NUMBA_CACHE_DIR`` / ``__pycache__``). Later processes then start in well under a second.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from toyforge.commands._common import print_json, print_table


def register(subparsers: Any) -> None:
    """Add ``toyforge warmup``."""
    parser = subparsers.add_parser(
        "warmup", help="compile and cache every numba kernel", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--json", action="store_true", help="print the timings as JSON")
    parser.set_defaults(func=run)


def kernel_modules() -> list[str]:
    """Names of the modules in toyforge.verify.kernels."""
    import pkgutil

    import toyforge.verify.kernels

    return sorted(info.name for info in pkgutil.iter_modules(toyforge.verify.kernels.__path__))


def run(args: argparse.Namespace) -> int:
    """Call every kernel module's ``warmup()``; exit 1 if one of them failed."""
    import importlib

    rows, failed = [], 0
    for name in kernel_modules():
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            module = importlib.import_module(f"toyforge.verify.kernels.{name}")
            warm = getattr(module, "warmup", None)
            if warm is None:
                continue
            compiled = warm() or []
            status = "ok"
        except Exception as error:  # report and go on with the other modules
            compiled, status, failed = [], f"failed: {type(error).__name__}: {error}", failed + 1
        rows.append(
            {
                "module": name,
                "kernels": len(compiled),
                "wall_s": time.perf_counter() - wall,
                "cpu_s": time.process_time() - cpu,
                "status": status,
                "compiled": [str(item) for item in compiled],
            }
        )
    if args.json:
        print_json(rows)
    else:
        print_table(
            [
                (row["module"], row["kernels"], row["wall_s"], row["cpu_s"], row["status"])
                for row in rows
            ],
            header=("module", "kernels", "wall s", "cpu s", "status"),
        )
        print(f"total: {sum(row['wall_s'] for row in rows):.2f} s wall")
    return 1 if failed else 0
