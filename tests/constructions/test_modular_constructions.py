"""Exactness of the Fourier modular-addition constructions
(docs/modular_addition.md#margins-and-exactness).

Expected values come from the spec's closed forms and measured tables, never from the code.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toyforge.constructions.models import ModularAdditionMLP
from toyforge.constructions.modular_addition import (
    circle_input_matrix,
    exactness,
    factored_form,
    is_prime,
    lp_readout,
    min_neurons_per_frequency,
    modular_addition,
    recommended_design,
    spread_frequencies,
    untied_quadratic,
)
from toyforge.core.errors import InvalidParameter
from toyforge.verify.testing import assert_exact_on_all_inputs, frequency_sets, primes

PRIMES = [p for p in range(3, 258) if all(p % d for d in range(2, int(p**0.5) + 1))]
SMALL_PRIMES = [p for p in PRIMES if p <= 113]


def _brute_force(model: ModularAdditionMLP) -> tuple[float, float]:
    """Accuracy and margin from model.forward over every ordered pair (independent path)."""
    p = model.modulus
    a, b = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    logits = model.forward(a.ravel(), b.ravel())
    target = (a.ravel() + b.ravel()) % p
    rows = np.arange(p * p)
    correct = logits[rows, target].copy()
    logits[rows, target] = -np.inf
    gaps = correct - logits.max(axis=1)
    return float(np.mean(gaps > 0)), float(gaps.min())


def test_is_prime_matches_sieve():
    assert [n for n in range(260) if is_prime(n)] == [2] + PRIMES


@pytest.mark.slow
@settings(max_examples=40)
@given(
    primes(max_value=257).flatmap(
        lambda p: st.tuples(st.just(p), frequency_sets(p, min_size=1, max_size=3))
    )
)
def test_quadratic_three_neurons_exact(problem):
    modulus, frequencies = problem
    model = modular_addition(modulus, frequencies, 3, "quadratic")
    assert_exact_on_all_inputs(model)  # all p² pairs: accuracy 1 and margin > 0


@pytest.mark.slow
@settings(max_examples=40)
@given(primes(max_value=257))
def test_relu_documented_counts_exact(modulus):
    # docs/modular_addition.md#tied-relu-construction: N = 5 for every p <= 113, N = 7 for p up to
    # 257 (rotation 0)
    n_neurons = 5 if modulus <= 113 else 7
    assert_exact_on_all_inputs(modular_addition(modulus, 1, n_neurons))


def test_quadratic_margin_closed_form():
    # docs/modular_addition.md#tied-quadratic-construction: margin (3/4)(2 − 2cos(π/p))(1 −
    # cos(2π/p))
    for p, measured in ((67, 7.244e-6), (113, 8.959e-7)):
        theory = 0.75 * (2 - 2 * math.cos(math.pi / p)) * (1 - math.cos(2 * math.pi / p))
        report = exactness(modular_addition(p, 1, 3, "quadratic"))
        assert report.margin == pytest.approx(theory, rel=1e-9)
        assert report.margin == pytest.approx(measured, rel=1e-3)


def test_spec_table_margins_and_failures():
    # docs/modular_addition.md#margins-and-exactness measured values
    assert exactness(modular_addition(67, 1, 5)).margin == pytest.approx(4.73e-5, rel=2e-3)
    assert exactness(modular_addition(113, 1, 5)).margin == pytest.approx(1.06e-6, rel=2e-3)
    nanda = modular_addition(113, [14, 35, 41, 42, 52], 5)
    assert exactness(nanda).margin == pytest.approx(0.242, rel=2e-3)
    assert exactness(modular_addition(67, [4, 5, 7, 26], 5)).margin == pytest.approx(
        0.243, rel=2e-3
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        six = modular_addition(67, 1, 6, strict=False)
        five_127 = modular_addition(127, 1, 5, strict=False)
        three_nanda = modular_addition(113, [14, 35, 41, 42, 52], 3, strict=False)
    assert _brute_force(six)[0] == pytest.approx(0.194, abs=1e-3)
    assert _brute_force(five_127)[0] == pytest.approx(0.748, abs=1e-3)
    assert _brute_force(three_nanda)[0] == pytest.approx(0.047, abs=1e-3)


def test_exactness_matches_forward():
    model = modular_addition(31, [2, 9], 5, amplitudes=[1.0, 0.5], rotation=0.3)
    report = exactness(model)
    accuracy, margin = _brute_force(model)
    assert report.accuracy == accuracy == 1.0
    assert report.margin == pytest.approx(margin, rel=1e-9)


def test_quadratic_four_refused_with_reason():
    with pytest.raises(InvalidParameter, match="4φ"):
        modular_addition(67, 1, 4, "quadratic")
    with pytest.warns(UserWarning, match="not exact"):
        model = modular_addition(67, 1, 4, "quadratic", strict=False)
    # docs/modular_addition.md#tied-quadratic-construction: 2.2 %
    assert _brute_force(model)[0] < 0.03


@pytest.mark.parametrize("n_neurons, reason", [(6, "even N"), (8, "even N"), (3, "2.4x")])
def test_relu_structural_sizes_refused(n_neurons, reason):
    with pytest.raises(InvalidParameter, match=reason):
        modular_addition(67, 1, n_neurons)


def test_relu_measured_size_refused():
    with pytest.raises(InvalidParameter, match="74.80%"):
        modular_addition(127, 1, 5)
    assert min_neurons_per_frequency(127) == 7
    assert min_neurons_per_frequency(113) == 5


@pytest.mark.parametrize("modulus", [1, 9, 65, 100])
def test_non_prime_refused(modulus):
    with pytest.raises(InvalidParameter, match="modulus"):
        modular_addition(modulus, 1, 5)


def test_bad_frequencies_refused():
    with pytest.raises(InvalidParameter, match="frequencies"):
        modular_addition(67, [3, 64], 5)  # 64 ≡ −3 folds onto 3
    with pytest.raises(InvalidParameter, match="frequencies"):
        modular_addition(67, [67], 5)
    with pytest.raises(InvalidParameter, match="amplitudes"):
        modular_addition(67, [1, 2], 5, amplitudes=[1.0, -1.0])


def test_factored_form_matches_direct_and_tied_readout():
    direct = modular_addition(67, [4, 5, 7], 5)
    factored = modular_addition(67, [4, 5, 7], 5, factored=True)
    assert factored.factored and factored.embedding.shape == (67, 6)
    np.testing.assert_allclose(factored.input_matrix(), direct.input_matrix(), atol=1e-12)
    np.testing.assert_allclose(factored.readout @ factored.embedding.T, direct.W_out, atol=1e-12)
    svd = factored_form(direct)
    assert svd.embedding.shape[1] == 6
    np.testing.assert_allclose(svd.input_matrix(), direct.input_matrix(), atol=1e-10)
    assert exactness(svd).margin == pytest.approx(exactness(direct).margin, rel=1e-6)


def test_untied_designed_exact_with_closed_form_margin():
    for p in (67, 113):
        report = exactness(untied_quadratic(p, 1, 6))
        assert report.margin == pytest.approx(3 * (1 - math.cos(2 * math.pi / p)), rel=1e-9)
    every = exactness(untied_quadratic(67, range(1, 34), 6))
    # docs/modular_addition.md#untied-quadratic-construction-gromov: 100.5
    assert every.margin == pytest.approx(3 * 33 + 1.5, rel=1e-9)
    assert exactness(untied_quadratic(67, [2, 5], 7, factored=True)).exact


def test_untied_small_designs_refused_and_random_phases_need_width():
    with pytest.raises(InvalidParameter, match="M >= 6"):
        untied_quadratic(67, 1, 5)
    frequencies = list(range(1, 34))
    wide = untied_quadratic(67, frequencies, 8, phases="random", seed=1)  # 264 neurons
    # docs/modular_addition.md#untied-quadratic-construction-gromov: N >= 256 gives 100 %
    assert exactness(wide).accuracy == 1.0


def test_lp_readout_feasibility():
    four = lp_readout(circle_input_matrix(23, 4, rotation=0.1))
    assert four.feasible and four.margin > 0
    model = ModularAdditionMLP(W_in=circle_input_matrix(23, 4, rotation=0.1), W_out=four.W_out)
    assert exactness(model).margin == pytest.approx(four.margin, rel=1e-5)
    three = lp_readout(circle_input_matrix(23, 3, rotation=0.1))
    assert not three.feasible and three.message.startswith("infeasible")


def test_recommended_design_is_exact_with_useful_margin():
    design = recommended_design(67)
    assert design.report.exact and design.report.relative_margin >= 0.01
    assert design.neurons_per_frequency == 5
    assert design.n_hidden == 5 * len(design.frequencies)
    assert spread_frequencies(67, 1) == (1,)
    assert len(set(spread_frequencies(67, 4))) == 4
