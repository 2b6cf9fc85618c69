"""``toyforge train tms``: the bottleneck setting (tied ReLU-output model, Elhage et al. 2022).

Also holds the argument and run helpers shared by ``train mlp-block`` and ``train unembed``
(the three toy settings of the memorisation seed, docs/memorisation.md#three-toy-settings): each is
a config of the existing models and the one trainer
(:mod:`toyforge.verify.experiments.reconstruction`).
"""

from __future__ import annotations

import argparse
from typing import Any

from toyforge.commands._common import float_arg, print_json, print_table, progress, weights_path


def add_common_arguments(parser: argparse.ArgumentParser, *, hidden: bool = True) -> None:
    """Data, optimiser and output options shared by the three settings."""
    parser.add_argument("--features", type=int, required=True, help="number of features n")
    if hidden:
        parser.add_argument("--hidden", type=int, required=True, help="hidden width m")
    parser.add_argument(
        "--sparsity",
        type=float_arg,
        required=True,
        help="S: each feature is active with probability 1 - S",
    )
    parser.add_argument(
        "--points",
        type=int,
        default=None,
        help="fixed training set of T points, full batch (default: fresh batches)",
    )
    parser.add_argument("--unit-norm", action="store_true", help="rescale points to norm 1")
    parser.add_argument(
        "--batch", type=int, default=1024, help="batch size for fresh data (default 1024)"
    )
    parser.add_argument("--steps", type=int, default=5000, help="optimiser steps (5000)")
    parser.add_argument("--lr", type=float_arg, default=1e-3, help="peak learning rate")
    parser.add_argument("--warmup", type=int, default=0, help="linear warm-up steps")
    parser.add_argument("--schedule", choices=("constant", "cosine"), default="constant")
    parser.add_argument(
        "--weight-decay",
        type=float_arg,
        default=0.0,
        help="AdamW decoupled weight decay (default 0: Adam)",
    )
    parser.add_argument("--test-points", type=int, default=2000, help="test-set size (2000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="weights file (.npz or .safetensors)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def setting_config(args: argparse.Namespace, setting: str, **extra: Any) -> Any:
    """The :class:`~toyforge.verify.experiments.reconstruction.ToySettingConfig` of the parsed
    options."""
    from toyforge.core.validate import check_int
    from toyforge.verify.experiments.reconstruction import ToySettingConfig

    check_int("--batch", args.batch, minimum=1)  # checked even when --points makes it unused
    return ToySettingConfig(
        setting=setting,
        n_features=args.features,
        n_hidden=getattr(args, "hidden", 2),
        sparsity=args.sparsity,
        n_points=args.points,
        unit_norm=args.unit_norm,
        steps=args.steps,
        batch_size=None if args.points is not None else args.batch,
        lr=args.lr,
        warmup_steps=args.warmup,
        weight_decay=args.weight_decay,
        schedule=args.schedule,
        n_test=args.test_points,
        seed=args.seed,
        **extra,
    )


def run_setting(args: argparse.Namespace, config: Any, label: str) -> int:
    """Train ``config``, save weights + history, print the summary."""
    from toyforge.verify.experiments.reconstruction import train_setting

    target = weights_path(args.out)
    bar = progress(
        range(config.steps), total=config.steps, desc=f"train {label}", enabled=not args.no_progress
    )
    result = train_setting(config, progress=lambda step, loss: next(bar, None))
    for _ in bar:  # finish (and close) the bar
        pass
    summary = {
        "setting": label,
        "n_features": config.n_features,
        "n_points": config.n_points,
        "steps": config.steps,
        "seed": config.seed,
        "train_loss": result.train_loss,
        "test_loss": result.test_loss.value,
        "test_stderr": result.test_loss.stderr,
        "baseline": result.baseline,
        "relative_loss": result.relative_loss,
        "accuracy": result.accuracy,
        **_geometry(result.model),
    }
    written = result.train.save(target, metadata={"setting": _jsonable(config)})
    summary["out"] = str(written[0])
    if args.json:
        print_json(summary)
    else:
        print_table([(key, value) for key, value in summary.items()], header=("quantity", "value"))
    return 0


def _jsonable(config: Any) -> Any:
    from toyforge.core.serde import to_jsonable

    return to_jsonable(config)


def _geometry(model: Any) -> dict[str, Any]:
    """Represented features and dimensions per feature of the model's feature matrix."""
    import numpy as np

    from toyforge.constructions.models import ReluAutoencoder
    from toyforge.verify.evaluate.dimensionality import dimensions_per_feature

    if isinstance(model, ReluAutoencoder):
        W = model.W_in
    else:  # feature directions in hidden space: W1 E with a fixed embedding E
        W = model.W1 if model.embedding is None else model.W1 @ model.embedding
    return {
        "represented_features": int(np.sum(np.linalg.norm(W, axis=0) > 0.5)),
        "dimensions_per_feature": dimensions_per_feature(W),
    }


def register(members: Any) -> None:
    """Add the ``tms`` member to ``toyforge train``."""
    parser = members.add_parser(
        "tms",
        help="bottleneck: tied ReLU-output model x' = ReLU(W^T W x + b) (TMS)",
        description=__doc__.splitlines()[0],
    )
    add_common_arguments(parser)
    parser.add_argument(
        "--importance",
        type=float_arg,
        default=1.0,
        help="importance decay: I_i = decay^i (default 1, uniform)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return run_setting(args, setting_config(args, "tms", importance_decay=args.importance), "tms")
