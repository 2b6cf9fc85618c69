"""``toyforge scan``: the large-N prediction on a (ratio x feature_prob) grid, as a CSV."""

from __future__ import annotations

import argparse
import csv
import io
from typing import Any

from toyforge.commands._common import figure_path, grid_arg, grid_values, output_path


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "scan",
        help="large-N predictions on a (ratio, p) grid -> tidy CSV (+ phase diagram)",
        description="Evaluate toyforge.theory.predict_grid on RATIOS x FEATURE_PROBS and write "
        "one CSV row per point; optionally draw the phase diagram.",
    )
    parser.add_argument(
        "--ratios",
        type=grid_arg,
        required=True,
        metavar="A:B:K",
        help="K ratios from A to B inclusive, each in (0, 1]",
    )
    parser.add_argument(
        "--feature-probs",
        type=grid_arg,
        required=True,
        metavar="A:B:K",
        help="K feature probabilities from A to B inclusive, each in (0, 1]",
    )
    parser.add_argument("--log", action="store_true", help="geometric instead of linear spacing")
    parser.add_argument(
        "--no-bounds",
        action="store_true",
        help="skip the MMSE and JumpReLU bounds (about 3x faster; those columns are then empty)",
    )
    parser.add_argument("--out", required=True, help="CSV file to write (atomically)")
    parser.add_argument(
        "--plot", default=None, metavar="FILE.png", help="also draw the phase diagram to this file"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from toyforge.core.fileio import atomic_write_text
    from toyforge.theory import predict_grid

    out = output_path(args.out, "--out", (".csv",))
    plot = figure_path(args.plot, "--plot") if args.plot else None
    ratios = grid_values(args.ratios, args.log, "--ratios")
    feature_probs = grid_values(args.feature_probs, args.log, "--feature-probs")
    grid = predict_grid(ratios, feature_probs, bounds=not args.no_bounds)
    rows = grid.to_rows()
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                key: (repr(value) if isinstance(value, float) else value)
                for key, value in row.items()
            }
        )
    atomic_write_text(out, buffer.getvalue())
    print(f"wrote {len(rows)} rows to {out}")
    if plot is not None:
        from toyforge.figures._style import save_figure
        from toyforge.figures.phase import phase_diagram

        figure = phase_diagram(grid, log_axes=args.log)
        save_figure(
            figure,
            plot,
            {
                "command": "scan",
                "ratios": list(args.ratios),
                "feature_probs": list(args.feature_probs),
                "log": args.log,
            },
        )
        print(f"wrote phase diagram to {plot}")
    return 0
