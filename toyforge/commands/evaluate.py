"""``toyforge evaluate FILE``: the loss of a saved model (Monte Carlo or exact).

ReLU autoencoders: per-feature MSE on fresh sparse data with its standard error (the feature
probability comes from ``--feature-prob`` or, if absent, from the file's metadata).
Modular-addition models: exact accuracy, cross-entropy and margin over all p² pairs. Other
architectures use the evaluator registered for them
(toyforge.verify.evaluate.evaluators.register_evaluator).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from toyforge.commands._common import float_arg, print_json, print_table


def register(subparsers: Any) -> None:
    """Add ``toyforge evaluate``."""
    parser = subparsers.add_parser(
        "evaluate",
        help="loss of a saved model (.npz/.safetensors)",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("file", help="weight file written by toyforge (.npz or .safetensors)")
    parser.add_argument(
        "--feature-prob",
        type=float_arg,
        default=None,
        help="probability p that a feature is active (default: from the file)",
    )
    parser.add_argument(
        "--samples", type=int, default=100_000, help="Monte Carlo samples (default 100000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the samples (default 0)")
    parser.add_argument("--batch", type=int, default=1024, help="samples per batch")
    parser.add_argument(
        "--value-dist",
        choices=("uniform", "constant"),
        default="uniform",
        help="active values U[0,1) (default) or 1",
    )
    parser.add_argument(
        "--importance",
        type=float_arg,
        default=None,
        help="weight feature i's squared error by (i+1)^-importance",
    )
    parser.add_argument(
        "--path",
        choices=("auto", "hidden", "product", "dense"),
        default="auto",
        help="autoencoder kernel path (default: cost model)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=run)


def find_feature_prob(metadata: Mapping[str, Any]) -> float | None:
    """The first ``feature_prob`` number found in (nested) metadata, depth first."""
    for key, value in metadata.items():
        if (
            key == "feature_prob"
            and isinstance(value, (int, float))
            and not isinstance(value, bool)
        ):
            return float(value)
    for value in metadata.values():
        if isinstance(value, Mapping):
            found = find_feature_prob(value)
            if found is not None:
                return found
    return None


def run(args: argparse.Namespace) -> int:
    """Load the file, evaluate it with the registered evaluator, print the result."""
    from toyforge.constructions.io import load, read_info
    from toyforge.core.serde import to_jsonable
    from toyforge.verify.evaluate import EvaluationRequest, evaluate_model

    info = read_info(args.file)
    model = load(args.file)
    feature_prob = args.feature_prob
    if feature_prob is None:
        feature_prob = find_feature_prob(info.metadata) or find_feature_prob(info.hyperparameters)
    request = EvaluationRequest(
        feature_prob=feature_prob,
        n_samples=args.samples,
        seed=args.seed,
        batch_size=args.batch,
        value_dist=args.value_dist,
        importance=args.importance,
        path=args.path,
    )
    if feature_prob is None and info.architecture == "relu-autoencoder":
        from toyforge.core.errors import InvalidParameter

        raise InvalidParameter(
            "--feature-prob", None, "a probability in (0, 1]; the file does not record one"
        )
    result = evaluate_model(model, request)
    fields = to_jsonable(result)
    if args.json:
        print_json({"file": str(args.file), "architecture": info.architecture, **fields})
        return 0
    print(f"{args.file}: {info.architecture}")
    print_table([(name, value) for name, value in fields.items()], header=("quantity", "value"))
    return 0
