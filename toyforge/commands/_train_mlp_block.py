"""``toyforge train mlp-block``: fixed random embedding, then an MLP with two biases (MSE).

Hobbhahn's MLP-block setting (docs/memorisation.md#three-toy-settings): x (n sparse features) is
embedded by a fixed Gaussian E (d x n) and passed through ReLU(W1 E x + b1) → W2 h + b2. Targets:
``reconstruct-x`` (x), ``reconstruct-embedded`` (X' = E x) or ``reprojector`` (EᵀE x).
"""

from __future__ import annotations

import argparse
from typing import Any

from toyforge.commands._common import float_arg
from toyforge.commands._train_tms import add_common_arguments, run_setting, setting_config


def register(members: Any) -> None:
    """Add the ``mlp-block`` member to ``toyforge train``."""
    parser = members.add_parser(
        "mlp-block",
        help="MLP block on a fixed random embedding (reconstruct X / X' / re-projector)",
        description=__doc__.splitlines()[0],
    )
    add_common_arguments(parser)
    parser.add_argument(
        "--embed-dim", type=int, required=True, help="d, width of the fixed Gaussian embedding"
    )
    parser.add_argument(
        "--variant",
        default="reconstruct-x",
        choices=("reconstruct-x", "reconstruct-embedded", "reprojector"),
    )
    parser.add_argument(
        "--importance",
        type=float_arg,
        default=1.0,
        help="importance decay: I_i = decay^i (default 1, uniform)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = setting_config(
        args,
        "mlp-block",
        embed_dim=args.embed_dim,
        variant=args.variant,
        importance_decay=args.importance,
    )
    return run_setting(args, config, f"mlp-block ({args.variant})")
