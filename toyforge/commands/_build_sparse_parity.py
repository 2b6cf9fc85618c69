"""``toyforge build sparse-parity``: the k-neuron ReLU MLP that computes the parity of k bits.

Weights 1 on the k relevant bits, 0 on the others, biases −j and an alternating readout
(constructions/sparse_parity.py); the check over the 2^k relevant patterns is a proof of
exactness on all 2^n inputs because the other weights are exactly zero.
"""

from __future__ import annotations

import argparse
from typing import Any

from toyforge.commands._common import float_arg, save_and_report_construction, weights_path


def register(members: Any) -> None:
    """Add the ``sparse-parity`` member to ``toyforge build``."""
    parser = members.add_parser(
        "sparse-parity",
        help="exact ReLU construction for the parity of the first k of n bits",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--bits", type=int, default=30, help="n input bits (default 30)")
    parser.add_argument("--k", type=int, default=3, help="relevant bits (default 3)")
    parser.add_argument("--scale", type=float_arg, default=1.0, help="readout scale (margin)")
    parser.add_argument("--out", required=True, help="weights file (.npz or .safetensors)")
    parser.add_argument("--json", action="store_true", help="print the check as JSON")
    parser.set_defaults(func=run)


def _check(args: argparse.Namespace) -> None:
    from toyforge.core.errors import InvalidParameter

    if not 1 <= args.bits <= 4096:
        raise InvalidParameter("--bits", args.bits, "1 <= --bits <= 4096")
    if not 1 <= args.k <= min(args.bits, 20):
        raise InvalidParameter("--k", args.k, f"1 <= --k <= min(--bits, 20) = {min(args.bits, 20)}")
    if not args.scale > 0:
        raise InvalidParameter("--scale", args.scale, "a positive number")


def run(args: argparse.Namespace) -> int:
    from toyforge.constructions.sparse_parity import (
        parity_construction,
        verify_parity_construction,
    )

    _check(args)
    out = weights_path(args.out)
    model = parity_construction(args.bits, args.k, scale=args.scale)
    check = verify_parity_construction(model, args.k)
    info = {
        "n_bits": check.n_bits,
        "k": check.k,
        "n_hidden": model.n_hidden,
        "patterns_checked": check.n_patterns,
        "accuracy": check.accuracy,
        "margin": check.margin,
        "proof_complete": check.proof_complete,
    }
    save_and_report_construction(model, out, info, args.json)
    return 0
