"""Shared timing harness for the benchmarks.

Rules (docs/performance.md#how-speed-is-measured): time **single-thread process CPU time** (robust
on this shared machine), warm up first, calibrate the repeat count so a block lasts at least
``min_block`` seconds, report the median of ``blocks`` blocks, and always compare against a
reference run in the same process. Record which BLAS kernel numpy uses (OpenBLAS misdetects Zen 5 as
Haswell).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, kw_only=True, slots=True)
class Timing:
    """Median rate over blocks, in calls per CPU second (and the per-call CPU time)."""

    calls_per_second: float
    seconds_per_call: float
    blocks: list[float] = field(default_factory=list)  # per-block calls per CPU second
    wall_calls_per_second: float = 0.0


def measure(
    function: Callable[[], Any],
    *,
    min_block: float = 0.5,
    blocks: int = 5,
    warmup: int = 2,
    max_calls: int = 1_000_000,
) -> Timing:
    """Time ``function()`` by process CPU time: warm-up, calibration, median of ``blocks``."""
    for _ in range(warmup):
        function()
    calls = 1
    while True:
        start = time.process_time()
        for _ in range(calls):
            function()
        elapsed = time.process_time() - start
        if elapsed >= min_block / 4 or calls >= max_calls:
            break
        calls *= 2
    calls = max(1, min(max_calls, int(calls * min_block / max(elapsed, 1e-9))))
    rates, wall_rates = [], []
    for _ in range(blocks):
        start, wall_start = time.process_time(), time.perf_counter()
        for _ in range(calls):
            function()
        cpu = max(time.process_time() - start, 1e-9)
        wall = max(time.perf_counter() - wall_start, 1e-9)
        rates.append(calls / cpu)
        wall_rates.append(calls / wall)
    rate = statistics.median(rates)
    return Timing(
        calls_per_second=rate,
        seconds_per_call=1.0 / rate,
        blocks=rates,
        wall_calls_per_second=statistics.median(wall_rates),
    )


def blas_info() -> dict[str, Any]:
    """numpy's BLAS library, its kernel ('Haswell', 'SkylakeX', …) and thread count."""
    info: dict[str, Any] = {"OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE")}
    try:
        from threadpoolctl import threadpool_info

        pools = [pool for pool in threadpool_info() if pool.get("user_api") == "blas"]
        info["pools"] = [
            {
                key: pool.get(key)
                for key in ("internal_api", "version", "architecture", "num_threads", "filepath")
            }
            for pool in pools
        ]
    except ImportError:  # pragma: no cover
        info["pools"] = "threadpoolctl not installed"
    return info


def environment() -> dict[str, Any]:
    """What a reader needs to interpret the numbers."""
    import numba
    import numpy

    return {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "numba": numba.__version__,
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "threads": {
            name: os.environ.get(name)
            for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")
        },
        "blas": blas_info(),
        "time_unit": "single-thread process CPU time (time.process_time)",
    }


def torch_available() -> bool:
    """True when the optional PyTorch peer can be imported (only in the bench venv)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def write_results(path: Path, name: str, rows: list[dict[str, Any]]) -> Path:
    """Write ``{"benchmark", "environment", "rows"}`` JSON to ``path/name.json``."""
    path.mkdir(parents=True, exist_ok=True)
    target = path / f"{name}.json"
    payload = {"benchmark": name, "environment": environment(), "rows": rows}
    target.write_text(json.dumps(payload, indent=2, default=_jsonable))
    return target


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "__dataclass_fields__"):
        return asdict(obj)
    return str(obj)


def print_rows(title: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
    """Print rows as an aligned table under ``title``."""
    cells = [[_fmt(row.get(column, "")) for column in columns] for row in rows]
    widths = [max(len(column), *(len(row[i]) for row in cells)) for i, column in enumerate(columns)]
    print(f"\n## {title}")
    print("  ".join(column.ljust(width) for column, width in zip(columns, widths, strict=True)))
    print("  ".join("-" * width for width in widths))
    for row in cells:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
