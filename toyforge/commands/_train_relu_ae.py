"""``toyforge train relu-ae``: train Persian-rug ReLU autoencoders on fresh sparse data.

Adam (batch 1024, fresh data, PyTorch init), the sparse-aware numba step and the convergence
rule (on by default: stop once the held-out loss stops improving by more than ``--tol`` per
``--window`` steps, within ``--max-steps``). Several ratios, feature probabilities and seeds in
one command are trained together (one weight file each). Each model reports its held-out
loss ± SE from fresh samples, whether it converged, and the large-N theory's prediction.
Weights (with the run summary as metadata) and loss histories are written only after every
model has finished; Ctrl-C writes nothing and says how far training got. See
``docs/training.md``.

Non-identical features (``--feature-probs LAW`` instead of ``--feature-prob``, ``--importance``,
``--magnitudes``, ``--pairs``, ``--exclusive``: the flags and parsing of ``toyforge features``)
train on the same sparse kernel path; their theory column is the class theory
(:func:`toyforge.theory.feature_classes.binned_allocation`), or says why there is none
(``docs/non_uniform_features.md#training-on-non-identical-features``).
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import sys
from pathlib import Path
from typing import Any

from toyforge.commands._common import (
    float_arg,
    float_list_arg,
    int_list_arg,
    print_json,
    print_table,
    progress,
    weights_path,
)
from toyforge.commands._feature_args import feature_distribution
from toyforge.core.budget import check_memory
from toyforge.core.errors import InvalidParameter
from toyforge.core.validate import check_int, check_interval

# The CLI imports every command module at start-up; the trainer (numba) and the theory are
# imported by the functions that use them, so other commands do not pay for them.

DEFAULT_EVAL_SAMPLES = 100_000
DEFAULT_MAX_STEPS = 20_000
# the defaults of toyforge.verify.train.convergence (repeated: see the note above)
DEFAULT_TOL = 1e-3
DEFAULT_WINDOW = 200
DEFAULT_PATIENCE = 2
THEORY_BINS = 64


def register(members: Any) -> None:
    """Add the ``relu-ae`` member to ``toyforge train``."""
    parser = members.add_parser(
        "relu-ae",
        help="ReLU autoencoder y = ReLU(W_out W_in x + b) on fresh sparse data",
        description="Train y = ReLU(W_out W_in x + b) with Adam on fresh sparse batches "
        "until the held-out loss stops improving; report the held-out loss ± SE, whether "
        "each model converged, and the large-N theory's prediction.",
    )
    add = parser.add_argument
    add("--features", type=int, required=True, help="n_features (n_s)")
    add("--ratio", type=float_list_arg, required=True, help="r = n_hidden / n_features (list)")
    probs = parser.add_mutually_exclusive_group(required=True)
    probs.add_argument("--feature-prob", type=float_list_arg, help="p, active probability (list)")
    probs.add_argument("--feature-probs", help="one law of firing rates per feature, e.g. "
                       "zipf:1.2:0.4:5e-4, constant:0.01, file:p.npy")  # fmt: skip
    add("--importance", default=None, help="law of per-feature loss weights, e.g. geometric:0.9")
    add(
        "--magnitudes", default="uniform", help="active values: uniform, constant, exponential:MEAN"
    )
    add("--pairs", default=None, help="correlated pairs I:J:RHO,... (RHO < 0: anticorrelated)")
    add("--exclusive", default=None, help="mutually exclusive groups like 0:1:2,5:6")
    add("--max-steps", "--steps", dest="max_steps", type=int, default=DEFAULT_MAX_STEPS,
        help=f"step budget per model (default {DEFAULT_MAX_STEPS})")  # fmt: skip
    add("--tol", type=float_arg, default=DEFAULT_TOL,
        help=f"relative held-out improvement that counts (default {DEFAULT_TOL})")  # fmt: skip
    add("--window", type=int, default=DEFAULT_WINDOW,
        help=f"steps between convergence checks (default {DEFAULT_WINDOW})")  # fmt: skip
    add("--patience", type=int, default=DEFAULT_PATIENCE, help="flat checks that make a plateau")
    add("--lr-decays", type=int, default=2, help="plateaus answered by lr x 0.3 (default 2)")
    add("--no-converge", action="store_true", help="run the whole budget (no convergence rule)")
    add("--restarts", type=int, default=1, help="initialisations per model; keep the best")
    add("--init", choices=("aligned", "torch", "xavier_normal"), default="aligned",
        help="initial weights: aligned (every output starts alive; default), torch "
        "(nn.Linear defaults, as in the Persian-rug code), xavier_normal")  # fmt: skip
    add("--batch", type=int, default=1024, help="batch size (default 1024)")
    add("--lr", type=float_arg, default=None, help="peak learning rate (default 0.03/sqrt(n))")
    add("--schedule", choices=("constant", "cosine"), default="constant",
        help="constant, or cosine decay to 0 over --max-steps after the warm-up")  # fmt: skip
    add("--warmup", type=int, default=0, help="linear warm-up steps")
    add("--weight-decay", type=float_arg, default=0.0, help="AdamW decoupled weight decay")
    add("--dtype", choices=("float32", "float64"), default="float32")
    add("--seed", type=int, default=0, help="seed of init and data")
    add("--seeds", type=int_list_arg, default=None, help="several seeds (list; overrides --seed)")
    add("--threads", type=int, default=1, help="numba threads (default 1)")
    add("--eval-samples", type=int, default=DEFAULT_EVAL_SAMPLES,
        help=f"held-out samples for the final loss (default {DEFAULT_EVAL_SAMPLES})")  # fmt: skip
    add("--log-every", type=int, default=10, help="history row every K steps")
    add("--out", required=True, help="weights file (.npz or .safetensors); several models "
        "get <stem>.r<ratio>-p<prob>-s<seed><suffix>")  # fmt: skip
    add("--json", action="store_true", help="print the summary as JSON")
    add("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _check_args(args: argparse.Namespace) -> tuple[int, list[int]]:
    """Validate every number with its flag name; returns (n_features, seeds)."""
    n_features = check_int("--features", args.features, minimum=1)
    for ratio in args.ratio:
        check_interval("--ratio", ratio, 0.0, 1.0, low_open=True)
    for prob in args.feature_prob or ():
        check_interval("--feature-prob", prob, 0.0, 1.0, low_open=True)
    check_int("--max-steps", args.max_steps, minimum=1)
    check_interval("--tol", args.tol, 0.0, 1.0, high_open=True)
    check_int("--window", args.window, minimum=1)
    check_int("--patience", args.patience, minimum=1)
    check_int("--lr-decays", args.lr_decays, minimum=0)
    check_int("--restarts", args.restarts, minimum=1)
    check_int("--batch", args.batch, minimum=1)
    if args.lr is not None:
        check_interval("--lr", args.lr, 0.0, math.inf, low_open=True)
    check_int("--warmup", args.warmup, minimum=0)
    check_interval("--weight-decay", args.weight_decay, 0.0, math.inf)
    check_int("--threads", args.threads, minimum=1)
    check_int("--eval-samples", args.eval_samples, minimum=2)
    check_int("--log-every", args.log_every, minimum=1)
    seeds = list(args.seeds) if args.seeds is not None else [args.seed]
    for seed in seeds:
        check_int("--seeds" if args.seeds is not None else "--seed", seed, minimum=0)
    if len(set(seeds)) != len(seeds):
        raise InvalidParameter("--seeds", args.seeds, "distinct seeds")
    return n_features, seeds


def _config(args: argparse.Namespace, n_features: int, seed: int) -> Any:
    from toyforge.verify.train.config import TrainConfig
    from toyforge.verify.train.convergence import ConvergenceRule, default_learning_rate
    from toyforge.verify.train.optim import AdamConfig, Schedule

    lr = args.lr if args.lr is not None else default_learning_rate(n_features)
    optimizer = AdamConfig(lr=lr, weight_decay=args.weight_decay, decoupled=args.weight_decay > 0)
    schedule = Schedule(kind=args.schedule, warmup_steps=args.warmup, total_steps=args.max_steps)
    rule = None
    if not args.no_converge:
        rule = ConvergenceRule(
            window=args.window, tol=args.tol, patience=args.patience, max_decays=args.lr_decays
        )
    return TrainConfig(
        steps=args.max_steps,
        batch_size=args.batch,
        optimizer=optimizer,
        schedule=schedule,
        dtype=args.dtype,
        seed=seed,
        log_every=args.log_every,
        eval_samples=min(args.eval_samples, 20_000),
        threads=args.threads,
        convergence=rule,
    )


def _non_uniform(args: argparse.Namespace) -> bool:
    """Whether the flags ask for non-identical features (a FeatureDistribution)."""
    return (
        args.feature_probs is not None
        or args.importance is not None
        or args.magnitudes != "uniform"
        or bool(args.pairs)
        or bool(args.exclusive)
    )


def _sources(args: argparse.Namespace, n_features: int) -> dict[Any, Any]:
    """Probability (or law text) -> the data source of its runs; None = the uniform
    :class:`~toyforge.verify.train.data.SparseFeatureData` (parsed before any allocation)."""
    keys = [args.feature_probs] if args.feature_probs is not None else list(args.feature_prob)
    if not _non_uniform(args):
        return dict.fromkeys(keys)
    return {
        key: feature_distribution(
            n_features,
            key if isinstance(key, str) else f"constant:{key!r}",
            args.importance or "constant:1",
            args.magnitudes,
            args.pairs,
            args.exclusive,
        )
        for key in keys
    }


def _targets(out: Path, points: list[tuple[float, Any, int]]) -> list[Path]:
    if len(points) == 1:
        return [out]
    return [
        out.with_name(
            f"{out.stem}.r{ratio:g}"
            + (f"-p{prob:g}" if isinstance(prob, float) else "")
            + f"-s{seed}{out.suffix}"
        )
        for ratio, prob, seed in points
    ]


def _probs_text(run: Any, args: argparse.Namespace) -> str:
    """The law of firing rates of a run on non-identical features, as text."""
    return args.feature_probs or f"constant:{float(run.features.feature_probs[0])!r}"


def _theory(run: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The theory column: the symmetric large-N loss for identical features, the class theory
    (binned, with its bracket) for non-identical ones, or why there is none."""
    from toyforge.theory import predict
    from toyforge.theory.feature_classes import binned_allocation
    from toyforge.verify.data.laws import parse_law

    ratio_eff = run.n_hidden / run.n_features
    if run.features is None:
        loss = float(predict(ratio_eff, run.feature_prob).loss)
        return {"theory": "symmetric large-N", "theory_loss": loss, "theory_error": 0.0}
    why = None
    if args.magnitudes != "uniform":
        why = "none: the class theory assumes U[0,1) magnitudes"
    elif args.pairs or args.exclusive:
        why = "none: the class theory assumes independent features"
    elif run.n_features < 2:
        why = "none: the class theory needs 2 or more features"
    if why is None:
        probs = parse_law(_probs_text(run, args), name="--feature-probs")
        probs = probs.continuous(run.n_features)
        weights = parse_law(args.importance or "constant:1", role="importance", name="--importance")
        try:
            (point,) = binned_allocation(
                probs, weights.continuous(run.n_features), ratio_eff, n_bins=THEORY_BINS
            )
        except InvalidParameter as error:  # e.g. a law from a file that is not monotone
            why = f"none: {error.allowed}"
        else:
            theory = f"class theory, {point.n_bins} bins"
            return {"theory": theory, "theory_loss": point.loss, "theory_error": point.error}
    return {"theory": why, "theory_loss": None, "theory_error": None}


def _summary(run: Any, result: Any, args: argparse.Namespace) -> dict[str, Any]:
    from toyforge.verify.train.heldout import eval_seed, held_out_loss

    held_out = held_out_loss(
        result.model, run.data(), run.train, eval_seed(run.train.seed), args.eval_samples
    )
    ratio_eff = run.n_hidden / run.n_features
    laws, ties = {}, (("pairs", args.pairs), ("exclusive", args.exclusive))
    if run.features is not None:
        laws = {
            "feature_probs": _probs_text(run, args),
            "importance": args.importance or "constant:1",
            "magnitudes": args.magnitudes,
            **{name: text for name, text in ties if text},
        }
    return {
        "n_features": run.n_features,
        "n_hidden": run.n_hidden,
        "ratio": ratio_eff,
        **(laws or {"feature_prob": run.feature_prob}),
        "seed": run.train.seed,
        "steps": result.steps,
        "max_steps": run.train.steps,
        "converged": result.converged,
        "lr_decays": result.lr_decays,
        "init": run.init,
        "silent_features": result.silent_features,
        "restart": result.restart,
        "batch": run.train.batch_size,
        "lr": run.train.optimizer.lr,
        "dtype": run.train.dtype,
        "final_train_loss": float(result.history.train_loss[-1]),
        "held_out_loss": held_out.value,
        "held_out_stderr": held_out.stderr,
        "held_out_samples": held_out.n_samples,
        **_theory(run, args),
        "steps_per_second": result.steps_per_second,
        "sparse_steps": result.sparse_steps,
    }


def _train(runs: list[Any], args: argparse.Namespace) -> list[Any] | None:
    """Train with a progress bar; on Ctrl-C say how far it got, write nothing, return None."""
    from toyforge.verify.train.runs import train_runs

    total = sum(run.train.steps * run.restarts for run in runs)
    bar = progress(range(total), total=total, desc="train relu-ae", enabled=not args.no_progress)
    reached = [0] * len(runs)

    def step_done(index: int, step: int, _loss: float) -> None:
        reached[index] = max(reached[index], step)
        next(bar, None)

    close = getattr(bar, "close", lambda: None)
    try:
        results = train_runs(runs, step_done)
    except KeyboardInterrupt:
        close()
        where = ", ".join(
            f"{step}/{run.train.steps}" for step, run in zip(reached, runs, strict=True)
        )
        print(
            f"toyforge train: interrupted at step {where} of {len(runs)} model(s); nothing written",
            file=sys.stderr,
        )
        return None
    close()
    return results


def run(args: argparse.Namespace) -> int:
    """Validate, train every (ratio, feature_prob, seed), save each model, print the summary."""
    from toyforge.verify.train.runs import AutoencoderRun, run_bytes

    n_features, seeds = _check_args(args)
    out = weights_path(args.out)
    sources = _sources(args, n_features)
    points = list(itertools.product(args.ratio, sources, seeds))
    runs = [
        AutoencoderRun(
            n_features=n_features,
            ratio=ratio,
            feature_prob=None if sources[prob] is not None else prob,
            features=sources[prob],
            train=_config(args, n_features, seed),
            init_seed=seed,
            restarts=args.restarts,
            init=args.init,
        )
        for ratio, prob, seed in points
    ]
    check_memory("--features", n_features, sum(run_bytes(r) for r in runs), what="the models")
    if args.threads > 1:
        # numba's OpenMP spin-wait fights OpenBLAS's threads on small machines.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    results = _train(runs, args)
    if results is None:
        return 130
    summaries = []
    for run_, result, target in zip(runs, results, _targets(out, points), strict=True):
        summary = _summary(run_, result, args)
        written = result.save(target, metadata={"held_out": summary})
        summary["out"], summary["history"] = str(written[0]), str(written[1])
        summaries.append(summary)
    _print(summaries, args.json)
    return 0


def _theory_cell(summary: dict[str, Any]) -> Any:
    """The theory's loss, with the class theory's binning bracket, or why there is none."""
    if summary["theory_loss"] is None:
        return summary["theory"]
    if summary["theory_error"]:
        return f"{summary['theory_loss']:.4g} ± {summary['theory_error']:.2g}"
    return summary["theory_loss"]


def _print(summaries: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print_json(summaries[0] if len(summaries) == 1 else summaries)
    elif len(summaries) == 1:
        print_table(list(summaries[0].items()), header=("quantity", "value"))
    else:
        rows = [
            (s["ratio"], s.get("feature_prob") or s["feature_probs"], s["seed"], s["steps"],
             "yes" if s["converged"] else "NO (budget)",
             f"{s['held_out_loss']:.5g} ± {s['held_out_stderr']:.2g}",
             _theory_cell(s), s["out"])
            for s in summaries
        ]  # fmt: skip
        print_table(
            rows,
            header=("ratio", "p", "seed", "steps", "converged", "held-out ± SE", "theory", "file"),
        )
