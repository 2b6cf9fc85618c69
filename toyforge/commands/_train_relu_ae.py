"""``toyforge train relu-ae``: train the Persian-rug ReLU autoencoder on fresh sparse data.

Adam (spec persian_rug.md §5: batch 1024, fresh data), the sparse-aware numba step, a held-out
loss with its standard error from fresh samples, and the large-N theory's prediction when
:mod:`toyforge.theory` provides it. Writes the weights (``--out``, with the run summary as
metadata) and the loss history beside them (``<stem>.history.csv``), both atomically.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from toyforge.commands._common import float_arg, output_path, print_json, print_table, progress

DEFAULT_EVAL_SAMPLES = 100_000


def register(members: Any) -> None:
    """Add the ``relu-ae`` member to ``toyforge train``."""
    parser = members.add_parser(
        "relu-ae",
        help="ReLU autoencoder y = ReLU(W_out W_in x + b) on fresh sparse data",
        description="Train y = ReLU(W_out W_in x + b) with Adam on fresh sparse batches "
        "(sparse-aware numba step); report the held-out loss, its standard error "
        "and the large-N theory's prediction.",
    )
    parser.add_argument("--features", type=int, required=True, help="n_features (n_s)")
    parser.add_argument(
        "--ratio",
        type=float_arg,
        required=True,
        help="r = n_hidden / n_features; n_hidden = max(floor(r n), 1)",
    )
    parser.add_argument(
        "--feature-prob",
        type=float_arg,
        required=True,
        help="probability p that a feature is active",
    )
    parser.add_argument("--steps", type=int, required=True, help="optimiser steps")
    parser.add_argument("--batch", type=int, default=1024, help="batch size (default 1024)")
    parser.add_argument("--lr", type=float_arg, default=1e-3, help="peak learning rate")
    parser.add_argument(
        "--schedule",
        choices=("constant", "cosine"),
        default="constant",
        help="constant, or cosine decay to 0 after the warm-up",
    )
    parser.add_argument("--warmup", type=int, default=0, help="linear warm-up steps")
    parser.add_argument(
        "--weight-decay",
        type=float_arg,
        default=0.0,
        help="AdamW decoupled weight decay (default 0: plain Adam)",
    )
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--seed", type=int, default=0, help="seed of init and data")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="numba threads (default 1; >1 sets OMP_WAIT_POLICY=PASSIVE)",
    )
    parser.add_argument(
        "--eval-samples",
        type=int,
        default=DEFAULT_EVAL_SAMPLES,
        help=f"held-out samples for the final loss (default {DEFAULT_EVAL_SAMPLES})",
    )
    parser.add_argument("--log-every", type=int, default=10, help="history row every K steps")
    parser.add_argument("--out", required=True, help="weights file (.npz or .safetensors)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _set_threads(threads: int) -> None:
    """Configure numba threads before any parallel kernel runs (spec performance.md §7.3)."""
    from toyforge.core.errors import InvalidParameter

    if threads < 1:
        raise InvalidParameter("--threads", threads, "an integer >= 1")
    if threads > 1:
        # numba's OpenMP spin-wait fights OpenBLAS's threads on small machines (finding 3).
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _theory_loss(ratio: float, feature_prob: float) -> float | None:
    try:
        from toyforge.theory import predict
    except ImportError:
        return None
    return float(predict(ratio, feature_prob).loss)


def _config(args: argparse.Namespace) -> Any:
    from toyforge.verify.train.autoencoder import TrainConfig
    from toyforge.verify.train.optim import AdamConfig, Schedule

    optimizer = AdamConfig(
        lr=args.lr, weight_decay=args.weight_decay, decoupled=args.weight_decay > 0
    )
    schedule = Schedule(
        kind=args.schedule, warmup_steps=args.warmup, total_steps=max(args.steps, 1)
    )
    return TrainConfig(
        steps=args.steps,
        batch_size=args.batch,
        optimizer=optimizer,
        schedule=schedule,
        dtype=args.dtype,
        seed=args.seed,
        log_every=args.log_every,
        eval_samples=args.eval_samples,
        threads=args.threads,
    )


def run(args: argparse.Namespace) -> int:
    """Train, evaluate on fresh data, save weights + history, print the summary."""
    _set_threads(args.threads)
    target = output_path(args.out)
    from toyforge.core.validate import check_int, check_interval
    from toyforge.verify.train.autoencoder import (
        SparseFeatureData,
        eval_seed,
        held_out_loss,
        init_relu_autoencoder,
        train,
    )

    n_features = check_int("--features", args.features, minimum=1)
    check_interval("--ratio", args.ratio, 0.0, 1.0, low_open=True)
    n_hidden = max(int(n_features * args.ratio), 1)
    data = SparseFeatureData(n_features=n_features, feature_prob=args.feature_prob)
    config = _config(args)
    model = init_relu_autoencoder(n_features, n_hidden, seed=args.seed)
    bar = progress(
        range(config.steps), total=config.steps, desc="train relu-ae", enabled=not args.no_progress
    )
    result = train(model, data, config, progress=lambda step, loss: next(bar, None))
    for _ in bar:  # finish (and close) the bar
        pass
    held_out = held_out_loss(result.model, data, config, eval_seed(args.seed))
    ratio_eff = n_hidden / n_features
    summary = {
        "n_features": n_features,
        "n_hidden": n_hidden,
        "ratio": ratio_eff,
        "feature_prob": args.feature_prob,
        "steps": config.steps,
        "batch": config.batch_size,
        "lr": args.lr,
        "schedule": args.schedule,
        "dtype": args.dtype,
        "seed": args.seed,
        "threads": args.threads,
        "final_train_loss": float(result.history.train_loss[-1]),
        "held_out_loss": held_out.value,
        "held_out_stderr": held_out.stderr,
        "held_out_samples": held_out.n_samples,
        "theory_loss": _theory_loss(ratio_eff, args.feature_prob),
        "steps_per_second": result.steps_per_second,
        "sparse_steps": result.sparse_steps,
    }
    written = result.save(target, metadata={"held_out": summary})
    summary["out"] = str(written[0])
    summary["history"] = str(written[1])
    if args.json:
        print_json(summary)
    else:
        print_table([(key, value) for key, value in summary.items()], header=("quantity", "value"))
    return 0
