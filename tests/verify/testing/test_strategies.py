"""The public Hypothesis strategies of toyforge.verify.testing.strategies draw what they promise."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import find, given
from hypothesis import strategies as st

from toyforge.constructions.dictionary import lookup_table
from toyforge.constructions.persian_rug import hidden_size
from toyforge.core.errors import InvalidParameter
from toyforge.verify.evaluate import SparseDataSpec
from toyforge.verify.testing import (
    AutoencoderConfig,
    KeyValueTable,
    configurations,
    frequency_sets,
    key_value_tables,
    primes,
)


def _is_prime(number: int) -> bool:  # independent of the module under test
    return number >= 2 and all(number % d for d in range(2, int(number**0.5) + 1))


# --------------------------------------------------------------------------- configurations


@given(
    configurations(
        min_features=3,
        max_features=40,
        min_ratio=0.2,
        max_ratio=0.6,
        min_feature_prob=0.05,
        max_feature_prob=0.5,
    )
)
def test_configurations_respect_their_bounds(config):
    assert isinstance(config, AutoencoderConfig)
    assert 3 <= config.n_features <= 40
    assert config.ratio == config.n_hidden / config.n_features
    assert 0.2 - 1e-9 <= config.ratio <= 0.6 + 1e-9
    assert 0.05 <= config.feature_prob <= 0.5
    # the Persian-rug builder gets exactly n_hidden rows back from the drawn ratio
    assert hidden_size(config.n_features, config.ratio) == config.n_hidden


@given(configurations(power_of_two=True, min_features=3, max_features=1000))
def test_power_of_two_configurations(config):
    assert config.n_features in (4, 8, 16, 32, 64, 128, 256, 512)
    assert 1 <= config.n_hidden <= config.n_features


def test_configurations_reach_the_corners():
    strategy = configurations(
        min_features=2, max_features=16, min_ratio=0.25, min_feature_prob=0.01, max_feature_prob=0.2
    )
    assert find(strategy, lambda c: c.n_features == 16 and c.n_hidden == 16).ratio == 1.0
    smallest = find(strategy, lambda c: True)
    assert (smallest.n_features, smallest.n_hidden) == (2, 1)
    assert find(strategy, lambda c: c.feature_prob > 0.19).feature_prob <= 0.2


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_features": 0},
        {"min_features": 10, "max_features": 9},
        {"min_ratio": 0.0},
        {"min_ratio": 0.5, "max_ratio": 0.4},
        {"max_ratio": 1.5},
        {"min_feature_prob": 0.0},
        {"min_feature_prob": 0.5, "max_feature_prob": 0.4},
        {"power_of_two": True, "min_features": 5, "max_features": 7},
        {"min_features": 3, "max_features": 3, "min_ratio": 0.4, "max_ratio": 0.6},
        {"max_features": 2**17},
        {"min_features": 1.5},
    ],
)
def test_configurations_refuse_bad_bounds(kwargs):
    with pytest.raises(InvalidParameter):
        configurations(**kwargs)


def test_autoencoder_config_validates_and_converts():
    config = AutoencoderConfig.from_ratio(100, 0.25, 0.05)
    assert (config.n_hidden, config.ratio) == (25, 0.25)
    assert AutoencoderConfig.from_ratio(10, 0.01, 0.5).n_hidden == 1
    assert config.data_spec() == SparseDataSpec(feature_prob=0.05)
    for bad in (
        {"n_features": 4, "n_hidden": 5, "feature_prob": 0.1},
        {"n_features": 4, "n_hidden": 0, "feature_prob": 0.1},
        {"n_features": 4, "n_hidden": 2, "feature_prob": 0.0},
    ):
        with pytest.raises(InvalidParameter):
            AutoencoderConfig(**bad)


# --------------------------------------------------------------------------- primes, frequencies


@given(primes(min_value=2, max_value=300))
def test_primes_are_prime_and_in_range(prime):
    assert _is_prime(prime) and 2 <= prime <= 300


def test_primes_cover_their_range():
    assert find(primes(), lambda p: True) == 3
    assert find(primes(10, 50), lambda p: p > 45) == 47
    assert find(primes(), lambda p: p > 250) == 251
    every = {p for p in range(3, 258) if _is_prime(p)}
    assert {find(primes(p, p), lambda q: True) for p in every} == every


@pytest.mark.parametrize("bounds", [(24, 28), (1, 10), (10, 5), (3, 2**21)])
def test_primes_refuse_empty_or_bad_ranges(bounds):
    with pytest.raises(InvalidParameter):
        primes(*bounds)


@given(
    primes(max_value=60).flatmap(
        lambda p: st.tuples(st.just(p), frequency_sets(p, min_size=1, max_size=4))
    )
)
def test_frequency_sets_are_distinct_folded_and_sorted(problem):
    modulus, frequencies = problem
    half = (modulus - 1) // 2
    assert 1 <= len(frequencies) <= min(4, half)
    assert list(frequencies) == sorted(set(frequencies))
    assert all(1 <= k <= half for k in frequencies)


def test_frequency_sets_cap_size_and_refuse_bad_input():
    assert find(frequency_sets(5, max_size=9), lambda ks: len(ks) == 2) == (1, 2)
    assert find(frequency_sets(31, min_size=3), lambda ks: True) == (1, 2, 3)
    for modulus in (9, 2, 1):
        with pytest.raises(InvalidParameter, match="modulus"):
            frequency_sets(modulus)
    with pytest.raises(InvalidParameter, match="min_size"):
        frequency_sets(7, min_size=4)


# --------------------------------------------------------------------------- key/value tables


@given(
    key_value_tables(
        st.integers(1, 10), st.integers(1, 5), st.integers(1, 3), max_cosine=0.9, value_bound=2.0
    )
)
def test_key_value_tables_have_distinct_unit_keys(table):
    assert table.keys.shape == (table.n_keys, table.key_dim)
    assert table.values.shape == (table.n_keys, table.value_dim)
    assert 1 <= table.n_keys <= 10 and 1 <= table.key_dim <= 5 and 1 <= table.value_dim <= 3
    np.testing.assert_allclose(np.linalg.norm(table.keys, axis=1), 1.0, rtol=0, atol=1e-12)
    cosines = table.keys @ table.keys.T - 2 * np.eye(table.n_keys)
    assert table.n_keys == 1 or cosines.max() <= 0.9
    assert np.all(np.abs(table.values) <= 2.0)
    lookup_table(table.keys, table.values)  # its exactness condition holds (else it raises)


@given(key_value_tables(5, 3, 2))
def test_fixed_size_tables_are_read_only(table):
    assert (table.n_keys, table.key_dim, table.value_dim) == (5, 3, 2)
    assert not table.keys.flags.writeable and not table.values.flags.writeable
    assert table.largest_cosine <= 0.99


def test_key_value_tables_refuse_bad_arguments():
    with pytest.raises(InvalidParameter, match="n_keys"):
        key_value_tables(3, 1, 1)
    for kwargs in ({"max_cosine": 1.0}, {"max_cosine": 0.0}, {"value_bound": 0.0}):
        with pytest.raises(InvalidParameter):
            key_value_tables(2, 2, 1, **kwargs)
    with pytest.raises(InvalidParameter, match="n_keys"):
        key_value_tables(0, 2, 1)


def test_key_value_table_validates():
    keys = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert KeyValueTable(keys=keys, values=[1.0, 2.0]).values.shape == (2, 1)
    assert KeyValueTable(keys=keys, values=[1.0, 2.0]).largest_cosine == 0.0
    assert math.isinf(KeyValueTable(keys=keys[:1], values=[1.0]).largest_cosine)
    with pytest.raises(InvalidParameter, match="unit-norm"):
        KeyValueTable(keys=2 * keys, values=[1.0, 2.0])
    with pytest.raises(InvalidParameter, match="distinct"):
        KeyValueTable(keys=np.array([[1.0, 0.0], [1.0, 0.0]]), values=[1.0, 2.0])
    with pytest.raises(InvalidParameter, match="values"):
        KeyValueTable(keys=keys, values=[1.0, 2.0, 3.0])
    with pytest.raises(InvalidParameter, match="finite"):
        KeyValueTable(keys=keys, values=[1.0, np.nan])
