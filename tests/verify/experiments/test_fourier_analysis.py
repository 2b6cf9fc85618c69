"""Fourier progress measures (docs/modular_addition.md#progress-measures) on models with known
answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from toyforge.constructions.modular_addition import modular_addition, untied_quadratic
from toyforge.verify.experiments.fourier_analysis import (
    all_logits,
    compare_with_construction,
    fourier_basis,
    fourier_gini,
    fourier_spectrum,
    gini,
    key_frequencies,
    nanda_key_frequencies,
    neuron_frequency_fit,
    progress_measures,
    restricted_and_excluded_logits,
    truncate_to_frequencies,
)


@given(st.sampled_from([5, 7, 11, 31, 67]))
def test_fourier_basis_orthonormal(modulus):
    basis = fourier_basis(modulus)
    np.testing.assert_allclose(basis @ basis.T, np.eye(modulus), atol=1e-12)


@given(st.sampled_from([11, 31, 67]), st.integers(1, 100), st.floats(0, 6.28))
def test_pure_sinusoid_has_all_power_at_its_frequency(modulus, frequency, phase):
    k = frequency % modulus or 1
    folded = min(k, modulus - k)
    column = np.cos(2 * np.pi * k * np.arange(modulus) / modulus + phase)
    spectrum = fourier_spectrum(np.stack([column, 2 * column], axis=1))
    assert spectrum.share[folded - 1] == pytest.approx(1.0)
    assert spectrum.power.sum() == pytest.approx(5 * modulus / 2)  # Parseval: (1 + 4) p / 2


def test_gini_limits():
    assert gini(np.ones(10)) == pytest.approx(0.0)
    assert gini(np.eye(1, 10).ravel()) == pytest.approx(0.9)  # (n − 1) / n
    assert gini(np.array([1.0, 3.0])) == pytest.approx(0.25)  # 2(1·1 + 2·3)/(2·4) − 3/2


def test_key_frequencies_and_gini_of_construction():
    model = modular_addition(67, [4, 5, 7], 5)
    assert sorted(key_frequencies(model)) == [4, 5, 7]
    # three equal frequencies out of 33: Gini of (0,…,0,1,1,1) = 30/33
    assert fourier_gini(model) == pytest.approx(1 - 3 / 33, abs=1e-9)


def test_restricted_and_excluded_loss_on_clock_logits():
    # the designed untied model's logits are exactly (M/2) Σ_k cos θ_k(n+m−q)
    # (docs/modular_addition.md#untied-quadratic-construction-gromov)
    model = untied_quadratic(31, [2, 9], 6)
    logits = all_logits(model)
    restricted, excluded = restricted_and_excluded_logits(logits, [2, 9])
    np.testing.assert_allclose(restricted, logits, atol=1e-9)
    np.testing.assert_allclose(excluded, 0.0, atol=1e-9)
    pairs = np.array([[0, 1], [3, 4], [5, 30]])
    measures = progress_measures(model, pairs)
    assert measures.restricted_loss == pytest.approx(measures.full_loss, rel=1e-9)
    assert measures.excluded_loss == pytest.approx(math.log(31), rel=1e-9)  # uniform logits
    assert measures.key_power_share == pytest.approx(1.0)


def test_truncation_keeps_a_construction_and_breaks_on_wrong_frequencies():
    model = modular_addition(67, [4, 5, 7], 5)
    kept = truncate_to_frequencies(model, [4, 5, 7], second_harmonics=False)
    assert kept.report.accuracy == 1.0
    np.testing.assert_allclose(kept.model.input_matrix(), model.input_matrix(), atol=1e-12)
    wrong = truncate_to_frequencies(model, [11], second_harmonics=True)
    assert wrong.input_frequencies == (11, 22)
    assert wrong.report.accuracy < 0.1


def test_comparison_with_itself():
    model = modular_addition(67, [4, 5, 7], 5)
    comparison = compare_with_construction(model)
    assert comparison.spectrum_cosine == pytest.approx(1.0)
    assert comparison.neurons_per_key_frequency == (5, 5, 5)
    assert comparison.construction.exact and comparison.trained.exact


NANDA_FREQUENCIES = (14, 35, 41, 42, 52)  # Nanda et al. 2023's mainline run, p = 113


def test_nanda_frequencies_recovered_from_the_construction_at_p113():
    model = modular_addition(113, NANDA_FREQUENCIES, 5)
    frequency, fraction = neuron_frequency_fit(model)
    np.testing.assert_array_equal(frequency, np.repeat(NANDA_FREQUENCIES, 5))
    assert np.all(fraction > 0.85)
    assert nanda_key_frequencies(model) == NANDA_FREQUENCIES
    assert sorted(key_frequencies(model)) == list(NANDA_FREQUENCIES)
    # five equal frequency norms among 56: Gini = 1 − 5/56
    assert fourier_gini(model) == pytest.approx(1 - 5 / 56, abs=1e-9)


def test_quadratic_neuron_is_four_fifths_its_frequency():
    # (cos x + cos y)², centred: 2 cos x cos y has power p² on the k block, ½cos 2x and
    # ½cos 2y have p²/8 each on 2k, so the k block explains 1 / (1 + 1/4) = 0.8 exactly
    model = modular_addition(113, NANDA_FREQUENCIES, 3, "quadratic")
    frequency, fraction = neuron_frequency_fit(model)
    np.testing.assert_array_equal(frequency, np.repeat(NANDA_FREQUENCIES, 3))
    np.testing.assert_allclose(fraction, 0.8, atol=1e-12)
    assert nanda_key_frequencies(model) == ()  # below Nanda's 85 % rule
    assert nanda_key_frequencies(model, threshold=0.79) == NANDA_FREQUENCIES


def test_restricted_and_excluded_loss_on_nanda_frequencies():
    model = untied_quadratic(113, NANDA_FREQUENCIES, 6)
    pairs = np.array([[0, 1], [50, 70], [112, 112]])
    measures = progress_measures(model, pairs, NANDA_FREQUENCIES)
    assert measures.restricted_loss == pytest.approx(measures.full_loss, rel=1e-9)
    assert measures.excluded_loss == pytest.approx(math.log(113), rel=1e-9)
    # logits (M/2) Σ_k cos θ_k(a+b−c) with M = 6 depend on δ = a+b−c only: same CE everywhere
    delta = np.arange(113)
    clock = 3 * np.cos(2 * np.pi * np.outer(NANDA_FREQUENCIES, delta) / 113).sum(axis=0)
    expected = np.log(np.exp(clock).sum()) - clock[0]
    assert measures.full_loss == pytest.approx(expected, rel=1e-9)
