"""``toyforge predict``: the large-N loss at one (ratio, feature_prob)."""

from __future__ import annotations

import argparse
from typing import Any

from toyforge.commands._common import float_arg, print_json, print_table


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="large-N loss at (ratio, p): symmetric theory and the solution-family envelope",
        description="Large-N theory (Persian rug): loss, regime, optimal scale/bias, baselines.",
    )
    parser.add_argument(
        "--ratio",
        type=float_arg,
        required=True,
        help="n_hidden / n_features, in [1e-12, 1] (below, the loss is p/3 - p^2/4)",
    )
    parser.add_argument(
        "--feature-prob",
        type=float_arg,
        required=True,
        help="probability that a feature is on, in (0, 1]",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from toyforge.theory import predict

    prediction = predict(args.ratio, args.feature_prob)
    if args.json:
        print_json(prediction.to_dict())
        return 0
    rows = [(name, value) for name, value in prediction.to_dict().items() if name != "structure"]
    print_table(rows, header=("quantity", "value"))
    print()
    print("envelope structure (docs/solution_families.md):")
    print_table(
        [
            (c.family, c.feature_share, c.neuron_share, c.dims_per_feature, c.scale, c.bias)
            for c in prediction.structure
        ],
        header=("family", "feature share", "neuron share", "dims/feature", "scale", "bias"),
    )
    return 0
