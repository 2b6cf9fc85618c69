"""``toyforge build modular-addition``: Fourier weights that add mod p exactly (all p² checked).

Without ``--frequencies``/``--neurons-per-frequency`` it builds the smallest exact construction
with a useful margin (margin >= 1 % of the largest logit; docs/modular_addition.md#default-designs).
A modulus that is not prime, or a size that cannot be exact (ReLU: even N or N = 3, or an odd N
below the measured minimum; quadratic: N = 4), is refused with the reason (exit 2).
"""

from __future__ import annotations

import argparse
from typing import Any

from toyforge.commands._common import (
    float_arg,
    float_list_arg,
    int_list_arg,
    save_and_report_construction,
    weights_path,
)


def register(members: Any) -> None:
    """Add the ``modular-addition`` member to ``toyforge build``."""
    parser = members.add_parser(
        "modular-addition",
        help="exact Fourier construction for a + b mod p",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--modulus", type=int, required=True, help="an odd prime p")
    parser.add_argument("--activation", choices=("relu", "quadratic"), default="relu")
    parser.add_argument(
        "--frequencies",
        type=int_list_arg,
        default=None,
        help="comma-separated frequencies (default: chosen for a useful margin)",
    )
    parser.add_argument(
        "--neurons-per-frequency",
        type=int,
        default=None,
        help="N per frequency (default: the fewest exact)",
    )
    parser.add_argument(
        "--amplitudes",
        type=float_list_arg,
        default=None,
        help="positive readout amplitude per frequency (default 1)",
    )
    parser.add_argument(
        "--rotation", type=float_arg, default=0.0, help="common input phase ρ (the readout uses 2ρ)"
    )
    parser.add_argument(
        "--untied",
        action="store_true",
        help="Gromov-style untied quadratic construction with designed phases "
        "(6 neurons per frequency by default)",
    )
    parser.add_argument(
        "--factored",
        action="store_true",
        help="store W_in as embedding @ projection with a tied readout (the trained architecture)",
    )
    parser.add_argument("--out", required=True, help="weights file (.npz or .safetensors)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=run)


def _build(args: argparse.Namespace) -> tuple[Any, tuple[int, ...]]:
    from toyforge.constructions import modular_addition as builders
    from toyforge.core.validate import check_int

    if args.neurons_per_frequency is not None:  # 0 must not mean "the default"
        check_int("--neurons-per-frequency", args.neurons_per_frequency, minimum=1)
    if args.untied:
        if args.activation != "quadratic":
            from toyforge.core.errors import InvalidParameter

            raise InvalidParameter(
                "--activation",
                args.activation,
                "quadratic with --untied (the Gromov construction is x²)",
            )
        frequencies = args.frequencies or (1,)
        model = builders.untied_quadratic(
            args.modulus, frequencies, args.neurons_per_frequency or 6, factored=args.factored
        )
        return model, frequencies
    frequencies = args.frequencies
    neurons = args.neurons_per_frequency
    if frequencies is None:
        design = builders.recommended_design(args.modulus, args.activation)
        frequencies = design.frequencies
        neurons = neurons or design.neurons_per_frequency
    model = builders.modular_addition(
        args.modulus,
        frequencies,
        neurons,
        args.activation,
        amplitudes=args.amplitudes,
        rotation=args.rotation,
        factored=args.factored,
    )
    return model, frequencies


def run(args: argparse.Namespace) -> int:
    from toyforge.constructions.modular_addition import fold_frequency
    from toyforge.verify.evaluate import evaluate_modular_addition

    out = weights_path(args.out)
    model, frequencies = _build(args)
    report = evaluate_modular_addition(model)
    info = {
        "modulus": model.modulus,
        "activation": model.activation,
        "untied": model.W_in_right is not None,
        "factored": model.factored,
        "frequencies": [fold_frequency(k, model.modulus) for k in frequencies],
        "n_hidden": model.n_hidden,
        "accuracy": report.accuracy,
        "margin": report.margin,
        "normalised_margin": report.normalised_margin,
        "cross_entropy": report.cross_entropy,
        "n_pairs": report.n_pairs,
    }
    save_and_report_construction(model, out, info, args.json)
    return 0
