"""``toyforge figure loss-curves`` and ``toyforge figure convergence`` (Persian rug).

* ``loss-curves``: loss against the ratio (``--axis ratio``) or the feature probability
  (``--axis feature-prob``), the other held at ``--fixed``: large-N theory (symmetric branch
  and time-sharing envelope), linear baseline, rug Monte Carlo points ± SE at ``--points``,
  the finite-N theory at those rugs and, with ``--train-steps``, trained models.
* ``convergence``: |rug / large-N theory − 1| against p·n, log-log, over ``--sizes``.
"""

from __future__ import annotations

import argparse
from typing import Any

from toyforge.commands._common import figure_path, float_arg, float_list_arg, int_list_arg, progress


def register(members: Any) -> None:
    """Add ``loss-curves`` and ``convergence`` to ``toyforge figure``."""
    curves = members.add_parser(
        "loss-curves",
        help="rug loss vs ratio or feature probability",
        description=__doc__.splitlines()[0],
    )
    curves.add_argument("--axis", choices=("ratio", "feature-prob"), required=True)
    curves.add_argument(
        "--fixed", type=float_arg, required=True, help="value of the other parameter"
    )
    curves.add_argument(
        "--points",
        type=float_list_arg,
        required=True,
        help="comma-separated axis values of the rug points",
    )
    curves.add_argument("--features", type=int, default=4096, help="n_features (power of 2)")
    curves.add_argument("--samples", type=int, default=5000, help="MC samples per rug")
    curves.add_argument(
        "--train-steps",
        type=int,
        default=0,
        help="train a model at each point with this many steps (0: none)",
    )
    curves.add_argument("--seed", type=int, default=0)
    curves.add_argument("--out", required=True, help="image file (.png, .pdf, .svg)")
    curves.set_defaults(func=run_curves)
    convergence = members.add_parser(
        "convergence",
        help="rug vs theory gap against p·n",
        description="|rug / large-N theory − 1| against p·n",
    )
    convergence.add_argument("--ratio", type=float_arg, required=True)
    convergence.add_argument("--feature-prob", type=float_arg, required=True)
    convergence.add_argument(
        "--sizes", type=int_list_arg, required=True, help="comma-separated n_features (powers of 2)"
    )
    convergence.add_argument("--samples", type=int, default=20_000, help="MC samples per size")
    convergence.add_argument("--seed", type=int, default=0)
    convergence.add_argument("--out", required=True, help="image file (.png, .pdf, .svg)")
    convergence.set_defaults(func=run_convergence)


def run_curves(args: argparse.Namespace) -> int:
    """Compute the curve data and draw it."""
    from toyforge.figures._style import save_figure
    from toyforge.figures.rug import loss_curves_figure
    from toyforge.verify.compare.rug_curves import loss_curves

    out = figure_path(args.out)
    axis = args.axis.replace("-", "_")
    data = loss_curves(
        axis,
        args.fixed,
        args.points,
        n_features=args.features,
        n_samples=args.samples,
        seed=args.seed,
        train_steps=args.train_steps,
        progress=lambda it, total: progress(it, total=total, desc="points"),
    )
    save_figure(
        loss_curves_figure(data),
        out,
        {
            "figure": "loss-curves",
            "axis": axis,
            "fixed": args.fixed,
            "points": list(args.points),
            "n_features": args.features,
            "samples": args.samples,
            "train_steps": args.train_steps,
            "seed": args.seed,
        },
    )
    print(f"wrote {out}")
    return 0


def run_convergence(args: argparse.Namespace) -> int:
    """Measure the gap at each size and draw it."""
    from toyforge.figures._style import save_figure
    from toyforge.figures.rug import convergence_figure
    from toyforge.verify.compare.rug_curves import convergence_study

    out = figure_path(args.out)
    study = convergence_study(
        args.ratio,
        args.feature_prob,
        args.sizes,
        n_samples=args.samples,
        seed=args.seed,
        progress=lambda it, total: progress(it, total=total, desc="sizes"),
    )
    save_figure(
        convergence_figure(study),
        out,
        {
            "figure": "convergence",
            "ratio": args.ratio,
            "feature_prob": args.feature_prob,
            "sizes": list(args.sizes),
            "samples": args.samples,
            "seed": args.seed,
        },
    )
    print(f"wrote {out}")
    return 0
