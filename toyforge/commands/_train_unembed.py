"""``toyforge train unembed``: the final layer, hidden size 2, cross-entropy over n classes.

Hobbhahn's final-layer setting (docs/memorisation.md#three-toy-settings): unit-norm sparse x → 2-d
residual (no activation) → logits over the n features; hard labels (argmax feature) or soft labels
(x / Σx). Compare with the circle dictionary ``toyforge.constructions.dictionary``
(docs/memorisation.md#circle-unembedding).
"""

from __future__ import annotations

import argparse
from typing import Any

from toyforge.commands._train_tms import add_common_arguments, run_setting, setting_config


def register(members: Any) -> None:
    """Add the ``unembed`` member to ``toyforge train``."""
    parser = members.add_parser(
        "unembed",
        help="final layer: hidden size 2, cross-entropy (hard or soft labels)",
        description=__doc__.splitlines()[0],
    )
    add_common_arguments(parser, hidden=False)
    parser.add_argument("--labels", choices=("hard", "soft"), default="hard")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return run_setting(
        args, setting_config(args, "unembed", labels=args.labels), f"unembed ({args.labels} labels)"
    )
