"""``toyforge demo``: predict → build the rug → evaluate it → train → compare → draw."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from toyforge.commands._common import float_arg, planned_folder, print_table, progress


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the main job end to end (a few minutes on 2 cores)",
        description="Predict the loss of a Persian-rug autoencoder, build it, evaluate it by "
        "Monte Carlo, train an ordinary model of the same size, compare all of "
        "them with the finite-N theory and draw the rug and the loss curves.",
    )
    parser.add_argument("--out", default="demo-output", help="output folder (created)")
    parser.add_argument(
        "--features",
        type=int,
        default=None,
        help="n_features, a power of two (default 2048; 1024 with --quick)",
    )
    parser.add_argument("--ratio", type=float_arg, default=0.25, help="n_hidden / n_features")
    parser.add_argument(
        "--feature-prob", type=float_arg, default=0.05, help="probability that a feature is active"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--quick", action="store_true", help="smaller sizes and fewer samples (about half a minute)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from toyforge.demo import QUICK_DEMO, DemoConfig, run_demo

    folder = planned_folder(args.out)  # run_demo creates it after every check
    base = QUICK_DEMO if args.quick else DemoConfig()
    changes: dict[str, Any] = {
        "ratio": args.ratio,
        "feature_prob": args.feature_prob,
        "seed": args.seed,
    }
    if args.features is not None:
        changes["n_features"] = args.features
    config = dataclasses.replace(base, **changes)
    print(
        f"toyforge demo: n_features={config.n_features} ratio={config.ratio:g} "
        f"feature_prob={config.feature_prob:g} seed={config.seed} -> {folder}/"
    )
    result = run_demo(
        folder,
        config,
        on_step=_report_step,
        progress=None
        if args.no_progress
        else lambda iterable, total: progress(iterable, total=total, desc="rug Monte Carlo"),
    )
    _print_summary(result)
    return 0


def _report_step(name: str, result: Any, seconds: float) -> None:
    line = {
        "predict": lambda: (
            f"large-N loss {result.loss:.5g} ({result.regime}); symmetric "
            f"optimum scale {result.scale:.4g}, bias {result.bias:.4g}"
        ),
        "build": lambda: (
            f"Persian rug: {result.n_hidden} Walsh-Hadamard rows of "
            f"{result.n_features}, scale {result.scale:.4g}, "
            f"bias {result.bias:.4g}"
        ),
        "evaluate": lambda: (
            f"rug Monte Carlo loss {result.loss:.5g} ± {result.stderr:.2g} "
            f"({result.n_samples} samples)"
        ),
        "train": lambda: (
            f"trained model: held-out loss {result.loss:.5g} ± "
            f"{result.stderr:.2g} after {result.steps} Adam steps"
        ),
        "compare": lambda: "theory, finite-N theory, construction and trained model compared",
        "scale-up": lambda: (
            f"Persian rug at n_features={result.n_features} (matrix-free): "
            f"loss {result.loss:.5g} ± {result.stderr:.2g} "
            f"({result.n_samples} samples)"
        ),
        "figures": lambda: "figures drawn",
    }[name]()
    print(f"[{name:>8} {seconds:6.1f} s] {line}")


def _print_summary(result: Any) -> None:
    from toyforge.commands._compare_persian_rug import print_comparison
    from toyforge.theory import predict

    print()
    print_comparison(result.comparison)
    large = result.large_evaluation
    theory = predict(large.n_hidden / large.n_features, large.feature_prob).symmetric_loss
    print(
        f"at n_features={large.n_features}: construction {large.loss:.5g} ± {large.stderr:.2g}"
        f" = large-N theory {large.loss / theory - 1:+.2%} (the gap closes as p·n grows)"
    )
    print()
    print_table(
        [(name, str(path)) for name, path in result.files.items()], header=("output", "file")
    )
