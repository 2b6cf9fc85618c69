"""Argument checks shared by every layer; each raises
:class:`toyforge.core.errors.InvalidParameter`.

A leaf module: it imports only numpy and :mod:`toyforge.core.errors`.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from toyforge.core.errors import InvalidParameter


def check_real(name: str, value: object) -> float:
    """Return ``value`` as a finite float, or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidParameter(name, value, "a finite real number")
    as_float = float(value)
    if not math.isfinite(as_float):
        raise InvalidParameter(name, value, "a finite real number")
    return as_float


def check_interval(
    name: str,
    value: object,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float inside the interval, or raise naming ``name``.

    ``low_open``/``high_open`` exclude the endpoint. Use ``math.inf`` for an unbounded side.
    """
    as_float = check_real(name, value)
    too_low = as_float <= low if low_open else as_float < low
    too_high = as_float >= high if high_open else as_float > high
    if too_low or too_high:
        left = "<" if low_open else "<="
        right = "<" if high_open else "<="
        parts = []
        if math.isfinite(low):
            parts.append(f"{low:g} {left}")
        parts.append(name)
        if math.isfinite(high):
            parts.append(f"{right} {high:g}")
        raise InvalidParameter(name, value, " ".join(parts))
    return as_float


def check_probability(name: str, value: object) -> float:
    """A probability in (0, 1]."""
    return check_interval(name, value, 0.0, 1.0, low_open=True)


def check_int(name: str, value: object, *, minimum: int | None = None) -> int:
    """Return ``value`` as an int (numpy integers accepted, bools and floats refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidParameter(name, value, "an integer")
    as_int = int(value)
    if minimum is not None and as_int < minimum:
        raise InvalidParameter(name, value, f"an integer >= {minimum}")
    return as_int


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    """A string among ``choices``."""
    if value not in choices:
        raise InvalidParameter(name, value, "one of " + ", ".join(repr(c) for c in choices))
    return str(value)


def check_seed(name: str, seed: object) -> int | None:
    """A seed is ``None`` or a non-negative integer."""
    if seed is None:
        return None
    return check_int(name, seed, minimum=0)


def as_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A ``numpy.random.Generator`` from a seed, a generator (returned as is) or ``None``."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(check_seed("seed", seed))
