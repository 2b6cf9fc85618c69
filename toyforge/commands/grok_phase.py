"""``toyforge grok-phase``: the grokking phase diagram of the modular-addition MLP.

Trains every cell (x value, y value, seed) of one or two hyperparameter grids in one batch
(float64 numba kernel) and classifies each run as confusion, memorisation, grokking or
comprehension (Liu et al. 2022). Defaults: p = 31, embedding 64, 24 hidden neurons, 10 000
steps, a 10 x 10 grid with 2 seeds; train fraction 0.1-0.9 x weight decay 0.01-30 (lr 3e-3),
and learning rate 1e-4-3e-2 x weight decay (train fraction 0.5). See docs/grokking.md.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from toyforge.commands._common import figure_path, float_arg, output_path, print_table, progress

PRESETS = ("fraction-wd", "lr-wd", "both")


def register(subparsers: Any) -> None:
    """Add ``toyforge grok-phase``."""
    parser = subparsers.add_parser(
        "grok-phase",
        help="grokking phase diagram (train fraction x weight decay, lr x weight decay)",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--axes", choices=PRESETS, default="both", help="which diagram(s)")
    parser.add_argument("--grid", type=int, default=10, help="values per axis (default 10)")
    parser.add_argument("--seeds", type=int, default=2, help="seeds per cell (default 2)")
    parser.add_argument("--modulus", type=int, default=31, help="prime p (default 31)")
    parser.add_argument("--embed", type=int, default=64, help="embedding width (default 64)")
    parser.add_argument("--hidden", type=int, default=24, help="hidden neurons (default 24)")
    parser.add_argument("--steps", type=int, default=10_000, help="step budget (default 10000)")
    parser.add_argument("--log-every", type=int, default=100, help="evaluate every K steps")
    parser.add_argument("--lr", type=float_arg, default=3e-3, help="lr of fraction-wd")
    parser.add_argument(
        "--train-fraction", type=float_arg, default=0.5, help="train fraction of lr-wd"
    )
    parser.add_argument("--threshold", type=float_arg, default=0.9, help="accuracy threshold")
    parser.add_argument(
        "--delay", type=int, default=1000, help="test-after-train steps that count as grokking"
    )
    parser.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--out", required=True, help="result JSON")
    parser.add_argument("--plot", default=None, help="also draw the diagram(s) to this image")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _check(args: argparse.Namespace) -> None:
    from toyforge.constructions.modular_addition import is_prime
    from toyforge.core.errors import InvalidParameter

    if args.modulus < 3 or not is_prime(args.modulus):
        raise InvalidParameter("--modulus", args.modulus, "a prime >= 3")
    for flag, value, low in (
        ("--grid", args.grid, 1), ("--seeds", args.seeds, 1), ("--embed", args.embed, 1),
        ("--hidden", args.hidden, 1), ("--steps", args.steps, 1),
        ("--log-every", args.log_every, 1), ("--delay", args.delay, 0), ("--seed", args.seed, 0),
    ):  # fmt: skip
        if value < low:
            raise InvalidParameter(flag, value, f"{flag} >= {low}")
    if not 0.0 < args.train_fraction < 1.0:
        raise InvalidParameter("--train-fraction", args.train_fraction, "0 < value < 1")
    if not 0.0 < args.threshold <= 1.0:
        raise InvalidParameter("--threshold", args.threshold, "0 < value <= 1")
    if args.lr <= 0:
        raise InvalidParameter("--lr", args.lr, "a positive learning rate")


def _grids(args: argparse.Namespace) -> list[tuple[tuple[str, Any], tuple[str, Any], Any]]:
    import numpy as np

    from toyforge.verify.experiments.grok_phase import GrokRun

    n = args.grid
    wd = ("weight_decay", np.logspace(-2, np.log10(30.0), n))
    grids = []
    if args.axes in ("fraction-wd", "both"):
        fractions = ("train_fraction", np.linspace(0.1, 0.9, n))
        grids.append((fractions, wd, GrokRun(lr=args.lr, seed=args.seed)))
    if args.axes in ("lr-wd", "both"):
        rates = ("lr", np.logspace(-4, np.log10(3e-2), n))
        grids.append((rates, wd, GrokRun(train_fraction=args.train_fraction, seed=args.seed)))
    return grids


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from toyforge.core.budget import check_memory
    from toyforge.core.fileio import atomic_write_text
    from toyforge.core.serde import to_jsonable
    from toyforge.verify.experiments.grok_phase import PHASES, batch_memory_bytes, phase_diagram
    from toyforge.verify.experiments.grokking import ModularTrainingConfig

    _check(args)
    out = output_path(args.out, "--out", (".json",))
    plot = None if args.plot is None else figure_path(args.plot, "--plot")
    base = ModularTrainingConfig(
        modulus=args.modulus, d_embed=args.embed, n_hidden=args.hidden, steps=args.steps,
        eval_every=args.log_every,
    )  # fmt: skip
    n_models = args.grid * args.grid * args.seeds
    check_memory("--grid", args.grid, batch_memory_bytes(base, n_models), what="the batched models")
    diagrams = []
    for x, y, defaults in _grids(args):
        bar = progress(range(0, args.steps + 1, args.log_every), desc=f"{x[0]} x {y[0]}",
                       enabled=not args.no_progress)  # fmt: skip
        ticks = iter(bar)
        diagram = phase_diagram(
            base, x, y, n_seeds=args.seeds, threshold=args.threshold, delay=args.delay,
            defaults=defaults, progress=lambda step, ticks=ticks: next(ticks, None),
        )  # fmt: skip
        for _ in ticks:
            pass
        diagrams.append(diagram.to_json() | {"defaults": to_jsonable(defaults)})
    payload = {"config": to_jsonable(base), "diagrams": diagrams}
    atomic_write_text(out, json.dumps(payload, indent=1, allow_nan=False))
    rows = []
    for diagram in diagrams:
        phase = np.asarray(diagram["phase"])
        counts = [int(np.sum(phase == k)) for k in range(len(PHASES))]
        rows.append([f"{diagram['x']['name']} x {diagram['y']['name']}", *counts,
                     round(diagram["cpu_seconds"], 1)])  # fmt: skip
    print_table(rows, header=["diagram", *PHASES, "cpu s"])
    if plot is not None:
        from toyforge.figures._style import save_figure
        from toyforge.figures.grok_phase import phase_diagram_figure

        save_figure(phase_diagram_figure(diagrams), plot, payload["config"])
        print(f"plot: {plot}")
    print(f"results: {out}")
    return 0
