"""Hypothesis strategies for property tests of toy models: draw valid problem settings.

For users' own test suites (and toyforge's): draw a setting with Hypothesis, build or train a
model, and assert what the theory promises with the checks of
:mod:`toyforge.verify.testing.checks`. In the spirit of xarray's ``xarray.testing.strategies``.

The strategies need the optional dependency (``pip install 'toyforge[testing]'``); Hypothesis
is imported when a strategy is *built*, never when this module or :mod:`toyforge.verify` is
imported:

* :func:`configurations` -> :class:`AutoencoderConfig` ``(n_features, n_hidden,
  feature_prob)`` of the ReLU autoencoder, with ``ratio = n_hidden / n_features`` exactly;
* :func:`primes` -> odd primes (moduli of the modular-addition constructions);
* :func:`frequency_sets` -> sorted tuples of distinct folded frequencies ``1 … (p−1)/2``;
* :func:`key_value_tables` -> :class:`KeyValueTable` of distinct unit-norm keys and values
  (what :func:`toyforge.constructions.dictionary.lookup_table` stores).

Examples
--------
>>> from hypothesis import given, settings
>>> from toyforge.constructions.modular_addition import modular_addition
>>> from toyforge.verify.testing import assert_exact_on_all_inputs, primes
>>> @settings(max_examples=10, deadline=None)
... @given(primes(max_value=47))
... def test_quadratic_construction_is_exact(modulus):
...     assert_exact_on_all_inputs(modular_addition(modulus, 1, 3, "quadratic"))
>>> test_quadratic_construction_is_exact()
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from toyforge.constructions.modular_addition import is_prime
from toyforge.core.errors import InvalidParameter, ToyforgeError
from toyforge.core.validate import check_int, check_interval, check_probability
from toyforge.verify.evaluate.config import SparseDataSpec

if TYPE_CHECKING:  # pragma: no cover - typing only
    from hypothesis.strategies import SearchStrategy

__all__ = [
    "AutoencoderConfig",
    "KeyValueTable",
    "configurations",
    "frequency_sets",
    "key_value_tables",
    "primes",
]

MAX_ENUMERATED_FEATURES = 2**16
"""configurations(power_of_two=False) enumerates the sizes it may draw: at most this many."""
MAX_POWER_OF_TWO_FEATURES = 2**30
MAX_PRIME = 2**20
# floor/ceil tolerance, as persian_rug.hidden_size
# (docs/large_n_theory.md#paper-grid-and-training-recipe)
_RATIO_SLACK = 1e-9
_KEY_ATTEMPTS = 10
_MIN_RAW_KEY_NORM = 1e-3


def _hypothesis_strategies() -> Any:
    """``hypothesis.strategies``, or a ToyforgeError naming the ``testing`` extra."""
    try:
        from hypothesis import strategies
    except ImportError as error:
        raise ToyforgeError(
            "toyforge.verify.testing strategies "
            "need Hypothesis, which is not installed: "
            "pip install 'toyforge[testing]' (or hypothesis>=6.116)"
        ) from error
    return strategies


def _assume(condition: bool) -> None:
    from hypothesis import assume

    assume(condition)


# --------------------------------------------------------------------------- drawn values


@dataclass(frozen=True, kw_only=True, slots=True)
class AutoencoderConfig:
    """One ReLU-autoencoder setting ``(n_features, n_hidden, feature_prob)``.

    The model ``y = ReLU(W_out W_in x + b)`` on sparse data where each of ``n_features``
    features is active with probability ``feature_prob`` (Cowsik, Dolev, Infanger 2024,
    arXiv:2410.12101 §1; docs/large_n_theory.md#model-data-and-loss).
    ``ratio = n_hidden / n_features`` is exact,
    so the theory is evaluated at the model's own ratio and
    ``persian_rug(n_features, ratio, feature_prob)`` has exactly ``n_hidden`` rows.
    """

    n_features: int
    n_hidden: int
    feature_prob: float

    def __post_init__(self) -> None:
        n_features = check_int("n_features", self.n_features, minimum=1)
        n_hidden = check_int("n_hidden", self.n_hidden, minimum=1)
        if n_hidden > n_features:
            raise InvalidParameter(
                "n_hidden", n_hidden, f"1 <= n_hidden <= n_features = {n_features}"
            )
        object.__setattr__(self, "n_features", n_features)
        object.__setattr__(self, "n_hidden", n_hidden)
        object.__setattr__(
            self, "feature_prob", check_probability("feature_prob", self.feature_prob)
        )

    @classmethod
    def from_ratio(cls, n_features: int, ratio: float, feature_prob: float) -> AutoencoderConfig:
        """``n_hidden = max(floor(ratio · n_features), 1)``
        (docs/large_n_theory.md#paper-grid-and-training-recipe)."""
        n_features = check_int("n_features", n_features, minimum=1)
        ratio = check_interval("ratio", ratio, 0.0, 1.0, low_open=True)
        n_hidden = max(int(math.floor(ratio * n_features + _RATIO_SLACK)), 1)
        return cls(n_features=n_features, n_hidden=n_hidden, feature_prob=feature_prob)

    @property
    def ratio(self) -> float:
        """``n_hidden / n_features`` (the theory's r)."""
        return self.n_hidden / self.n_features

    def data_spec(self, value_dist: str = "uniform") -> Any:
        """The sparse data distribution as a
        :class:`toyforge.verify.evaluate.config.SparseDataSpec`."""
        return SparseDataSpec(feature_prob=self.feature_prob, value_dist=value_dist)


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class KeyValueTable:
    """A table of distinct unit-norm keys and their values (docs/memorisation.md#lookup-table).

    Attributes
    ----------
    keys : ndarray, shape (n_keys, key_dim)
        Unit-norm rows, float64, read-only; no two equal (largest pairwise cosine < 1).
    values : ndarray, shape (n_keys, value_dim)
        Finite float64 values, read-only.
    """

    keys: np.ndarray
    values: np.ndarray

    def __post_init__(self) -> None:
        keys = np.array(self.keys, dtype=np.float64, ndmin=2)
        values = np.array(self.values, dtype=np.float64)
        if values.ndim == 1:
            values = values[:, None]
        if keys.ndim != 2 or values.ndim != 2 or values.shape[0] != keys.shape[0]:
            raise InvalidParameter(
                "values",
                values.shape,
                f"(n_keys, value_dim) with n_keys = {keys.shape[0]} rows of keys",
            )
        if not (np.all(np.isfinite(keys)) and np.all(np.isfinite(values))):
            raise InvalidParameter("keys/values", "non-finite entries", "finite numbers")
        norms = np.linalg.norm(keys, axis=1)
        if not np.allclose(norms, 1.0, rtol=0.0, atol=1e-12):
            raise InvalidParameter(
                "keys", f"norms in [{norms.min():.6g}, {norms.max():.6g}]", "unit-norm rows"
            )
        if _largest_cosine(keys) >= 1.0:
            raise InvalidParameter("keys", "two equal keys", "distinct unit-norm keys")
        keys.setflags(write=False)
        values.setflags(write=False)
        object.__setattr__(self, "keys", keys)
        object.__setattr__(self, "values", values)

    @property
    def n_keys(self) -> int:
        """Number of stored entries."""
        return int(self.keys.shape[0])

    @property
    def key_dim(self) -> int:
        """Width of a key (the model's input width)."""
        return int(self.keys.shape[1])

    @property
    def value_dim(self) -> int:
        """Width of a value (the model's output width)."""
        return int(self.values.shape[1])

    @property
    def largest_cosine(self) -> float:
        """Largest cosine between two different keys (-inf for a single key)."""
        return _largest_cosine(self.keys)


def _largest_cosine(unit_keys: np.ndarray) -> float:
    if unit_keys.shape[0] < 2:
        return -math.inf
    cosines = unit_keys @ unit_keys.T
    np.fill_diagonal(cosines, -np.inf)
    return float(cosines.max())


# --------------------------------------------------------------------------- strategies


def _valid_sizes(
    min_features: int,
    max_features: int,
    power_of_two: bool,
    hidden_range: Callable[[int], tuple[int, int]],
) -> list[int]:
    if power_of_two:
        sizes = [1 << k for k in range(1, 31) if min_features <= 1 << k <= max_features]
    else:
        if max_features - min_features >= MAX_ENUMERATED_FEATURES:
            raise InvalidParameter(
                "max_features",
                max_features,
                f"at most min_features + {MAX_ENUMERATED_FEATURES - 1} (or power_of_two=True)",
            )
        sizes = list(range(min_features, max_features + 1))
    return [n for n in sizes if hidden_range(n)[0] <= hidden_range(n)[1]]


def configurations(
    *,
    min_features: int = 2,
    max_features: int = 64,
    power_of_two: bool = False,
    min_ratio: float = 0.05,
    max_ratio: float = 1.0,
    min_feature_prob: float = 0.01,
    max_feature_prob: float = 1.0,
) -> SearchStrategy[AutoencoderConfig]:
    """Strategy of valid :class:`AutoencoderConfig` values.

    Draws ``n_features`` in ``[min_features, max_features]`` (only powers of two >= 2 with
    ``power_of_two=True``, as the Persian-rug construction needs), then ``n_hidden`` with
    ``min_ratio <= n_hidden / n_features <= max_ratio`` (sizes where no integer fits are never
    drawn), then ``feature_prob`` in ``[min_feature_prob, max_feature_prob]``. Shrinks towards
    the smallest size, the fewest neurons and simple probabilities.

    Parameters
    ----------
    min_features, max_features : int
        Bounds of n_features (1 <= min <= max; at most 2^16 sizes unless ``power_of_two``,
        powers up to 2^30).
    power_of_two : bool
    min_ratio, max_ratio : float
        Bounds of r = n_hidden / n_features, 0 < min <= max <= 1.
    min_feature_prob, max_feature_prob : float
        Bounds of p, 0 < min <= max <= 1.

    Raises
    ------
    InvalidParameter
        Bounds out of range or in the wrong order, or no size fits them.
    ToyforgeError
        Hypothesis is not installed (``pip install 'toyforge[testing]'``).
    """
    min_features = check_int("min_features", min_features, minimum=1)
    max_features = check_int("max_features", max_features, minimum=min_features)
    if power_of_two and max_features > MAX_POWER_OF_TWO_FEATURES:
        raise InvalidParameter("max_features", max_features, "<= 2^30 with power_of_two")
    min_ratio = check_interval("min_ratio", min_ratio, 0.0, 1.0, low_open=True)
    max_ratio = check_interval("max_ratio", max_ratio, min_ratio, 1.0)
    min_feature_prob = check_probability("min_feature_prob", min_feature_prob)
    max_feature_prob = check_interval("max_feature_prob", max_feature_prob, min_feature_prob, 1.0)

    def hidden_range(n_features: int) -> tuple[int, int]:
        low = max(1, math.ceil(min_ratio * n_features - _RATIO_SLACK))
        return low, min(n_features, math.floor(max_ratio * n_features + _RATIO_SLACK))

    sizes = _valid_sizes(min_features, max_features, bool(power_of_two), hidden_range)
    if not sizes:
        raise InvalidParameter(
            "min_ratio/max_ratio",
            (min_ratio, max_ratio),
            f"a range that contains n_hidden / n_features for some "
            f"n_features in [{min_features}, {max_features}]"
            + (" (powers of two)" if power_of_two else ""),
        )
    st = _hypothesis_strategies()

    @st.composite
    def draw_configuration(draw: Any) -> AutoencoderConfig:
        n_features = draw(st.sampled_from(sizes))
        n_hidden = draw(st.integers(*hidden_range(n_features)))
        feature_prob = draw(st.floats(min_feature_prob, max_feature_prob))
        return AutoencoderConfig(
            n_features=n_features, n_hidden=n_hidden, feature_prob=feature_prob
        )

    return draw_configuration()


def _prime_list(min_value: int, max_value: int) -> list[int]:
    sieve = np.ones(max_value + 1, dtype=bool)
    sieve[:2] = False
    for divisor in range(2, math.isqrt(max_value) + 1):
        if sieve[divisor]:
            sieve[divisor * divisor :: divisor] = False
    return [int(n) for n in np.flatnonzero(sieve) if n >= min_value]


def primes(min_value: int = 3, max_value: int = 257) -> SearchStrategy[int]:
    """Strategy of primes in ``[min_value, max_value]``, shrinking towards the smallest.

    The default (3 … 257) covers the odd primes the modular-addition constructions accept
    cheaply (docs/modular_addition.md#margins-and-exactness); ``min_value=2`` admits 2, which they
    refuse.
    ``max_value`` <= 2^20.
    """
    min_value = check_int("min_value", min_value, minimum=2)
    max_value = check_int("max_value", max_value, minimum=min_value)
    if max_value > MAX_PRIME:
        raise InvalidParameter("max_value", max_value, f"<= 2^20 = {MAX_PRIME}")
    values = _prime_list(min_value, max_value)
    if not values:
        raise InvalidParameter(
            "min_value/max_value", (min_value, max_value), "a range that contains a prime"
        )
    return _hypothesis_strategies().sampled_from(values)


def frequency_sets(
    modulus: int, *, min_size: int = 1, max_size: int = 3
) -> SearchStrategy[tuple[int, ...]]:
    """Strategy of sets of distinct folded frequencies mod an odd prime, as sorted tuples.

    Frequencies k and p − k act alike in the Fourier constructions
    (docs/modular_addition.md#the-architecture), so frequencies are drawn from ``1 … (p−1)/2``;
    ``max_size`` is capped at (p−1)/2, so
    one call works for every drawn modulus::

        primes(max_value=61).flatmap(lambda p: frequency_sets(p).map(lambda ks: (p, ks)))
    """
    modulus = check_int("modulus", modulus, minimum=3)
    if not is_prime(modulus):
        raise InvalidParameter("modulus", modulus, "an odd prime")
    half = (modulus - 1) // 2
    min_size = check_int("min_size", min_size, minimum=1)
    if min_size > half:
        raise InvalidParameter("min_size", min_size, f"at most (p−1)/2 = {half} for p = {modulus}")
    max_size = min(check_int("max_size", max_size, minimum=min_size), half)
    st = _hypothesis_strategies()
    return st.lists(st.integers(1, half), min_size=min_size, max_size=max_size, unique=True).map(
        lambda ks: tuple(sorted(ks))
    )


def _size_strategy(st: Any, name: str, value: Any) -> Any:
    if hasattr(value, "example") and hasattr(value, "map"):  # already a SearchStrategy
        return value
    return st.just(check_int(name, value, minimum=1))


def key_value_tables(
    n_keys: int | SearchStrategy[int],
    key_dim: int | SearchStrategy[int],
    value_dim: int | SearchStrategy[int],
    *,
    max_cosine: float = 0.99,
    value_bound: float = 10.0,
) -> SearchStrategy[KeyValueTable]:
    """Strategy of :class:`KeyValueTable` with distinct unit-norm keys.

    Each key is a vector of floats in [−1, 1] (norm >= 1e-3) normalised to unit length, and
    redrawn (up to 10 times, then the example is rejected) while its cosine with an earlier
    key exceeds ``max_cosine``; values are floats in ``[−value_bound, value_bound]``. Such keys
    satisfy the exactness condition of the lookup-table construction
    (docs/memorisation.md#lookup-table: no key overlaps another by as much as its own norm) with
    room to spare.

    Parameters
    ----------
    n_keys, key_dim, value_dim : int or strategy of int
        Sizes (>= 1), fixed or drawn. One-dimensional keys admit at most 2 entries (±1).
    max_cosine : float in (0, 1)
        Largest allowed cosine between two keys; close to 1 allows nearly parallel keys.
    value_bound : float > 0
    """
    max_cosine = check_interval("max_cosine", max_cosine, 0.0, 1.0, low_open=True, high_open=True)
    value_bound = check_interval("value_bound", value_bound, 0.0, math.inf, low_open=True)
    if isinstance(key_dim, numbers.Integral) and isinstance(n_keys, numbers.Integral):
        if int(key_dim) == 1 and int(n_keys) > 2:
            raise InvalidParameter(
                "n_keys", n_keys, "at most 2 distinct unit keys when key_dim = 1"
            )
    st = _hypothesis_strategies()
    sizes = st.tuples(
        _size_strategy(st, "n_keys", n_keys),
        _size_strategy(st, "key_dim", key_dim),
        _size_strategy(st, "value_dim", value_dim),
    )
    coordinate = st.floats(-1.0, 1.0, allow_subnormal=False)
    value = st.floats(-value_bound, value_bound, allow_subnormal=False)

    @st.composite
    def draw_table(draw: Any) -> KeyValueTable:
        count, width, value_width = draw(sizes)
        _assume(width > 1 or count <= 2)
        keys: list[np.ndarray] = []
        for _ in range(count):
            keys.append(
                _draw_key(
                    draw, st.lists(coordinate, min_size=width, max_size=width), keys, max_cosine
                )
            )
        flat = draw(st.lists(value, min_size=count * value_width, max_size=count * value_width))
        return KeyValueTable(
            keys=np.array(keys), values=np.array(flat, dtype=np.float64).reshape(count, value_width)
        )

    return draw_table()


def _draw_key(draw: Any, vectors: Any, earlier: list[np.ndarray], max_cosine: float) -> np.ndarray:
    for _ in range(_KEY_ATTEMPTS):
        raw = np.array(draw(vectors), dtype=np.float64)
        norm = float(np.linalg.norm(raw))
        if norm < _MIN_RAW_KEY_NORM:
            continue
        key = raw / norm
        if all(float(key @ other) <= max_cosine for other in earlier):
            return key
    _assume(False)
    raise AssertionError("unreachable: assume(False) rejects the example")  # pragma: no cover


# --------------------------------------------------------------------------- check results
