"""``toyforge build persian-rug``: the Persian-rug autoencoder from Walsh–Hadamard rows.

Saves the matrix-free form: arrays ``rows`` (the Hadamard row set S, int64), ``scale`` and
``bias`` (0-d float64) plus the config (``n_features``, ``feature_prob``, ``seed``,
``selection``). The forward pass is ``y = ReLU(scale · W x + bias)`` with
``W = H_Sᵀ H_S / n_hidden``; scale and bias come exactly from the large-N theory. A size that is
not a power of two is refused with the nearest valid sizes (exit 2).
"""

from __future__ import annotations

import argparse
from typing import Any

from toyforge.commands._common import float_arg, print_json, print_table, weights_path


def register(members: Any) -> None:
    """Add the ``persian-rug`` member to ``toyforge build``."""
    parser = members.add_parser(
        "persian-rug",
        help="Persian-rug autoencoder (Hadamard rows)",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument(
        "--features",
        type=int,
        required=True,
        help="n_features, a power of two (e.g. 1024, up to 2^30)",
    )
    parser.add_argument(
        "--ratio", type=float_arg, required=True, help="n_hidden / n_features in (0, 1]"
    )
    parser.add_argument(
        "--feature-prob",
        type=float_arg,
        required=True,
        help="probability p that a feature is active (sets scale and bias)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the row selection")
    parser.add_argument(
        "--selection",
        choices=("random", "min-skewness", "first"),
        default="random",
        help="row choice: uniform (default), lowest interference skewness "
        "of 16 draws, or the first rows (a failure case)",
    )
    parser.add_argument("--out", required=True, help="weights file (.npz or .safetensors)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the rug, save it, print its parameters."""
    from toyforge.constructions.io import save
    from toyforge.constructions.persian_rug import persian_rug

    target = weights_path(args.out)
    model = persian_rug(
        args.features, args.ratio, args.feature_prob, args.seed, selection=args.selection
    )
    save(model, target)
    summary = {
        "file": str(target),
        "n_features": model.n_features,
        "n_hidden": model.n_hidden,
        "ratio_effective": model.ratio,
        "feature_prob": args.feature_prob,
        "scale": model.scale,
        "bias": model.bias,
        "row_zero_in_S": model.contains_row_zero,
        "selection": model.selection,
        "seed": model.seed,
        "dense_bytes": model.dense_bytes(),
    }
    if args.json:
        print_json(summary)
    else:
        print_table(list(summary.items()), header=("quantity", "value"))
    return 0
