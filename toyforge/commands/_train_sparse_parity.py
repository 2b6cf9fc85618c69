"""``toyforge train sparse-parity``: PAIR's 1s-and-0s task, with L1 or L2 weight decay or both.

Defaults: PAIR's sweep (n = 30 bits, parity of the first k = 3, 1200 fixed training strings,
5000 test strings, Adam lr 3e-3, β = (0.99, 0.98), full batch) with 16 hidden ReLU neurons,
3000 steps, L2 decay 0.1 and L1 decay 1e-3 (Adam normalises the L1 term, so L1 needs a much
smaller strength: 3e-3 already zeroes the network at seed 0). ``--decay both`` trains the same
initialisation and data with L2 (AdamW) and with L1 (PAIR's l1_regularizer before Adam) and
prints them side by side: test accuracy, the step test accuracy reached 99 %, the share of
first-layer weight on the relevant bits and the number of neurons that carry the solution.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from toyforge.commands._common import float_arg, print_json, print_table, weights_path


def register(members: Any) -> None:
    """Add the ``sparse-parity`` member to ``toyforge train``."""
    parser = members.add_parser(
        "sparse-parity",
        help="PAIR's 1s-and-0s task (sparse parity), L1 vs L2 weight decay",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--bits", type=int, default=30, help="n input bits (default 30)")
    parser.add_argument("--k", type=int, default=3, help="relevant bits (default 3)")
    parser.add_argument("--train-size", type=int, default=1200, help="training strings")
    parser.add_argument("--test-size", type=int, default=5000, help="test strings")
    parser.add_argument("--hidden", type=int, default=16, help="hidden neurons (default 16)")
    parser.add_argument("--lr", type=float_arg, default=3e-3, help="Adam learning rate")
    parser.add_argument("--weight-decay", type=float_arg, default=0.1, help="L2 strength (0.1)")
    parser.add_argument("--l1-decay", type=float_arg, default=1e-3, help="L1 strength (1e-3)")
    parser.add_argument("--decay", choices=("l2", "l1", "both"), default="both")
    parser.add_argument("--steps", type=int, default=3000, help="full-batch steps (default 3000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of data and init")
    parser.add_argument(
        "--out", required=True, help="weights file (.npz/.safetensors); 'both' adds .l1/.l2"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=run)


def _check(args: argparse.Namespace) -> None:
    from toyforge.core.budget import check_memory
    from toyforge.core.errors import InvalidParameter

    for flag, value, low in (
        ("--bits", args.bits, 1), ("--k", args.k, 1), ("--train-size", args.train_size, 1),
        ("--test-size", args.test_size, 1), ("--hidden", args.hidden, 1),
        ("--steps", args.steps, 1), ("--seed", args.seed, 0),
    ):  # fmt: skip
        if value < low:
            raise InvalidParameter(flag, value, f"{flag} >= {low}")
    if args.k > args.bits:
        raise InvalidParameter("--k", args.k, f"--k <= --bits = {args.bits}")
    if not args.lr > 0:
        raise InvalidParameter("--lr", args.lr, "a positive learning rate")
    for flag, value in (("--weight-decay", args.weight_decay), ("--l1-decay", args.l1_decay)):
        if not value >= 0:
            raise InvalidParameter(flag, value, f"{flag} >= 0")
    rows = args.train_size + args.test_size
    n_bytes = 8.0 * (rows * (args.bits + 3 * args.hidden) + 4 * args.hidden * (args.bits + 2))
    check_memory("--hidden", args.hidden, n_bytes, what="the data and activations")


def _paths(out: Path, decays: tuple[str, ...]) -> dict[str, Path]:
    if len(decays) == 1:
        return {decays[0]: out}
    return {decay: out.with_name(f"{out.stem}.{decay}{out.suffix}") for decay in decays}


def summary(result: Any) -> dict[str, Any]:
    """One row of the comparison."""
    import numpy as np

    from toyforge.verify.experiments.sparse_parity import active_neurons

    model = result.model
    return {
        "decay": result.config.decay,
        "weight_decay": result.config.weight_decay,
        "train_accuracy": result.train_accuracy,
        "test_accuracy": result.test_accuracy,
        "generalize_step": result.generalize_step,
        "relevant_weight_share": result.relevant_weight_share,
        "active_neurons": active_neurons(model, result.config.k),
        "first_layer_l1": float(np.abs(model.W1).sum()),
        "wall_seconds": result.wall_seconds,
    }


def run(args: argparse.Namespace) -> int:
    from toyforge.constructions.io import save
    from toyforge.verify.experiments.sparse_parity import ParityTrainingConfig, train_sparse_parity

    _check(args)
    out = weights_path(args.out)
    decays = ("l2", "l1") if args.decay == "both" else (args.decay,)
    paths = _paths(out, decays)
    rows = []
    for decay in decays:
        config = ParityTrainingConfig(
            n_bits=args.bits, k=args.k, n_train=args.train_size, n_test=args.test_size,
            n_hidden=args.hidden, lr=args.lr, decay=decay,
            weight_decay=args.l1_decay if decay == "l1" else args.weight_decay,
            steps=args.steps, seed=args.seed,
        )  # fmt: skip
        result = train_sparse_parity(config)
        info = summary(result)
        save(result.model, paths[decay], metadata={"training": info, "config": config})
        rows.append(info)
    if args.json:
        print_json(rows if len(rows) > 1 else rows[0])
    else:
        keys = list(rows[0])
        print_table([[key, *(row[key] for row in rows)] for key in keys[1:]],
                    header=["quantity", *(row["decay"] for row in rows)])  # fmt: skip
        print("wrote " + ", ".join(str(path) for path in paths.values()))
    return 0
