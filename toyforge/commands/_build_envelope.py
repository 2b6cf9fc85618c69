"""``toyforge build envelope``: the solution-family mixture the envelope predicts, as weights.

Writes an ordinary ``relu-autoencoder`` file (dense ``W_in``, ``W_out``, ``b``; any numpy user
can run ``y = ReLU(W_out W_in x + b)``) whose features are grouped by family in the order
printed, with the components and the predicted loss in the file's metadata. Dense only:
``--features`` up to 8192 (docs/solution_families.md#building-the-envelope).
"""

from __future__ import annotations

import argparse
from typing import Any

from toyforge.commands._common import float_arg, print_json, print_table, weights_path


def register(members: Any) -> None:
    """Add the ``envelope`` member to ``toyforge build``."""
    parser = members.add_parser(
        "envelope",
        help="the envelope's mixture of solution families (dense relu-autoencoder)",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--features", type=int, required=True, help="n_features, 2 to 8192")
    parser.add_argument(
        "--ratio", type=float_arg, required=True, help="n_hidden / n_features in (0, 1]"
    )
    parser.add_argument(
        "--feature-prob", type=float_arg, required=True, help="probability p in (0, 1]"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the rug frames")
    parser.add_argument("--out", required=True, help="weights file (.npz or .safetensors)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate, build, save, print the components."""
    from toyforge.constructions.families import build_envelope
    from toyforge.constructions.io import save

    target = weights_path(args.out)
    built = build_envelope(args.features, args.ratio, args.feature_prob, args.seed)
    components = [c.to_dict() for c in built.components]
    summary = {
        "file": str(target),
        "n_features": built.model.n_features,
        "n_hidden": built.model.n_hidden,
        "feature_prob": args.feature_prob,
        "envelope_loss": built.predicted_loss,
        "planned_loss": built.planned_loss,
        "components": components,
    }
    save(built.model, target, metadata={"construction": "envelope", **summary})
    if args.json:
        print_json(summary)
        return 0
    rows = [(k, v) for k, v in summary.items() if k != "components"]
    print_table(rows, header=("quantity", "value"))
    print_table(
        [(c["family"], c["n_features"], c["n_hidden"], c["scale"], c["bias"]) for c in components],
        header=("family", "features", "neurons", "scale", "bias"),
    )
    return 0
