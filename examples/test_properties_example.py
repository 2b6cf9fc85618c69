"""Property tests of toy-model constructions with toyforge.verify.testing — copy me.

Run from anywhere toyforge is installed with the ``testing`` extra
(``pip install 'toyforge[testing]'``)::

    pytest examples/test_properties_example.py

Each test draws problem settings with a toyforge strategy, builds a model and asserts what the
theory promises with an explicit tolerance. ``deadline=None``: the first example may compile a
numba kernel, which blows Hypothesis's default 200 ms deadline.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from toyforge.constructions.dictionary import lookup_table
from toyforge.constructions.modular_addition import modular_addition
from toyforge.constructions.persian_rug import persian_rug
from toyforge.theory import predict, symmetric_optimum
from toyforge.verify.evaluate import evaluate
from toyforge.verify.evaluate.estimate import Estimate
from toyforge.verify.testing import (
    assert_exact_on_all_inputs,
    assert_loss_at_most,
    assert_theory_matches_monte_carlo,
    configurations,
    frequency_sets,
    key_value_tables,
    primes,
)

# (modulus, frequencies): a prime and a set of distinct folded frequencies for it
modular_problems = primes(max_value=97).flatmap(
    lambda modulus: frequency_sets(modulus, max_size=3).map(lambda ks: (modulus, ks))
)


@settings(max_examples=20, deadline=None)
@given(modular_problems)
def test_quadratic_fourier_construction_is_exact(problem):
    """3 x² neurons per frequency add mod p exactly
    (docs/modular_addition.md#tied-quadratic-construction)."""
    modulus, frequencies = problem
    model = modular_addition(modulus, frequencies, neurons_per_frequency=3, activation="quadratic")
    assert_exact_on_all_inputs(model)  # all p² pairs, float64: accuracy 1 and margin > 0


@settings(max_examples=30, deadline=None)
@given(key_value_tables(n_keys=st.integers(1, 12), key_dim=st.integers(2, 6), value_dim=3))
def test_lookup_table_recalls_every_key(table):
    """One ReLU neuron per key stores any values exactly (docs/memorisation.md#lookup-table)."""
    model = lookup_table(table.keys, table.values)
    assert_exact_on_all_inputs(model, table)  # max |f(key) − value| within rounding


@settings(max_examples=20, deadline=None)
@given(
    configurations(min_ratio=0.05, max_ratio=1.0, min_feature_prob=0.005), st.integers(0, 2**32 - 1)
)
def test_large_n_loss_matches_monte_carlo_of_the_reduced_model(config, seed):
    """The closed form equals E[(a ReLU(x + c + σz) − x)²]
    (docs/large_n_theory.md#the-closed-form-loss)."""
    optimum = symmetric_optimum(config.ratio, config.feature_prob)
    rng = np.random.default_rng(seed)
    n_samples = 20_000
    x = (rng.random(n_samples) < config.feature_prob) * rng.random(n_samples)
    pre = x + float(optimum.c) + float(optimum.sigma) * rng.standard_normal(n_samples)
    errors = (float(optimum.scale) * np.maximum(pre, 0.0) - x) ** 2
    # 5 SE: a correct formula fails one example with probability 6e-7
    assert_theory_matches_monte_carlo(optimum.loss, Estimate.from_samples(errors), n_se=5)


@settings(max_examples=10, deadline=None)
@given(
    configurations(
        power_of_two=True,
        min_features=256,
        max_features=1024,
        min_ratio=0.1,
        max_ratio=0.5,
        min_feature_prob=0.01,
        max_feature_prob=0.1,
    ),
    st.integers(0, 1000),
)
def test_persian_rug_beats_the_best_linear_autoencoder(config, seed):
    """Superposition pays: the rug's loss <= (1 − r)·v, the optimal linear loss
    (docs/large_n_theory.md#elementwise-bounds-mmse-and-jumprelu).

    Holds in this sparse region at these sizes (measured: at least 13 SE below); at small
    p·n the finite-size rug can lose to it (n = 64, r = 0.05, p = 0.01).
    """
    rug = persian_rug(config.n_features, config.ratio, config.feature_prob, seed=seed)
    estimate = evaluate(rug, config.data_spec(), n_samples=5_000, seed=seed + 1)
    linear_baseline = predict(config.ratio, config.feature_prob).linear_loss  # exact number
    # a trained model's held-out Estimate works the same way (SEs are combined)
    assert_loss_at_most(estimate, linear_baseline, n_se=3)
