"""Run every ``benchmarks/bench_*.py`` module: each defines ``main(out: Path, quick: bool)``.

Usage: ``python -m benchmarks.run_all [--out DIR] [--quick] [--only NAME ...]``.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from pathlib import Path

import benchmarks
from benchmarks._harness import environment


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--quick", action="store_true", help="fewer shapes and shorter blocks")
    parser.add_argument("--only", nargs="*", default=None, help="benchmark module names")
    args = parser.parse_args()
    names = sorted(
        info.name
        for info in pkgutil.iter_modules(benchmarks.__path__)
        if info.name.startswith("bench_")
    )
    if args.only:
        names = [name for name in names if name in args.only or name[6:] in args.only]
    print("environment:", environment())
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        module.main(args.out, args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
