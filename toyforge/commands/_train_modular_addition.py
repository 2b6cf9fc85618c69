"""``toyforge train modular-addition``: the PAIR grokking run (full-batch AdamW, numpy).

Defaults are PAIR's recipe (docs/grokking.md#the-model-and-the-recipe): p = 67, 40 % of the
unordered pairs, tied embedding 500, 24 hidden ReLU neurons, AdamW wd 1, β = (0.9, 0.98),
50 000 steps, float32 — with lr 3e-3 (``--recipe reliable``, docs/grokking.md#a-reliable-recipe);
``--recipe pair`` uses PAIR's lr 1e-3. Writes the model (``--out``, summary in its metadata)
and the logged history beside it (``<stem>.history.npz``), both atomically.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from toyforge.commands._common import float_arg, print_json, print_table, progress, weights_path


def register(members: Any) -> None:
    """Add the ``modular-addition`` member to ``toyforge train``."""
    parser = members.add_parser(
        "modular-addition",
        help="PAIR grokking run: a + b mod p in a tied-embedding MLP",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--modulus", type=int, default=67, help="p (default 67)")
    parser.add_argument(
        "--train-fraction",
        type=float_arg,
        default=0.4,
        help="fraction of pairs in the training set (default 0.4)",
    )
    parser.add_argument(
        "--ordered",
        action="store_true",
        help="use all p² ordered pairs (default: unordered a <= b, as PAIR)",
    )
    parser.add_argument("--embed", type=int, default=500, help="embedding width (default 500)")
    parser.add_argument("--hidden", type=int, default=24, help="hidden neurons (default 24)")
    parser.add_argument(
        "--direct",
        action="store_true",
        help="free W_in/W_out instead of the tied factored architecture",
    )
    parser.add_argument(
        "--recipe",
        choices=("reliable", "pair"),
        default="reliable",
        help="reliable (default): PAIR's recipe with lr 3e-3, which groks for every measured "
        "seed; pair: PAIR's exact hyperparameters (lr 1e-3; some seeds need more than 50k steps)",
    )
    parser.add_argument("--lr", type=float_arg, default=None, help="lr (default: the recipe's)")
    parser.add_argument(
        "--weight-decay", type=float_arg, default=1.0, help="decoupled weight decay (default 1)"
    )
    parser.add_argument("--beta1", type=float_arg, default=0.9)
    parser.add_argument("--beta2", type=float_arg, default=0.98)
    parser.add_argument("--steps", type=int, default=50_000, help="maximum steps (default 50000)")
    parser.add_argument(
        "--dtype",
        choices=("float32", "float64", "mixed"),
        default="float32",
        help="training precision (mixed = PAIR's notebook: float32 embedding, rest float64)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of init and split")
    parser.add_argument("--log-every", type=int, default=100, help="history row every K steps")
    parser.add_argument(
        "--stop-after-grok",
        type=int,
        default=None,
        metavar="K",
        help="stop K steps after test accuracy first reaches 99 %%",
    )
    parser.add_argument("--out", required=True, help="weights file (.npz or .safetensors)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def history_path(out: Path) -> Path:
    """``run.npz`` -> ``run.history.npz`` (the history lives beside the weights)."""
    return out.with_name(out.stem + ".history.npz")


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse bad flags by their names before any work (one line, exit 2)."""
    from toyforge.constructions.modular_addition import is_prime
    from toyforge.core.errors import InvalidParameter

    if not is_prime(args.modulus) or args.modulus < 3:
        raise InvalidParameter("--modulus", args.modulus, "a prime >= 3")
    if not 0.0 < args.train_fraction < 1.0:
        raise InvalidParameter("--train-fraction", args.train_fraction, "0 < --train-fraction < 1")
    for flag, value in (("--embed", args.embed), ("--hidden", args.hidden)):
        if value < 1:
            raise InvalidParameter(flag, value, f"{flag} >= 1")
    if args.lr is not None and not args.lr > 0:
        raise InvalidParameter("--lr", args.lr, "a positive learning rate")
    for flag, value in (("--steps", args.steps), ("--log-every", args.log_every)):
        if value < 1:
            raise InvalidParameter(flag, value, f"{flag} >= 1")


def _config(args: argparse.Namespace) -> Any:
    from toyforge.core.budget import check_memory
    from toyforge.verify.experiments.grokking import RECIPES, ModularTrainingConfig, memory_bytes

    check_arguments(args)
    lr = args.lr if args.lr is not None else RECIPES[args.recipe].get("lr", 1e-3)
    config = ModularTrainingConfig(
        modulus=args.modulus,
        train_fraction=args.train_fraction,
        unordered=not args.ordered,
        d_embed=args.embed,
        n_hidden=args.hidden,
        architecture="direct" if args.direct else "factored",
        lr=lr,
        weight_decay=args.weight_decay,
        beta1=args.beta1,
        beta2=args.beta2,
        steps=args.steps,
        dtype=args.dtype,
        seed=args.seed,
        eval_every=args.log_every,
        stop_after_grok=args.stop_after_grok,
    )
    check_memory("--hidden", args.hidden, memory_bytes(config), what="the training run")
    return config


def summary(result: Any) -> dict[str, Any]:
    """The JSON summary of a run (issue 5): accuracies, memorise/grok steps, Fourier measures."""
    from toyforge.verify.experiments.fourier_analysis import (
        fourier_gini,
        fourier_spectrum,
        key_frequencies,
    )

    model = result.model
    key = key_frequencies(model)
    share = fourier_spectrum(model.input_matrix()).share
    return {
        "train_accuracy": result.train_accuracy,
        "test_accuracy": result.test_accuracy,
        "memorize_step": result.memorize_step,
        "grok_step": result.grok_step,
        "key_frequencies": list(key),
        "key_power_share": float(sum(share[k - 1] for k in key)),
        "fourier_gini": fourier_gini(model),
        "steps_run": result.steps_run,
        "steps_per_second": result.steps_per_second,
        "wall_seconds": result.wall_seconds,
        "cpu_seconds": result.cpu_seconds,
        "modulus": result.config.modulus,
        "lr": result.config.lr,
        "dtype": result.config.dtype,
        "seed": result.config.seed,
    }


def run(args: argparse.Namespace) -> int:
    from toyforge.constructions.io import save
    from toyforge.verify.experiments.grokking import train_modular_addition
    from toyforge.verify.experiments.modular_views import save_history

    config = _config(args)
    out = weights_path(args.out)
    bar = progress(
        range(0, config.steps, config.eval_every),
        desc="modular-addition",
        enabled=not args.no_progress,
    )
    ticks = iter(bar)

    def advance(step: int, current_model: Any) -> None:
        del step, current_model
        next(ticks, None)

    result = train_modular_addition(config, callback=advance)
    for _ in ticks:  # close the bar when the run stopped early
        pass
    info = summary(result)
    save(result.model, out, metadata={"training": info, "config": config})
    save_history(history_path(out), result.history)
    if args.json:
        print_json(info)
    else:
        print_table([[key, value] for key, value in info.items()], header=["quantity", "value"])
        print(f"wrote {out} and {history_path(out)}")
    return 0
