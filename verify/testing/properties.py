"""Property testing of toy models: public Hypothesis strategies and statistical checks.

For users' own test suites (and toyforge's): draw valid problem settings with Hypothesis, build
or train a model, and assert what the theory promises with an honest tolerance. In the spirit
of xarray's ``xarray.testing.strategies`` (spec aesthetics_ecosystem.md §E, §4.7).

Strategies (need the optional dependency: ``pip install 'toyforge[testing]'``; Hypothesis is
imported when a strategy is *built*, never when this module or :mod:`toyforge.verify` is
imported):

* :func:`configurations` -> :class:`AutoencoderConfig` ``(n_features, n_hidden,
  feature_prob)`` of the ReLU autoencoder, with ``ratio = n_hidden / n_features`` exactly;
* :func:`primes` -> odd primes (moduli of the modular-addition constructions);
* :func:`frequency_sets` -> sorted tuples of distinct folded frequencies ``1 … (p−1)/2``;
* :func:`key_value_tables` -> :class:`KeyValueTable` of distinct unit-norm keys and values
  (what :func:`toyforge.constructions.dictionary.lookup_table` stores).

Checks (numpy only) return a frozen :class:`CheckResult` ``(passed, statistic, threshold,
message)``; each ``assert_*`` variant raises :class:`AssertionError` with the message when the
check fails and returns the result otherwise:

* :func:`check_loss_at_most` / :func:`assert_loss_at_most`: a construction's loss is at most a
  baseline's loss plus ``n_se`` combined standard errors;
* :func:`check_exact_on_all_inputs` / :func:`assert_exact_on_all_inputs`: a modular-addition MLP
  is right on all p² pairs with a positive margin (exact enumeration), or a model reproduces a
  finite table of inputs exactly (lookup tables);
* :func:`check_theory_matches_monte_carlo` / :func:`assert_theory_matches_monte_carlo`: a
  theoretical value lies within ``n_se`` standard errors (plus a relative tolerance) of a Monte
  Carlo estimate.

Tolerances are stated in standard errors (DESIGN.md "Numbers"): with Gaussian errors a true
statement fails a two-sided ``n_se = 4`` check with probability 6e-5, ``n_se = 5`` with 6e-7 —
choose ``n_se`` from the number of examples a test draws.

Examples
--------
>>> from hypothesis import given, settings
>>> from toyforge.constructions.modular_addition import modular_addition
>>> from toyforge.verify.testing.properties import assert_exact_on_all_inputs, primes
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

from toyforge.constructions.models import ModularAdditionMLP
from toyforge.core.errors import InvalidParameter, ToyforgeError
from toyforge.core.validate import check_int, check_interval, check_probability
from toyforge.verify.evaluate.estimate import Estimate

if TYPE_CHECKING:  # pragma: no cover - typing only
    from hypothesis.strategies import SearchStrategy

__all__ = [
    "AutoencoderConfig",
    "CheckResult",
    "KeyValueTable",
    "assert_exact_on_all_inputs",
    "assert_loss_at_most",
    "assert_theory_matches_monte_carlo",
    "check_exact_on_all_inputs",
    "check_loss_at_most",
    "check_theory_matches_monte_carlo",
    "configurations",
    "frequency_sets",
    "key_value_tables",
    "primes",
]

MAX_ENUMERATED_FEATURES = 2**16
"""configurations(power_of_two=False) enumerates the sizes it may draw: at most this many."""
MAX_POWER_OF_TWO_FEATURES = 2**30
MAX_PRIME = 2**20
_RATIO_SLACK = 1e-9  # floor/ceil tolerance, as persian_rug.hidden_size (spec §5, §8.9)
_KEY_ATTEMPTS = 10
_MIN_RAW_KEY_NORM = 1e-3


def _hypothesis_strategies() -> Any:
    """``hypothesis.strategies``, or a ToyforgeError naming the ``testing`` extra."""
    try:
        from hypothesis import strategies
    except ImportError as error:
        raise ToyforgeError(
            "toyforge.verify.testing.properties strategies "
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
    arXiv:2410.12101 §1; spec persian_rug.md §1). ``ratio = n_hidden / n_features`` is exact,
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
        """``n_hidden = max(floor(ratio · n_features), 1)`` (spec persian_rug.md §5, §8.9)."""
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
        :class:`toyforge.verify.evaluate.evaluators.SparseDataSpec`."""
        from toyforge.verify.evaluate.evaluators import SparseDataSpec

        return SparseDataSpec(feature_prob=self.feature_prob, value_dist=value_dist)


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class KeyValueTable:
    """A table of distinct unit-norm keys and their values (spec memorization.md §6.1).

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
    cheaply (spec modular_addition.md §2); ``min_value=2`` admits 2, which they refuse.
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

    Frequencies k and p − k act alike in the Fourier constructions (spec modular_addition.md
    §2), so frequencies are drawn from ``1 … (p−1)/2``; ``max_size`` is capped at (p−1)/2, so
    one call works for every drawn modulus::

        primes(max_value=61).flatmap(lambda p: frequency_sets(p).map(lambda ks: (p, ks)))
    """
    from toyforge.constructions.modular_addition import is_prime

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
    satisfy the exactness condition of the lookup-table construction (spec memorization.md
    §6.1: no key overlaps another by as much as its own norm) with room to spare.

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


@dataclass(frozen=True, kw_only=True, slots=True)
class CheckResult:
    """Outcome of a property check.

    Attributes
    ----------
    passed : bool
    statistic : float
        What was measured (each check's docstring says what, and how it is compared).
    threshold : float
        What it was compared with.
    message : str
        One human-readable sentence with the numbers, for passing and failing checks alike.

    ``bool(result)`` is ``result.passed``; :meth:`raise_if_failed` raises AssertionError.
    """

    passed: bool
    statistic: float
    threshold: float
    message: str

    def __bool__(self) -> bool:
        return bool(self.passed)

    def raise_if_failed(self) -> CheckResult:
        """Raise :class:`AssertionError` with :attr:`message` unless the check passed."""
        if not self.passed:
            raise AssertionError(self.message)
        return self


def _as_estimate(name: str, value: Any) -> Estimate:
    """An Estimate from an Estimate, a result with an ``estimate`` property or with ``loss``,
    ``stderr`` and ``n_samples`` attributes, or an exact number."""
    if isinstance(value, Estimate):
        return value
    nested = getattr(value, "estimate", None)
    if isinstance(nested, Estimate):
        return nested
    if all(hasattr(value, name) for name in ("loss", "stderr", "n_samples")):
        # e.g. toyforge.verify.compare.persian_rug.TrainedPoint
        return Estimate(
            value=float(value.loss), stderr=float(value.stderr), n_samples=int(value.n_samples)
        )
    if np.ndim(value) == 0 and np.asarray(value).dtype.kind in "iuf":
        number = float(np.asarray(value))
        if not math.isfinite(number):
            raise InvalidParameter(name, value, "a finite number or an Estimate")
        return Estimate(value=number, stderr=0.0, n_samples=1, exact=True)
    raise InvalidParameter(
        name,
        type(value).__name__,
        "an Estimate, a result with an "
        "'estimate' property or loss/stderr/n_samples, or a real number",
    )


def _check_tolerances(n_se: float, rel_tol: float) -> tuple[float, float]:
    return (
        check_interval("n_se", n_se, 0.0, math.inf),
        check_interval("rel_tol", rel_tol, 0.0, math.inf),
    )


def _describe(estimate: Estimate) -> str:
    return f"{estimate.value:.6g} (exact)" if estimate.exact else str(estimate)


def _allowance(n_se: float, stderr: float, rel_tol: float, reference: float, what: str) -> str:
    text = f"{n_se:g} × combined SE {stderr:.3g}"
    if rel_tol:
        text += f" + rel_tol {rel_tol:g} × |{what}| {abs(reference):.6g}"
    return text


# --------------------------------------------------------------------------- loss comparison


def check_loss_at_most(
    construction_estimate: Any, baseline_estimate: Any, *, n_se: float = 3.0, rel_tol: float = 0.0
) -> CheckResult:
    """Is a construction's loss at most a baseline's loss, up to ``n_se`` combined SE?

    Passes iff ``construction − baseline <= n_se · sqrt(SE_c² + SE_b²) + rel_tol · |baseline|``
    (statistic: the difference; threshold: the right-hand side). The combined SE treats the
    two estimates as independent; estimates on the same samples are positively correlated,
    which makes the check conservative (harder to fail).

    Parameters
    ----------
    construction_estimate, baseline_estimate : Estimate, result, or float
        E.g. :func:`toyforge.verify.evaluate.evaluators.evaluate` of a construction and of a trained
        model (``TrainResult.final_eval``, or a ``TrainedPoint`` of
        :func:`toyforge.verify.compare.persian_rug.train_autoencoder`); results with an ``estimate``
        property or ``loss``/``stderr``/``n_samples`` attributes are accepted; a plain number
        counts as exact.
    n_se : float >= 0
    rel_tol : float >= 0
        Extra allowance relative to the baseline (known systematic effects).
    """
    construction = _as_estimate("construction_estimate", construction_estimate)
    baseline = _as_estimate("baseline_estimate", baseline_estimate)
    n_se, rel_tol = _check_tolerances(n_se, rel_tol)
    stderr = math.hypot(construction.stderr, baseline.stderr)
    difference = construction.value - baseline.value
    threshold = n_se * stderr + rel_tol * abs(baseline.value)
    passed = difference <= threshold
    in_se = f" ({difference / stderr:+.2f} SE)" if stderr > 0 else ""
    message = (
        f"construction loss {_describe(construction)} "
        f"{'is at most' if passed else 'exceeds'} baseline loss {_describe(baseline)}: "
        f"difference {difference:.4g}{in_se} {'<=' if passed else '>'} allowed "
        f"{threshold:.4g} = {_allowance(n_se, stderr, rel_tol, baseline.value, 'baseline')}"
    )
    return CheckResult(passed=passed, statistic=difference, threshold=threshold, message=message)


def assert_loss_at_most(
    construction_estimate: Any, baseline_estimate: Any, *, n_se: float = 3.0, rel_tol: float = 0.0
) -> CheckResult:
    """:func:`check_loss_at_most`, raising AssertionError with its message when it fails."""
    return check_loss_at_most(
        construction_estimate, baseline_estimate, n_se=n_se, rel_tol=rel_tol
    ).raise_if_failed()


# --------------------------------------------------------------------------- theory vs MC


def check_theory_matches_monte_carlo(
    theory_value: Any, estimate: Any, *, n_se: float = 4.0, rel_tol: float = 0.0
) -> CheckResult:
    """Is a theoretical value within ``n_se`` standard errors of a Monte Carlo estimate?

    Passes iff ``|estimate − theory| <= n_se · SE + rel_tol · |theory|`` (statistic: the
    absolute difference; threshold: the right-hand side). ``SE`` is the estimate's standard
    error, combined with the theory's if ``theory_value`` is itself an Estimate (e.g. a
    numerically integrated or finite-N theory). Use ``rel_tol`` only for a known, bounded
    systematic gap (e.g. large-N theory against a finite model) and say so in the test.

    Parameters
    ----------
    theory_value : float, 0-d array or Estimate
        E.g. ``toyforge.theory.predict(ratio, feature_prob).symmetric_loss``.
    estimate : Estimate or result with ``.estimate``
    n_se, rel_tol : float >= 0
    """
    theory = _as_estimate("theory_value", theory_value)
    measured = _as_estimate("estimate", estimate)
    n_se, rel_tol = _check_tolerances(n_se, rel_tol)
    stderr = math.hypot(theory.stderr, measured.stderr)
    difference = measured.value - theory.value
    threshold = n_se * stderr + rel_tol * abs(theory.value)
    passed = abs(difference) <= threshold
    in_se = f" ({difference / stderr:+.2f} SE)" if stderr > 0 else ""
    message = (
        f"Monte Carlo {_describe(measured)} {'matches' if passed else 'does not match'} "
        f"theory {_describe(theory)}: |difference| {abs(difference):.4g}{in_se} "
        f"{'<=' if passed else '>'} allowed {threshold:.4g} = "
        f"{_allowance(n_se, stderr, rel_tol, theory.value, 'theory')}"
    )
    return CheckResult(
        passed=passed, statistic=abs(difference), threshold=threshold, message=message
    )


def assert_theory_matches_monte_carlo(
    theory_value: Any, estimate: Any, *, n_se: float = 4.0, rel_tol: float = 0.0
) -> CheckResult:
    """:func:`check_theory_matches_monte_carlo`, raising AssertionError when it fails."""
    return check_theory_matches_monte_carlo(
        theory_value, estimate, n_se=n_se, rel_tol=rel_tol
    ).raise_if_failed()


# --------------------------------------------------------------------------- exactness


def check_exact_on_all_inputs(
    model: Any,
    inputs: Any = None,
    targets: Any = None,
    *,
    labels: Any = None,
    min_margin: float = 0.0,
    rtol: float = 1e-9,
    atol: float = 1e-12,
) -> CheckResult:
    """Is ``model`` exact on every input of a finite task?

    Three cases:

    * :class:`~toyforge.constructions.models.ModularAdditionMLP` (no ``inputs``): every one of
      the p² ordered pairs is enumerated in float64
      (:func:`toyforge.constructions.modular_addition.exactness`). Passes iff accuracy is 1
      and the margin (min over pairs of correct logit − best wrong logit) exceeds
      ``min_margin`` (statistic: the margin; threshold: ``min_margin``; spec
      modular_addition.md §2).
    * ``labels`` (int array, shape (n_inputs,)): ``model.forward(inputs)`` gives scores of shape
      (n_inputs, n_classes); passes iff on every input the labelled score beats every other by
      more than ``min_margin`` (statistic: the smallest such margin; threshold:
      ``min_margin``).
    * ``targets`` (shape (n_inputs,) or (n_inputs, n_outputs)), or ``inputs`` a
      :class:`KeyValueTable` (keys as inputs, values as targets): passes iff
      ``max |forward(inputs) − targets| <= atol + rtol · max |targets|`` (statistic: the
      largest error; threshold: the right-hand side). A lookup table
      (:func:`toyforge.constructions.dictionary.lookup_table`, spec memorization.md §6.1)
      reproduces its values up to rounding.

    Parameters
    ----------
    model : ModularAdditionMLP, or any model with ``forward(x)``
    inputs : array, shape (n_inputs, n_features), or KeyValueTable
    targets : array, optional
    labels : int array, optional
    min_margin : float >= 0
    rtol, atol : float >= 0
    """
    min_margin = check_interval("min_margin", min_margin, 0.0, math.inf)
    rtol = check_interval("rtol", rtol, 0.0, math.inf)
    atol = check_interval("atol", atol, 0.0, math.inf)
    if isinstance(model, ModularAdditionMLP):
        if inputs is not None or targets is not None or labels is not None:
            raise InvalidParameter(
                "inputs",
                "given",
                "nothing for a modular-addition model (all p² pairs are enumerated)",
            )
        return _modular_exactness(model, min_margin)
    if not callable(getattr(model, "forward", None)):
        raise InvalidParameter(
            "model", type(model).__name__, "a ModularAdditionMLP or a model with forward(x)"
        )
    if isinstance(inputs, KeyValueTable):
        if targets is not None or labels is not None:
            raise InvalidParameter("targets", "given", "nothing when inputs is a KeyValueTable")
        inputs, targets = inputs.keys, inputs.values
    if inputs is None or (targets is None) == (labels is None):
        raise InvalidParameter(
            "inputs/targets/labels",
            "missing or both",
            "inputs with exactly one of targets or labels",
        )
    input_array = np.asarray(inputs, dtype=np.float64)
    if input_array.ndim != 2 or input_array.shape[0] < 1:
        raise InvalidParameter("inputs", input_array.shape, "shape (n_inputs >= 1, n_features)")
    outputs = np.asarray(model.forward(input_array), dtype=np.float64)
    if labels is not None:
        return _label_exactness(outputs, labels, min_margin)
    return _target_exactness(outputs, targets, rtol, atol)


def _modular_exactness(model: ModularAdditionMLP, min_margin: float) -> CheckResult:
    from toyforge.constructions.modular_addition import exactness

    report = exactness(model)
    passed = report.n_wrong == 0 and report.margin > min_margin
    message = (
        f"modular addition mod {report.modulus} ({model.activation}, {model.n_hidden} "
        f"neurons): {report.n_wrong} of {report.n_pairs} pairs wrong, margin "
        f"{report.margin:.4g} {'>' if report.margin > min_margin else '<='} "
        f"{min_margin:g} (relative to max |logit| {report.max_abs_logit:.4g}: "
        f"{report.relative_margin:.3g}); {'exact' if passed else 'NOT exact'} on all pairs"
    )
    return CheckResult(
        passed=passed, statistic=report.margin, threshold=min_margin, message=message
    )


def _label_exactness(outputs: np.ndarray, labels: Any, min_margin: float) -> CheckResult:
    label_array = np.asarray(labels)
    if (
        outputs.ndim != 2
        or outputs.shape[1] < 2
        or label_array.dtype.kind not in "iu"
        or label_array.shape != (outputs.shape[0],)
    ):
        raise InvalidParameter(
            "labels",
            label_array.shape,
            f"integer labels of shape "
            f"({outputs.shape[0]},) for scores of shape (n_inputs, "
            f"n_classes >= 2); the model gives {outputs.shape}",
        )
    if label_array.min() < 0 or label_array.max() >= outputs.shape[1]:
        raise InvalidParameter("labels", "out of range", f"classes in [0, {outputs.shape[1]})")
    rows = np.arange(outputs.shape[0])
    correct = outputs[rows, label_array].copy()
    others = outputs.copy()
    others[rows, label_array] = -np.inf
    margins = correct - others.max(axis=1)
    worst = int(np.argmin(margins))
    n_wrong = int(np.count_nonzero(margins <= 0))
    passed = bool(margins[worst] > min_margin)
    message = (
        f"{n_wrong} of {len(margins)} inputs misclassified, smallest margin "
        f"{margins[worst]:.4g} {'>' if passed else '<='} {min_margin:g} (input {worst}, "
        f"label {int(label_array[worst])}); {'exact' if passed else 'NOT exact'}"
    )
    return CheckResult(
        passed=passed, statistic=float(margins[worst]), threshold=min_margin, message=message
    )


def _target_exactness(outputs: np.ndarray, targets: Any, rtol: float, atol: float) -> CheckResult:
    target_array = np.asarray(targets, dtype=np.float64)
    if target_array.ndim == 1 and outputs.ndim == 2 and outputs.shape[1] == 1:
        target_array = target_array[:, None]
    if target_array.shape != outputs.shape:
        raise InvalidParameter(
            "targets", target_array.shape, f"the model's output shape {outputs.shape}"
        )
    errors = np.abs(outputs - target_array).reshape(len(outputs), -1).max(axis=1)
    worst = int(np.argmax(errors))
    threshold = atol + rtol * float(np.max(np.abs(target_array), initial=0.0))
    passed = bool(errors[worst] <= threshold)
    n_off = int(np.count_nonzero(errors > threshold))
    message = (
        f"{n_off} of {len(errors)} inputs off: largest error {errors[worst]:.4g} "
        f"(input {worst}) {'<=' if passed else '>'} allowed {threshold:.4g} = atol "
        f"{atol:g} + rtol {rtol:g} × max|target|; {'exact' if passed else 'NOT exact'}"
    )
    return CheckResult(
        passed=passed, statistic=float(errors[worst]), threshold=threshold, message=message
    )


def assert_exact_on_all_inputs(
    model: Any,
    inputs: Any = None,
    targets: Any = None,
    *,
    labels: Any = None,
    min_margin: float = 0.0,
    rtol: float = 1e-9,
    atol: float = 1e-12,
) -> CheckResult:
    """:func:`check_exact_on_all_inputs`, raising AssertionError when it fails."""
    return check_exact_on_all_inputs(
        model, inputs, targets, labels=labels, min_margin=min_margin, rtol=rtol, atol=atol
    ).raise_if_failed()
