"""``toyforge features sample | tms | width``: draw non-identical features, train on them.

* ``sample``: draw a batch from ``--feature-probs``, ``--magnitudes``, ``--pairs`` and
  ``--exclusive`` and compare its firing statistics with the law (optionally save it);
* ``tms``: the TMS importance experiment (``--importance geometric:0.9``) over a sparsity sweep,
  with its JSON and the norm-bar and dimensionality figures;
* ``width``: loss against hidden width with a power-law law of firing rates, trained and from
  the class theory, with its JSON and the log-log figure.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from toyforge.commands._common import (
    float_arg,
    float_list_arg,
    output_folder,
    output_path,
    planned_folder,
    positive_int_list_arg,
    print_json,
    print_table,
)
from toyforge.commands._feature_args import feature_distribution
from toyforge.core.budget import check_memory
from toyforge.core.errors import InvalidParameter

CONFIG_FLAGS = {
    "correlation": "--correlations",
    "pair correlation": "--correlations",
    "feature_prob": "--feature-prob",
    "n_features": "--features",
    "n_hidden": "--hidden",
    "feature_probs": "--feature-probs",
    "importance_decay": "--importance",
    "n_bins": "--bins",
    "widths": "--widths",
    "restarts": "--restarts",
    "steps": "--steps",
    "lr": "--lr",
    "seed": "--seed",
    "init": "--init",
}


def _config(cls: Any, **kwargs: Any) -> Any:
    """Build a config, renaming a refused field to the flag the user typed."""
    try:
        return cls(**kwargs)
    except InvalidParameter as error:
        flag = CONFIG_FLAGS.get(error.name, CONFIG_FLAGS.get(error.name.split(" ")[0], error.name))
        raise InvalidParameter(flag, error.value, error.allowed) from error


def register(members: Any) -> None:
    """Add ``sample``, ``tms`` and ``width`` to ``toyforge features``."""
    head = __doc__.splitlines()[0]
    sample = members.add_parser("sample", help="draw a batch and check its law", description=head)
    sample.add_argument("--features", type=int, required=True, help="number of features n")
    sample.add_argument("--feature-probs", required=True, help="law, e.g. zipf:1.2:0.4:5e-4")
    sample.add_argument("--importance", default="constant:1", help="law, e.g. geometric:0.9")
    sample.add_argument(
        "--magnitudes", default="uniform", help="uniform, constant, exponential:MEAN"
    )
    sample.add_argument("--pairs", default=None, help="correlated pairs I:J:RHO,...")
    sample.add_argument("--exclusive", default=None, help="exclusive groups like 0:1:2,5:6")
    sample.add_argument("--batch", type=int, default=1024, help="samples (1024)")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--out", default=None, help="save the CSR batch (.npz)")
    sample.add_argument("--json", action="store_true", help="print JSON")
    sample.set_defaults(func=run_sample)
    tms = members.add_parser("tms", help="TMS importance sweep (trains)", description=head)
    tms.add_argument("--features", type=int, default=20)
    tms.add_argument("--hidden", type=int, default=5)
    tms.add_argument("--importance", default="geometric:0.9", help="geometric:G (I_i = G^i)")
    tms.add_argument(
        "--feature-probs",
        type=float_list_arg,
        default=(1.0, 0.3, 0.1, 0.03, 0.01),
        help="1 - S values, comma separated",
    )
    tms.add_argument("--steps", type=int, default=3000)
    tms.add_argument("--restarts", type=int, default=2, help="seeds per point; lowest loss kept")
    tms.add_argument("--seed", type=int, default=0)
    tms.add_argument("--out", required=True, help="folder for tms.json and the figures")
    tms.set_defaults(func=run_tms)
    width = members.add_parser("width", help="loss vs width, trained and theory", description=head)
    width.add_argument("--features", type=int, default=512)
    width.add_argument("--feature-probs", default="zipf:1.2:0.4:5e-4", help="law of firing rates")
    width.add_argument("--widths", type=positive_int_list_arg, default=(8, 16, 32, 64, 128))
    width.add_argument("--steps", type=int, default=3000)
    width.add_argument("--lr", type=float_arg, default=3e-3)
    width.add_argument("--bins", type=int, default=64)
    width.add_argument("--seed", type=int, default=0)
    width.add_argument("--init", choices=("aligned", "torch", "xavier_normal"), default="aligned",
                       help="initial weights (docs/training.md#silent-features)")  # fmt: skip
    width.add_argument("--out", required=True, help="folder for width.json and the figure")
    width.set_defaults(func=run_width)
    pairs = members.add_parser(
        "pairs", help="geometry of correlated pairs (trains)", description=head
    )
    pairs.add_argument("--feature-prob", type=float_arg, default=0.25, help="p of every feature")
    pairs.add_argument(
        "--correlations",
        default="0.8,-0.3333333333333333",
        help="pair correlations, one model each (comma separated)",
    )
    pairs.add_argument("--steps", type=int, default=2000)
    pairs.add_argument("--restarts", type=int, default=3)
    pairs.add_argument("--seed", type=int, default=0)
    pairs.add_argument("--out", required=True, help="folder for pairs.json and the figure")
    pairs.set_defaults(func=run_pairs)


def _distribution(args: argparse.Namespace) -> Any:
    return feature_distribution(
        args.features, args.feature_probs, args.importance, args.magnitudes, args.pairs,
        args.exclusive,
    )  # fmt: skip


def run_sample(args: argparse.Namespace) -> int:
    """Draw one batch; print observed and expected activity."""
    import numpy as np

    target = output_path(args.out, "--out", (".npz",)) if args.out else None
    if args.batch < 1:
        raise InvalidParameter("--batch", args.batch, "an integer >= 1")
    if args.seed < 0:
        raise InvalidParameter("--seed", args.seed, "an integer >= 0")
    dist = _distribution(args)
    expected = float(dist.feature_probs.sum())
    check_memory("--batch", args.batch, 48.0 * args.batch * (expected + 1), what="the batch")
    batch = dist.sample(args.seed, args.batch)
    counts = np.bincount(batch.indices, minlength=dist.n_features)
    p = dist.feature_probs
    z = (counts - args.batch * p) / np.sqrt(args.batch * p * (1 - p) + 1e-300)
    summary = {
        "samples": args.batch,
        "nnz": batch.nnz,
        "active_per_sample": batch.nnz / args.batch,
        "expected_active_per_sample": expected,
        "max_abs_rate_z": float(np.max(np.abs(z[p < 1]))) if np.any(p < 1) else 0.0,
        "mean_value": float(batch.values.mean()) if batch.nnz else 0.0,
        "expected_mean_value": dist.magnitudes.moments()[0],
    }
    if target is not None:
        from toyforge.core.fileio import atomic_path

        with atomic_path(target, suffix=".npz") as temp:
            with open(temp, "wb") as handle:
                np.savez(
                    handle,
                    indptr=batch.indptr,
                    indices=batch.indices,
                    values=batch.values,
                    feature_probs=p,
                    importance=dist.importance,
                )
        summary["out"] = str(target)
    if args.json:
        print_json(summary)
    else:
        print_table(list(summary.items()), header=("quantity", "value"))
    return 0


def run_tms(args: argparse.Namespace) -> int:
    """Train the sweep, write tms.json and two figures into --out."""
    from toyforge.figures._style import save_figure
    from toyforge.figures.features import dimensionality_figure, tms_importance_figure
    from toyforge.verify.data.laws import parse_law
    from toyforge.verify.experiments.tms_importance import (
        TmsImportanceConfig,
        run_tms_importance,
        sticky_fractions,
    )

    folder = planned_folder(args.out)
    law = parse_law(args.importance, role="importance", name="--importance")
    if law.kind != "geometric" or not 0 < law.params[0] <= 1:
        raise InvalidParameter("--importance", args.importance, "geometric:G with 0 < G <= 1")
    config = _config(
        TmsImportanceConfig,
        n_features=args.features,
        n_hidden=args.hidden,
        importance_decay=law.params[0],
        feature_probs=args.feature_probs,
        steps=args.steps,
        restarts=args.restarts,
        seed=args.seed,
    )
    output_folder(str(folder))
    result = run_tms_importance(config)
    represented = result.norms > 0.5
    sticky = sticky_fractions(result.dimensionality[represented]) if represented.any() else {}
    _write_json(
        folder / "tms.json", {"result": result, "sticky": {str(k): v for k, v in sticky.items()}}
    )
    save_figure(
        tms_importance_figure(config.feature_probs, result.norms, result.interference),
        folder / "nonuniform_tms_norms.png",
        config,
    )
    save_figure(
        dimensionality_figure(
            config.feature_probs,
            result.dimensionality,
            result.dims_per_feature,
            represented=represented,
        ),
        folder / "nonuniform_tms_dimensionality.png",
        config,
    )
    rows = [
        (p, loss.value, loss.stderr, int(r.sum()), d)
        for p, loss, r, d in zip(
            config.feature_probs,
            result.test_loss,
            represented,
            result.dims_per_feature,
            strict=True,
        )
    ]
    print_table(rows, header=("1-S", "test_loss", "stderr", "represented", "D*"))
    return 0


def run_width(args: argparse.Namespace) -> int:
    """Train one model per width, compute the theory's curve, write width.json and a figure."""
    import numpy as np

    from toyforge.figures._style import save_figure
    from toyforge.figures.features import loss_vs_width_figure
    from toyforge.theory.families import dropped_loss
    from toyforge.theory.feature_classes import binned_allocation
    from toyforge.verify.data.laws import parse_law
    from toyforge.verify.experiments.width_scaling import WidthScalingConfig, run_width_scaling

    folder = planned_folder(args.out)
    config = _config(
        WidthScalingConfig,
        n_features=args.features,
        feature_probs=args.feature_probs,
        widths=args.widths,
        steps=args.steps,
        lr=args.lr,
        n_bins=args.bins,
        seed=args.seed,
        init=args.init,
    )
    check_memory(
        "--features",
        args.features,
        8.0 * 8 * args.features * (max(args.widths) + 1024),
        what="model and batch",
    )
    output_folder(str(folder))
    result = run_width_scaling(config)
    dense = np.unique(
        np.geomspace(min(args.widths) / 2, min(2 * max(args.widths), args.features), 16)
    )
    law = parse_law(args.feature_probs).continuous(args.features)
    curve = binned_allocation(law, np.ones_like, dense / args.features, n_bins=args.bins)
    _write_json(
        folder / "width.json",
        {"result": result, "theory_widths": dense, "theory_curve": [c.loss for c in curve]},
    )
    figure = loss_vs_width_figure(
        result.widths,
        [e.value for e in result.trained],
        [e.stderr for e in result.trained],
        dense,
        [c.loss for c in curve],
        theory_error=[c.error for c in curve],
        baseline=float(np.mean(dropped_loss(config.distribution().feature_probs))),
        title=f"n = {args.features}, firing rates {args.feature_probs}",
    )
    save_figure(figure, folder / "nonuniform_loss_vs_width.png", config)
    rows = [
        (m, steps, "yes" if converged else "NO (budget)", silent, e.value, e.stderr, t)
        for m, steps, converged, silent, e, t in zip(
            result.widths, result.steps, result.converged, result.silent, result.trained,
            result.theory, strict=True,
        )
    ]  # fmt: skip
    print_table(rows, header=("m", "steps", "converged", "silent", "trained", "stderr", "theory"))
    print(f"slopes: trained {result.trained_slope:.3f}, theory {result.theory_slope:.3f}")
    return 0


def run_pairs(args: argparse.Namespace) -> int:
    """Train one tied 2-D model per correlation; write pairs.json and the geometry figure."""
    from toyforge.figures._style import save_figure
    from toyforge.figures.features import pair_geometry_figure
    from toyforge.verify.experiments.correlated_pairs import PairGeometryConfig, train_pair_geometry

    folder = planned_folder(args.out)
    try:
        values = tuple(float(v) for v in args.correlations.split(",") if v.strip())
    except ValueError as error:
        raise InvalidParameter("--correlations", args.correlations, "numbers in [-1, 1]") from error
    if not values:
        raise InvalidParameter("--correlations", args.correlations, "one or more numbers")
    configs = [
        _config(
            PairGeometryConfig,
            correlation=rho,
            feature_prob=args.feature_prob,
            steps=args.steps,
            restarts=args.restarts,
            seed=args.seed,
        )
        for rho in values
    ]
    output_folder(str(folder))
    results = [train_pair_geometry(config) for config in configs]
    _write_json(folder / "pairs.json", results)
    labels = [
        f"rho = {r.config.correlation:.3g}: cos = " + ", ".join(f"{c:.2f}" for c in r.pair_cosines)
        for r in results
    ]
    save_figure(
        pair_geometry_figure([r.weights for r in results], labels),
        folder / "nonuniform_pair_geometry.png",
        {"configs": configs},
    )
    rows = [
        (
            r.config.correlation,
            ", ".join(f"{c:.3f}" for c in r.pair_cosines),
            r.loss.value,
            r.loss.stderr,
        )
        for r in results
    ]
    print_table(rows, header=("correlation", "pair cosines", "loss", "stderr"))
    return 0


def _write_json(path: Any, payload: Any) -> None:
    from toyforge.core.fileio import atomic_path
    from toyforge.core.serde import to_jsonable

    with atomic_path(path, suffix=".json") as temp:
        with open(temp, "w") as handle:
            json.dump(to_jsonable(payload), handle, indent=1, allow_nan=False)
