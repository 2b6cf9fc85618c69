"""``toyforge compare persian-rug``: large-N theory, finite-N theory, the rug, a trained model.

One table at (n_features, ratio, feature_prob): the large-N theory (symmetric optimum at
r_eff), the time-sharing envelope, the linear baseline, the exact finite-N theory at the
construction's own (scale, bias), the construction's matrix-free Monte Carlo loss ± SE and,
with ``--train``, a ReLU autoencoder trained at the same size until it converges (held-out loss
± SE; its row says whether it converged and after how many steps), each with its relative
difference to the large-N theory.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from toyforge.commands._common import float_arg, print_json, print_table, progress


def register(members: Any) -> None:
    """Add the ``persian-rug`` member to ``toyforge compare``."""
    parser = members.add_parser(
        "persian-rug",
        help="theory vs finite-N vs rug vs trained",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--features", type=int, required=True, help="n_features, a power of two")
    parser.add_argument("--ratio", type=float_arg, required=True, help="n_hidden / n_features")
    parser.add_argument(
        "--feature-prob",
        type=float_arg,
        required=True,
        help="probability p that a feature is active",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the rows and training")
    parser.add_argument(
        "--samples", type=int, default=20_000, help="Monte Carlo samples of the rug (default 20000)"
    )
    parser.add_argument(
        "--selection",
        choices=("random", "min-skewness", "first"),
        default="random",
        help="row selection of the rug",
    )
    parser.add_argument(
        "--train", action="store_true", help="also train a ReLU autoencoder of the same size"
    )
    parser.add_argument(
        "--train-steps",
        "--max-steps",
        dest="train_steps",
        type=int,
        default=20_000,
        help="step budget with --train (default 20000; the convergence rule stops earlier)",
    )
    parser.add_argument(
        "--train-lr",
        type=float_arg,
        default=None,
        help="Adam learning rate with --train (default 0.03/sqrt(n))",
    )
    parser.add_argument(
        "--tol", type=float_arg, default=1e-3, help="convergence tolerance (default 1e-3)"
    )
    parser.add_argument(
        "--window", type=int, default=200, help="steps between convergence checks (default 200)"
    )
    parser.add_argument(
        "--no-converge", action="store_true", help="train for the whole budget (no rule)"
    )
    parser.add_argument(
        "--threads", action="store_true", help="run the Monte Carlo on numba's threads"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=run)


def print_comparison(result: Any) -> None:
    """The comparison table (loss, SE, relative difference to the large-N theory)."""
    config = result.config
    print(
        f"Persian rug n_features={config.n_features} n_hidden={result.n_hidden} "
        f"(r_eff={result.ratio_effective:.4g}) feature_prob={config.feature_prob:g} "
        f"seed={config.seed}"
    )
    rows = []
    for label, loss, stderr, relative in result.rows():
        rows.append(
            (
                label,
                f"{loss:.5g}",
                "" if stderr is None else f"{stderr:.2g}",
                "" if relative is None else f"{relative:+.2%}",
            )
        )
    print_table(rows, header=("model", "loss", "± SE", "vs large-N"))
    print(f"construction − finite-N theory = {result.construction_vs_finite_z:+.2f} SE")


def _check_train_args(args: argparse.Namespace) -> None:
    """The training flags, named as typed (checked before any work)."""
    from toyforge.core.validate import check_int, check_interval

    check_int("--train-steps", args.train_steps, minimum=1)
    if args.train_lr is not None:
        check_interval("--train-lr", args.train_lr, 0.0, math.inf, low_open=True)
    check_interval("--tol", args.tol, 0.0, 1.0, high_open=True)
    check_int("--window", args.window, minimum=1)


def run(args: argparse.Namespace) -> int:
    """Run the comparison and print it."""
    from toyforge.verify.compare.persian_rug import compare_persian_rug, comparison_summary

    _check_train_args(args)

    result = compare_persian_rug(
        args.features,
        args.ratio,
        args.feature_prob,
        seed=args.seed,
        n_samples=args.samples,
        selection=args.selection,
        train=args.train,
        train_steps=args.train_steps,
        train_lr=args.train_lr,
        train_converge=not args.no_converge,
        train_tol=args.tol,
        train_window=args.window,
        parallel=args.threads,
        progress=lambda it, total: progress(it, total=total, desc="rug Monte Carlo"),
    )
    if args.json:
        print_json(comparison_summary(result))
    else:
        print_comparison(result)
    return 0
