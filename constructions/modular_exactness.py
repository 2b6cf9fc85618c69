"""Exact enumeration of modular-addition MLPs over all p² pairs, and the argument checks the
modular-addition builders share.

:func:`exactness` evaluates a :class:`~toyforge.constructions.models.ModularAdditionMLP` on
every ordered pair ``(a, b)`` in float64 and reports accuracy and the min margin (correct logit
− best wrong logit); every construction of :mod:`toyforge.constructions.modular_addition` is
checked with it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from toyforge.constructions.models import ModularAdditionMLP, apply_activation
from toyforge.core.errors import InvalidParameter
from toyforge.core.validate import check_int

__all__ = [
    "ACTIVATIONS",
    "MAX_ENUMERATED_MODULUS",
    "ExactnessReport",
    "all_pair_logits",
    "exactness",
    "fold_frequency",
    "is_prime",
]

ACTIVATIONS = ("relu", "quadratic")
MAX_ENUMERATED_MODULUS = 2048
_CHUNK_ELEMENTS = 4_000_000
MAX_AMPLITUDE = 1e100
"""Largest readout amplitude (and 1/MAX_AMPLITUDE the smallest): logits stay finite."""


def is_prime(number: int) -> bool:
    """Trial-division primality test (moduli here are small)."""
    if number < 2:
        return False
    if number % 2 == 0:
        return number == 2
    return all(number % divisor for divisor in range(3, math.isqrt(number) + 1, 2))


def _check_modulus(modulus: object) -> int:
    value = check_int("modulus", modulus, minimum=3)
    if not is_prime(value):
        raise InvalidParameter(
            "modulus",
            value,
            "an odd prime (the Fourier constructions need "
            "every non-zero frequency to be invertible mod p)",
        )
    if value > MAX_ENUMERATED_MODULUS:
        raise InvalidParameter(
            "modulus",
            value,
            f"a prime <= {MAX_ENUMERATED_MODULUS} (every construction is verified on all p² pairs)",
        )
    return value


def fold_frequency(frequency: int, modulus: int) -> int:
    """The folded frequency min(k mod p, p − k mod p) in 1…(p−1)/2 (k and p − k coincide)."""
    k = frequency % modulus
    return min(k, modulus - k)


def _check_frequencies(frequencies: Sequence[int] | int, modulus: int) -> tuple[int, ...]:
    items = (frequencies,) if isinstance(frequencies, (int, np.integer)) else tuple(frequencies)
    if not items:
        raise InvalidParameter("frequencies", frequencies, "at least one frequency")
    folded = []
    for item in items:
        k = check_int("frequencies", item)
        if k % modulus == 0:
            raise InvalidParameter("frequencies", k, f"integers not divisible by p = {modulus}")
        folded.append(fold_frequency(k, modulus))
    if len(set(folded)) != len(folded):
        raise InvalidParameter("frequencies", items, "distinct frequencies after folding k ≡ p − k")
    return tuple(folded)


def _check_amplitudes(amplitudes: Sequence[float] | float | None, n_frequencies: int) -> np.ndarray:
    if amplitudes is None:
        return np.ones(n_frequencies)
    values = np.atleast_1d(np.asarray(amplitudes, dtype=np.float64))
    if values.size == 1:
        values = np.full(n_frequencies, float(values[0]))
    if values.shape != (n_frequencies,) or not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise InvalidParameter(
            "amplitudes",
            amplitudes,
            f"one positive amplitude or {n_frequencies} (one per frequency)",
        )
    if np.any(values < 1 / MAX_AMPLITUDE) or np.any(values > MAX_AMPLITUDE):
        raise InvalidParameter(
            "amplitudes",
            amplitudes,
            f"amplitudes between {1 / MAX_AMPLITUDE:g} and {MAX_AMPLITUDE:g} (the logits scale "
            "with them; beyond, margins and cross-entropies over- or underflow in float64)",
        )
    return values


# --------------------------------------------------------------------------- exact enumeration


@dataclass(frozen=True, kw_only=True, slots=True)
class ExactnessReport:
    """Exact check of a model on all p² ordered pairs (float64).

    ``margin`` = min over pairs of (correct logit − best wrong logit) (negative when some pair
    is wrong); ``relative_margin`` = margin / max |logit|, the scale-free version (float32
    rounding is ≈ 6e-8 relative).
    """

    modulus: int
    n_pairs: int
    n_wrong: int
    accuracy: float
    margin: float
    max_abs_logit: float
    relative_margin: float

    @property
    def exact(self) -> bool:
        """True when every pair is right with a positive margin."""
        return self.n_wrong == 0 and self.margin > 0


def all_pair_logits(model: ModularAdditionMLP, first_operands: np.ndarray) -> np.ndarray:
    """Logits for the pairs (a, b), a in ``first_operands``, every b: shape (len(a) · p, p)."""
    modulus = model.modulus
    left = np.asarray(model.input_matrix(), dtype=np.float64)[first_operands]
    right = np.asarray(model.right_input_matrix(), dtype=np.float64)
    pre = left[:, None, :] + right[None, :, :]
    hidden = apply_activation(model.activation, pre).reshape(-1, model.n_hidden)
    return hidden @ np.asarray(model.W_out, dtype=np.float64).reshape(model.n_hidden, modulus)


def exactness(model: ModularAdditionMLP) -> ExactnessReport:
    """Accuracy and min margin of ``model`` over all p² pairs, in float64
    (docs/modular_addition.md#margins-and-exactness)."""
    modulus = model.modulus
    rows_per_chunk = max(1, _CHUNK_ELEMENTS // (modulus * max(modulus, model.n_hidden)))
    n_wrong, margin, max_abs = 0, math.inf, 0.0
    b = np.arange(modulus)
    for start in range(0, modulus, rows_per_chunk):
        a = np.arange(start, min(start + rows_per_chunk, modulus))
        logits = all_pair_logits(model, a)
        target = ((a[:, None] + b[None, :]) % modulus).ravel()
        rows = np.arange(len(target))
        correct = logits[rows, target].copy()
        max_abs = max(max_abs, float(np.max(np.abs(logits))))
        logits[rows, target] = -np.inf
        gaps = correct - logits.max(axis=1)
        n_wrong += int(np.count_nonzero(gaps <= 0))
        margin = min(margin, float(gaps.min()))
    n_pairs = modulus * modulus
    return ExactnessReport(
        modulus=modulus,
        n_pairs=n_pairs,
        n_wrong=n_wrong,
        accuracy=1.0 - n_wrong / n_pairs,
        margin=margin,
        max_abs_logit=max_abs,
        relative_margin=margin / max_abs if max_abs > 0 else 0.0,
    )
