"""``toyforge inspect FILE``: the solution structure of a saved ReLU autoencoder.

Feature dimensionalities, the partner graph of strong negative overlaps and the family shares
they imply (docs/solution_families.md#the-structure-reader). A Persian-rug file is read in its
dense form (up to 8192 features).
"""

from __future__ import annotations

import argparse
from typing import Any

from toyforge.commands._common import float_arg, print_json, print_table


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "inspect",
        help="structure of a saved autoencoder: feature dimensionality, partners, families",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("file", help="weight file written by toyforge (.npz or .safetensors)")
    parser.add_argument(
        "--antipodal",
        type=float_arg,
        default=0.7,
        help="a partner is strong when the cosine is below -ANTIPODAL (default 0.7), in (0, 1]",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load, read the structure, print the summary and the family shares."""
    from toyforge.constructions.io import load, read_info
    from toyforge.core.errors import InvalidParameter
    from toyforge.core.validate import check_interval
    from toyforge.verify.evaluate.structure import read_structure

    check_interval("--antipodal", args.antipodal, 0.0, 1.0, low_open=True)
    info = read_info(args.file)
    if info.architecture not in ("relu-autoencoder", "persian-rug"):
        raise InvalidParameter(
            args.file, info.architecture, "a relu-autoencoder or persian-rug weight file"
        )
    model = load(args.file)
    if info.architecture == "persian-rug":
        if model.n_features > 8192:
            raise InvalidParameter(
                args.file, model.n_features, "a Persian rug with at most 8192 features"
            )
        model = model.materialize()
    report = read_structure(model.W_in, model.W_out, antipodal=args.antipodal)
    summary = report.to_dict()
    if args.json:
        print_json({"file": str(args.file), **summary})
        return 0
    print(f"{args.file}: {info.architecture}")
    scalars = [(k, v) for k, v in summary.items() if not isinstance(v, dict)]
    print_table(scalars, header=("quantity", "value"))
    print_table(
        [
            (name, share, report.neuron_shares[name])
            for name, share in sorted(report.feature_shares.items(), key=lambda kv: -kv[1])
        ],
        header=("family", "feature share", "neuron share"),
    )
    return 0
