"""Memory and work estimates of each command from its arguments, checked before it runs.

:func:`check_budget` is called by :func:`toyforge.cli.main` before a command's ``run``: each
estimate is the size of the command's largest simultaneous arrays (weights with their optimiser
state, a batch, a data set, an image), deliberately generous, compared with the memory limit
(the available memory or ``--max-memory``; ``docs/safety.md#budgets``). Sample counts that
would run for many hours are refused by :func:`~toyforge.core.budget.check_work`. Values the
command itself refuses (negative sizes, a bad ratio) are left to its own checks.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

from toyforge.core.budget import check_memory, check_work
from toyforge.core.errors import InvalidParameter

__all__ = ["check_budget"]

F64 = 8
SCAN_BYTES_PER_POINT = 4096
"""A scan row: float columns, row dict, CSV text (measured: ~2.6 KiB per point at 300 x 300)."""

IMAGE_BYTES_PER_PIXEL = 64
"""A figure pixel: the float image, its RGBA conversion and matplotlib's copies."""

LAW_BYTES_PER_FEATURE = 48
"""Per-feature laws: probabilities, importances and their validated copies (float64)."""

LAW_FILE_FACTOR = 6
"""A ``file:`` law in memory per byte of the ``.npy`` file: the array, a tuple of Python
floats (32 bytes per 8-byte value) and the law's array."""


def _count(value: object) -> int:
    """A size argument as a non-negative int (invalid values are the command's to refuse)."""
    if isinstance(value, (list, tuple)):  # several values: the largest
        return max((_count(item) for item in value), default=0)
    return max(int(value), 0) if isinstance(value, int) else 0


def _hidden(n_features: int, ratio: object) -> int:
    if isinstance(ratio, (list, tuple)):  # several ratios: the largest model
        ratio = max((r for r in ratio if isinstance(r, float) and 0 < r <= 1), default=None)
    if not isinstance(ratio, float) or not 0 < ratio <= 1:
        return 1
    return max(int(n_features * ratio), 1)


def _scan(args: argparse.Namespace) -> None:
    n_points = args.ratios[2] * args.feature_probs[2]
    check_memory(
        "--ratios/--feature-probs",
        f"{args.ratios[2]} x {args.feature_probs[2]} points",
        float(n_points) * SCAN_BYTES_PER_POINT,
        what=f"the {n_points} grid points",
    )


def _autoencoder_bytes(n_features: int, n_hidden: int, batch: int, itemsize: int) -> float:
    """Weights, gradients and two Adam moments; a dense batch with its activations, gradients
    and temporaries (16 batch-sized arrays: the numpy path measured about 13 at n = 2048)."""
    weights = 4 * (2 * n_features * n_hidden + n_features)
    return float(itemsize) * (weights + 16 * batch * max(n_features, n_hidden))


def _law_file_bytes(text: object) -> float:
    """Memory a ``file:PATH`` law takes when read (0 for other laws or a missing file)."""
    if not isinstance(text, str) or not text.strip().startswith("file:"):
        return 0.0
    path = Path(text.strip()[len("file:") :])
    return float(LAW_FILE_FACTOR * path.stat().st_size) if path.is_file() else 0.0


def _feature_laws(args: argparse.Namespace, n_features: int) -> float:
    """Bytes of the per-feature laws of ``--feature-probs`` / ``--importance``, refusing a
    ``file:`` law too large to read."""
    flags = (("--feature-probs", "feature_probs"), ("--importance", "importance"))
    texts = [(flag, getattr(args, name, None)) for flag, name in flags]
    for flag, text in texts:
        check_memory(flag, text, _law_file_bytes(text), what="the law's file")
    if all(text is None for _, text in texts):
        return 0.0
    return float(LAW_BYTES_PER_FEATURE * n_features)


def _train_relu_ae(args: argparse.Namespace) -> None:
    n_features = _count(args.features)
    n_hidden = _hidden(n_features, args.ratio)
    itemsize = 4 if args.dtype == "float32" else F64
    batch = _count(args.batch)
    need = _autoencoder_bytes(n_features, n_hidden, batch, itemsize)
    need += _feature_laws(args, n_features)
    flag, value = ("--batch", args.batch) if batch > n_features else ("--features", args.features)
    check_memory(flag, value, need, what=f"a {n_features} x {n_hidden} autoencoder and its batch")
    samples = _count(args.eval_samples)
    check_work("--eval-samples", args.eval_samples, 4.0 * samples * n_features * n_hidden)


def _train_toy(args: argparse.Namespace) -> None:
    n_features = _count(args.features)
    n_hidden = _count(getattr(args, "hidden", None) or getattr(args, "embed_dim", None) or 1)
    points = _count(args.points) + _count(args.test_points)
    batch = _count(args.batch)
    need = F64 * (4 * points * n_features + 4 * batch * n_features + 8 * n_features * n_hidden)
    check_memory("--points", args.points, need, what=f"{points} points of {n_features} features")


def _rug_bytes(n_features: int, n_hidden: int, batch: int = 0) -> float:
    """The matrix-free rug: the row choice (a permutation of n), its rows, and ``batch`` samples
    with their Walsh-Hadamard transforms."""
    return float(F64) * (4 * n_features + 4 * n_hidden + 3 * batch * n_features)


def _build_persian_rug(args: argparse.Namespace) -> None:
    n_features = _count(args.features)
    n_hidden = _hidden(n_features, args.ratio)
    need = _rug_bytes(n_features, n_hidden)
    check_memory(
        "--features", args.features, need, what=f"the rug's {n_hidden} of {n_features} rows"
    )


def _build_modular_addition(args: argparse.Namespace) -> None:
    modulus = _count(args.modulus)
    n_frequencies = len(args.frequencies) if args.frequencies else max(modulus // 2, 1)
    per_frequency = _count(args.neurons_per_frequency) or 6
    n_hidden = n_frequencies * per_frequency
    chunk = max((1 << 22) // max(modulus, 1), 1)
    need = F64 * (4 * n_hidden * modulus + 2 * modulus**2 + 2 * chunk * n_hidden + (1 << 22))
    flag = "--neurons-per-frequency" if args.neurons_per_frequency else "--modulus"
    value = args.neurons_per_frequency or args.modulus
    check_memory(flag, value, need, what=f"{n_hidden} neurons over {modulus}^2 pairs")


def _figure_rug(args: argparse.Namespace) -> None:
    size = min(_count(args.size), _count(args.features))  # the crop is at most n x n
    check_memory("--size", args.size, float(size) ** 2 * IMAGE_BYTES_PER_PIXEL, what="the image")
    _build_persian_rug(args)


def _double_descent(args: argparse.Namespace) -> None:
    largest = max((_count(size) for size in args.sizes or (0,)), default=0)
    n_features, n_hidden = _count(args.features), _count(args.hidden)
    need = F64 * (6 * (largest + _count(args.test_points)) * n_features + 8 * n_features * n_hidden)
    check_memory("--sizes", largest, need, what=f"{largest} points of {n_features} features")


def _evaluate(args: argparse.Namespace) -> None:
    # deferred: importing the library (numpy, scipy) here would slow down every --help
    from toyforge.constructions.io import FORMATS, read_info

    if Path(args.file).suffix.lower() not in FORMATS or not Path(args.file).is_file():
        return  # the command names the problem
    info = read_info(args.file)  # headers only
    n_parameters = sum(math.prod(shape) for shape in info.arrays.values())
    n_features = max((max(shape, default=1) for shape in info.arrays.values()), default=1)
    batch = _count(args.batch)
    check_memory("--batch", args.batch, F64 * 6.0 * batch * n_features, what="one batch")
    check_work("--samples", args.samples, 2.0 * _count(args.samples) * n_parameters)


MIN_ACTIVE_FEATURES = 100
"""Fewest active features a Monte Carlo comparison must expect over all its samples."""


def _compare_persian_rug(args: argparse.Namespace) -> None:
    _build_persian_rug(args)
    n_features, samples = _count(args.features), _count(args.samples)
    if getattr(args, "train", False):  # the trained model is a dense n x m autoencoder
        n_hidden = _hidden(n_features, args.ratio)
        need = _autoencoder_bytes(n_features, n_hidden, 1024, 4)
        check_memory("--features", args.features, need, what="the trained autoencoder")
    probability = args.feature_prob
    expected = n_features * probability * samples if isinstance(probability, float) else None
    if expected is not None and 0 < probability <= 1 and samples and expected < MIN_ACTIVE_FEATURES:
        raise InvalidParameter(
            "--feature-prob",
            probability,
            f"a value whose Monte Carlo sees features: --features x p x --samples = "
            f"{expected:.3g} active features expected, at least {MIN_ACTIVE_FEATURES} needed "
            "(raise --samples or --feature-prob)",
        )
    n_hidden = _hidden(_count(args.features), args.ratio)
    work = 4.0 * _count(args.samples) * _count(args.features) * n_hidden
    check_work("--samples", args.samples, work)


def _figure_convergence(args: argparse.Namespace) -> None:
    largest = max((_count(size) for size in args.sizes or (0,)), default=0)
    n_hidden = _hidden(largest, args.ratio)
    need = _rug_bytes(largest, n_hidden, batch=1024)
    check_memory("--sizes", largest, need, what=f"a rug of {largest} features")
    check_work("--samples", args.samples, 4.0 * _count(args.samples) * largest * n_hidden)


def _figure_loss_curves(args: argparse.Namespace) -> None:
    n_features = _count(args.features)
    need = _rug_bytes(n_features, n_features, batch=1024)
    if _count(args.train_steps):  # trained models are dense n x m matrices
        need += _autoencoder_bytes(n_features, n_features, 1024, F64)
    check_memory("--features", args.features, need, what=f"models of {n_features} features")


def _demo(args: argparse.Namespace) -> None:
    if args.features is not None:
        n_features = _count(args.features)
        n_hidden = _hidden(n_features, args.ratio)
        need = _autoencoder_bytes(n_features, n_hidden, 1024, F64)
        check_memory("--features", args.features, need, what="the demo's models")


_CHECKS: dict[tuple[str, str | None], Callable[[argparse.Namespace], None]] = {
    ("scan", None): _scan,
    ("train", "relu-ae"): _train_relu_ae,
    ("train", "tms"): _train_toy,
    ("train", "mlp-block"): _train_toy,
    ("train", "unembed"): _train_toy,
    ("build", "persian-rug"): _build_persian_rug,
    ("build", "modular-addition"): _build_modular_addition,
    ("figure", "rug"): _figure_rug,
    ("figure", "convergence"): _figure_convergence,
    ("figure", "loss-curves"): _figure_loss_curves,
    ("double-descent", None): _double_descent,
    ("evaluate", None): _evaluate,
    ("compare", "persian-rug"): _compare_persian_rug,
    ("demo", None): _demo,
}


def check_budget(args: argparse.Namespace) -> None:
    """Refuse the command in ``args`` if its estimated memory or work is above the limits."""
    kind = getattr(args, f"{args.command}_kind", None) if args.command else None
    check = _CHECKS.get((args.command, kind))
    if check is not None:
        check(args)
