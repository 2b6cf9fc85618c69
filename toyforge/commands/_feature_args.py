"""Argument parsing shared by the ``toyforge features`` members: laws, classes, pairs, groups.

Every parser raises :class:`toyforge.core.errors.InvalidParameter` naming the flag, so the CLI
prints one line and exits 2 before any work.
"""

from __future__ import annotations

import math
from typing import Any

from toyforge.core.budget import check_memory
from toyforge.core.errors import InvalidParameter

__all__ = [
    "MAX_FEATURES",
    "feature_distribution",
    "parse_classes",
    "parse_groups",
    "parse_pairs",
    "parse_ratios",
]

MAX_FEATURES = 2**31 - 1


def _number(flag: str, text: str, whole: str) -> float:
    try:
        value = float(text)
    except ValueError as error:
        raise InvalidParameter(flag, whole, "numbers") from error
    if not math.isfinite(value):
        raise InvalidParameter(flag, whole, "finite numbers")
    return value


def parse_ratios(text: str, flag: str = "--ratio") -> tuple[float, ...]:
    """``0.05,0.1`` -> (0.05, 0.1), each > 0."""
    values = tuple(_number(flag, part, text) for part in text.split(",") if part.strip())
    if not values or min(values) <= 0:
        raise InvalidParameter(flag, text, "one or more ratios > 0, comma separated")
    return values


def parse_classes(text: str, flag: str = "--classes") -> tuple[Any, ...]:
    """``FRACTION:PROB[:IMPORTANCE],...`` -> FeatureClass tuple (fractions must sum to 1)."""
    from toyforge.theory.feature_classes import FeatureClass

    classes = []
    for part in text.split(","):
        fields = part.strip().split(":")
        if len(fields) not in (2, 3):
            raise InvalidParameter(flag, text, "FRACTION:PROB[:IMPORTANCE] items, comma separated")
        numbers = [_number(flag, field, text) for field in fields]
        try:
            classes.append(
                FeatureClass(
                    fraction=numbers[0],
                    feature_prob=numbers[1],
                    importance=numbers[2] if len(numbers) == 3 else 1.0,
                )
            )
        except InvalidParameter as error:
            raise InvalidParameter(flag, text, f"{error.name}: {error.allowed}") from error
    total = sum(c.fraction for c in classes)
    if abs(total - 1.0) > 1e-9:
        raise InvalidParameter(flag, text, f"fractions summing to 1 (got {total:g})")
    return tuple(classes)


def parse_pairs(text: str | None, flag: str = "--pairs") -> tuple[Any, ...]:
    """``I:J:RHO,...`` -> CorrelatedPair tuple (RHO in [-1, 1]: negative = anticorrelated)."""
    from toyforge.verify.data.feature_sampler import CorrelatedPair

    if not text:
        return ()
    pairs = []
    for part in text.split(","):
        fields = part.strip().split(":")
        if len(fields) != 3 or not fields[0].isdigit() or not fields[1].isdigit():
            raise InvalidParameter(flag, text, "I:J:RHO items with feature indices I, J")
        rho = _number(flag, fields[2], text)
        try:
            pairs.append(
                CorrelatedPair(first=int(fields[0]), second=int(fields[1]), correlation=rho)
            )
        except InvalidParameter as error:
            raise InvalidParameter(flag, text, error.allowed) from error
    return tuple(pairs)


def parse_groups(text: str | None, flag: str = "--exclusive") -> tuple[tuple[int, ...], ...]:
    """``0:1:2,5:6`` -> ((0, 1, 2), (5, 6)): mutually exclusive groups of feature indices."""
    if not text:
        return ()
    groups = []
    for part in text.split(","):
        fields = part.strip().split(":")
        if len(fields) < 2 or not all(field.isdigit() for field in fields):
            raise InvalidParameter(flag, text, "groups of 2+ feature indices like 0:1:2,5:6")
        groups.append(tuple(int(field) for field in fields))
    return tuple(groups)


def feature_distribution(
    n_features: object,
    feature_probs: str,
    importance: str = "constant:1",
    magnitudes: str = "uniform",
    pairs: str | None = None,
    exclusive: str | None = None,
) -> Any:
    """The :class:`~toyforge.verify.data.feature_sampler.FeatureDistribution` of the flags
    ``--features``, ``--feature-probs``, ``--importance``, ``--magnitudes``, ``--pairs`` and
    ``--exclusive`` (laws as text, docs/non_uniform_features.md#laws-as-text); every refusal
    names its flag."""
    from toyforge.verify.data.feature_sampler import FeatureDistribution
    from toyforge.verify.data.laws import parse_law, parse_magnitudes

    if not isinstance(n_features, int) or not 1 <= n_features <= MAX_FEATURES:
        raise InvalidParameter("--features", n_features, f"an integer in [1, {MAX_FEATURES}]")
    check_memory("--features", n_features, 40.0 * n_features, what="the per-feature laws")
    probs = parse_law(feature_probs, name="--feature-probs").values(n_features)
    weights = parse_law(importance, role="importance", name="--importance").values(n_features)
    magnitude_law = parse_magnitudes(magnitudes, name="--magnitudes")
    pair_list, groups = parse_pairs(pairs), parse_groups(exclusive)
    try:
        return FeatureDistribution.from_laws(
            n_features,
            probs,
            weights,
            magnitudes=magnitude_law,
            pairs=pair_list,
            exclusive_groups=groups,
        )
    except InvalidParameter as error:
        flag = "--pairs" if error.name.startswith("pair") else "--exclusive"
        if error.name == "features" and not groups:
            flag = "--pairs"
        raise InvalidParameter(flag, error.value, error.allowed) from error
