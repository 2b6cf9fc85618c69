"""``toyforge figure reconstruction-limits``: where a bottleneck stops reconstructing sparse data.

Trains the bottleneck (tied ReLU-output model, hidden size m) and the MLP block (a fixed random
embedding into d dimensions, then an MLP of width ``--mlp-hidden``) over sparsity x hidden size
(m for the bottleneck, d for the MLP block), with uniform and with decaying importance, and draws
the test loss relative to the zero output as heatmaps. The compressed-sensing bounds of spec
docs/memorisation.md#limits-of-reconstruction (m = 2k for any decoder, the ℓ1 threshold m = 2k
ln(n/m), k = n(1 − S)) are drawn over every panel. ``--data`` also writes the grids as JSON.
"""

from __future__ import annotations

import argparse
from typing import Any

from toyforge.commands._common import (
    figure_path,
    float_arg,
    float_list_arg,
    output_path,
    positive_int_list_arg,
    progress,
)


def register(members: Any) -> None:
    """Add ``reconstruction-limits`` to ``toyforge figure``."""
    parser = members.add_parser(
        "reconstruction-limits",
        help="reconstruction loss vs sparsity and hidden size",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--features", type=int, default=40, help="n (default 40)")
    parser.add_argument(
        "--points",
        type=int,
        default=1000,
        help="fixed training set of T points, full batch (default 1000)",
    )
    parser.add_argument(
        "--sparsities",
        type=float_list_arg,
        default=(0.5, 0.7, 0.8, 0.9, 0.95, 0.98),
        help="x axis: values of S",
    )
    parser.add_argument(
        "--sizes",
        type=positive_int_list_arg,
        default=(1, 2, 4, 8, 16, 32),
        help="y axis: bottleneck m and MLP-block embedding d",
    )
    parser.add_argument(
        "--decay",
        type=float_arg,
        default=0.9,
        help="decaying importance I_i = decay^i (default 0.9)",
    )
    parser.add_argument("--mlp-hidden", type=int, default=None, help="MLP-block width (default 2n)")
    parser.add_argument("--steps", type=int, default=1000, help="Adam steps (default 1000)")
    parser.add_argument("--lr", type=float_arg, default=1e-2, help="learning rate (1e-2)")
    parser.add_argument("--test-points", type=int, default=1000, help="test-set size (1000)")
    parser.add_argument("--settings", choices=("both", "tms", "mlp-block"), default="both")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="image file (.png, .pdf, .svg)")
    parser.add_argument("--data", default=None, help="also write the grids to this JSON")
    parser.add_argument(
        "--from-data", default=None, help="redraw from a JSON written by --data instead of training"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _train_panels(args: argparse.Namespace) -> list[tuple[str, Any]]:
    from toyforge.verify.experiments.reconstruction_grids import reconstruction_limit_panels

    settings = 2 if args.settings == "both" else 1
    cells = 2 * settings * len(args.sparsities) * len(args.sizes)
    bar = progress(
        range(cells), total=cells, desc="reconstruction grid", enabled=not args.no_progress
    )
    panels = reconstruction_limit_panels(
        n_features=args.features,
        n_points=args.points,
        sparsities=args.sparsities,
        sizes=args.sizes,
        decay=args.decay,
        mlp_hidden=args.mlp_hidden,
        steps=args.steps,
        lr=args.lr,
        n_test=args.test_points,
        settings=args.settings,
        seed=args.seed,
        progress=lambda done, total: next(bar, None),
    )
    for _ in bar:  # closes the progress bar
        pass
    return panels


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from toyforge.figures._style import save_figure
    from toyforge.figures.memorization import reconstruction_limits_titled
    from toyforge.verify.experiments.reconstruction_grids import (
        load_reconstruction_grids,
        reconstruction_bound_curves,
        save_reconstruction_grids,
    )

    out = figure_path(args.out)
    data_path = None if args.data is None else output_path(args.data, "--data", (".json",))
    if args.from_data is not None:
        panels = load_reconstruction_grids(args.from_data)
    else:
        panels = _train_panels(args)
    first = panels[0][1]
    curves = reconstruction_bound_curves(first.base.n_features, first.x_values)
    figure = reconstruction_limits_titled(panels, curves)
    save_figure(figure, out, {"panels": [grid.base for _, grid in panels], "bounds": curves})
    late = max(
        float(np.nanmax(np.abs(grid.late_improvement)))
        for _, grid in panels
        if grid.late_improvement is not None
    )
    for title, grid in panels:
        print(
            f"{title}: relative test loss {grid.relative_loss.min():.3f}"
            f"-{grid.relative_loss.max():.3f}, accuracy {grid.accuracy.min():.2f}"
            f"-{grid.accuracy.max():.2f}"
        )
    print(f"largest train-loss change over the last quarter of steps: {late:.2g} of the baseline")
    if data_path is not None:
        save_reconstruction_grids(data_path, panels, curves)
        print(f"data: {data_path}")
    print(f"figure: {out}")
    return 0
