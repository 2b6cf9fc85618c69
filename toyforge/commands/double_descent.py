"""``toyforge double-descent``: the memorising → generalising sweep of the m = 2 bottleneck."""

from __future__ import annotations

import argparse
from typing import Any

from toyforge.commands._common import (
    figure_path,
    float_arg,
    output_path,
    positive_int_list_arg,
    print_table,
    progress,
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "double-descent",
        help="data double descent of the m=2 ReLU-output model (Henighan et al. 2023)",
        description="Train the tied ReLU-output model with a 2-d bottleneck on fixed datasets "
        "of T unit-norm sparse points (full-batch AdamW, warm-up + cosine) and "
        "record train/test loss, weight norm and dimensionalities per T. "
        "Resumable: sizes already in --out are not recomputed.",
    )
    parser.add_argument("--features", type=int, default=1000, help="n (default 1000)")
    parser.add_argument("--hidden", type=int, default=2, help="m; only 2 (default 2)")
    parser.add_argument("--sparsity", type=float_arg, default=0.99, help="S (default 0.99)")
    parser.add_argument(
        "--sizes",
        type=positive_int_list_arg,
        default=None,
        help="comma-separated T values (default: the 21-point grid 3..5000)",
    )
    parser.add_argument("--seeds", type=int, default=3, help="dataset seeds per T (default 3)")
    parser.add_argument(
        "--restarts",
        type=int,
        default=3,
        help="initialisations per dataset, lowest train loss kept (default 3, "
        "the paper's remedy for fragile m=2 runs; 1 = the runs of "
        "docs/memorisation.md#data-double-descent)",
    )
    parser.add_argument("--steps", type=int, default=50_000, help="AdamW steps (default 50000)")
    parser.add_argument("--warmup", type=int, default=2_500, help="warm-up steps (default 2500)")
    parser.add_argument("--lr", type=float_arg, default=1e-3, help="peak lr (default 1e-3)")
    parser.add_argument(
        "--weight-decay",
        type=float_arg,
        default=1e-2,
        help="decoupled weight decay on W and b (default 1e-2)",
    )
    parser.add_argument(
        "--test-points", type=int, default=2000, help="test-set size (default 2000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    parser.add_argument("--out", required=True, help="result JSON (rewritten after each size)")
    parser.add_argument("--plot", default=None, help="also draw the curves to this PNG")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from toyforge.verify.experiments.double_descent import (
        DEFAULT_SIZES,
        DoubleDescentConfig,
        run_double_descent,
    )

    out = output_path(args.out, "--out", (".json",))
    plot = None if args.plot is None else figure_path(args.plot, "--plot")
    config = DoubleDescentConfig(
        n_features=args.features,
        n_hidden=args.hidden,
        sparsity=args.sparsity,
        sizes=args.sizes or DEFAULT_SIZES,
        seeds=args.seeds,
        restarts=args.restarts,
        steps=args.steps,
        warmup_steps=args.warmup,
        lr=args.lr,
        weight_decay=args.weight_decay,
        n_test=args.test_points,
        base_seed=args.seed,
    )
    ticks: dict[str, Any] = {}

    def advance(done: int, total: int) -> None:
        """Step the bar (made on the first run, when the number of runs to compute is known)."""
        if "bar" not in ticks:
            steps = range(total + 1)  # tqdm counts an item when the next one is asked for
            ticks["bar"] = progress(steps, total=total, desc="double descent", enabled=show)
            next(ticks["bar"], None)
        next(ticks["bar"], None)
        if done == total:
            for _ in ticks["bar"]:  # exhausting the bar closes it
                pass

    show = not args.no_progress
    result = run_double_descent(config, out=out, progress=advance)
    rows = [
        [
            row["n_points"],
            row["seeds"],
            row["train_loss"],
            row["test_loss"],
            row["weight_norm"],
            int(row["n_represented"]),
            row["max_data_dim_max"],
        ]
        for row in result.summary()
        if row["n_points"] in config.sizes
    ]
    print_table(
        rows, header=["T", "seeds", "train", "test (median)", "|W|_F", "feat>0.5", "max D*"]
    )
    if plot is not None:
        from toyforge.figures._style import save_figure
        from toyforge.figures.memorization import double_descent_figure

        save_figure(double_descent_figure(result), plot, config)
        print(f"plot: {plot}")
    print(f"results: {out}")
    return 0
