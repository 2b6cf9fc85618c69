"""Fourier progress measures for modular-addition MLPs: did the model find the Fourier algorithm?

Definitions follow docs/modular_addition.md#progress-measures, which reproduces Nanda, Chan,
Lieberum, Smith and Steinhardt (2023, arXiv:2301.05217; code
``progress-measures-paper/transformers.py``):

* Fourier basis over residues: 1/√p, then cos(2πkx/p)/√(p/2), sin(2πkx/p)/√(p/2) for
  k = 1…(p−1)/2 (an orthonormal p × p basis). Power of folded frequency k of a (p × N) matrix =
  squared norm of its cos-k and sin-k coefficients summed over the N columns.
* key frequencies: frequencies holding more than ``threshold`` (5 %) of the non-constant power
  of ``W_in`` (the simple rule); and Nanda et al.'s neuron rule
  (:func:`neuron_frequency_fit`, :func:`nanda_key_frequencies`): each neuron's centred
  activations over all p² inputs, in the 2-D Fourier basis, are assigned the frequency k whose
  {1, cos k, sin k} ⊗ {1, cos k, sin k} block holds the largest share of their variance; the
  key frequencies are those of the neurons explained above 85 %. (Nanda's code loops k over
  1…p//2 − 1, leaving out the last frequency; here every k = 1…(p−1)/2 is tried.)
* Fourier Gini: Gini coefficient of the per-frequency norms √power,
  G = 2 Σ_i i·x_(i) / (n Σ x) − (n+1)/n (x sorted ascending, i = 1…n).
* restricted loss: logits over all (a, b, c) projected onto the directions cos(w_k(a+b)),
  sin(w_k(a+b)) of the key frequencies, plus each class's mean logit; cross-entropy on all
  pairs. Excluded loss: logits minus those components, cross-entropy on the training pairs.
* truncation: keep only the key frequencies (and optionally their second harmonics 2k, folded)
  in ``W_in`` (plus its constant row component) and only the key frequencies in ``W_out``, then
  re-check every pair (docs/modular_addition.md#progress-measures: ReLU models need the harmonics).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from toyforge.constructions.models import ModularAdditionMLP, apply_activation
from toyforge.constructions.modular_addition import (
    ExactnessReport,
    exactness,
    fold_frequency,
    min_neurons_per_frequency,
    modular_addition,
)
from toyforge.core.errors import InvalidParameter
from toyforge.core.validate import check_interval

__all__ = [
    "ConstructionComparison",
    "FourierSpectrum",
    "ProgressMeasures",
    "TruncationResult",
    "all_logits",
    "compare_with_construction",
    "fourier_basis",
    "fourier_gini",
    "fourier_spectrum",
    "gini",
    "key_frequencies",
    "nanda_key_frequencies",
    "neuron_frequency_fit",
    "progress_measures",
    "restricted_and_excluded_logits",
    "truncate_to_frequencies",
]


def fourier_basis(modulus: int) -> np.ndarray:
    """Orthonormal Fourier basis, shape (p, p): row 0 constant, rows 2k−1, 2k = cos k, sin k."""
    x = np.arange(modulus)
    rows = [np.full(modulus, 1.0 / math.sqrt(modulus))]
    for k in range(1, (modulus - 1) // 2 + 1):
        angle = 2 * np.pi * k * x / modulus
        rows.append(np.cos(angle) / math.sqrt(modulus / 2))
        rows.append(np.sin(angle) / math.sqrt(modulus / 2))
    return np.array(rows)


@dataclass(frozen=True, kw_only=True, slots=True)
class FourierSpectrum:
    """Power per folded frequency of a (p × N) matrix (rows indexed by residue).

    ``power[k−1]`` is the power of frequency k = 1…(p−1)/2; ``constant_power`` that of the
    constant row; ``share`` = power / power.sum() (non-constant power only).
    """

    modulus: int
    power: np.ndarray
    constant_power: float

    @property
    def frequencies(self) -> np.ndarray:
        """The folded frequencies 1…(p−1)/2."""
        return np.arange(1, len(self.power) + 1)

    @property
    def share(self) -> np.ndarray:
        """Fraction of the non-constant power at each frequency."""
        total = self.power.sum()
        return self.power / total if total > 0 else np.zeros_like(self.power)


def fourier_spectrum(matrix: np.ndarray) -> FourierSpectrum:
    """Power per folded frequency of ``matrix`` (shape (p, N), odd p;
    docs/modular_addition.md#progress-measures)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] % 2 == 0 or matrix.shape[0] < 3:
        raise InvalidParameter("matrix", matrix.shape, "a (p, N) matrix with odd p >= 3")
    coefficients = fourier_basis(matrix.shape[0]) @ matrix  # (p, N)
    squared = np.sum(coefficients**2, axis=1)
    power = squared[1::2] + squared[2::2]
    return FourierSpectrum(modulus=matrix.shape[0], power=power, constant_power=float(squared[0]))


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0 = equal, → 1 = concentrated)."""
    values = np.sort(np.asarray(values, dtype=np.float64).ravel())
    if values.size == 0 or np.any(values < 0):
        raise InvalidParameter("values", values.size, "a non-empty array of non-negative values")
    total = values.sum()
    if total == 0:
        return 0.0
    n = values.size
    ranks = np.arange(1, n + 1)
    return float(2 * np.sum(ranks * values) / (n * total) - (n + 1) / n)


def fourier_gini(model: ModularAdditionMLP) -> float:
    """Gini of ‖W_in‖ per folded frequency (Nanda et al. 2023's sparsity measure;
    docs/modular_addition.md#progress-measures)."""
    return gini(np.sqrt(fourier_spectrum(model.input_matrix()).power))


def key_frequencies(model: ModularAdditionMLP, threshold: float = 0.05) -> tuple[int, ...]:
    """Frequencies above ``threshold`` of ``W_in``'s non-constant power, strongest first."""
    check_interval("threshold", threshold, 0.0, 1.0, low_open=True, high_open=True)
    spectrum = fourier_spectrum(model.input_matrix())
    order = np.argsort(spectrum.share)[::-1]
    return tuple(int(spectrum.frequencies[i]) for i in order if spectrum.share[i] > threshold)


def _hidden_activations(model: ModularAdditionMLP) -> np.ndarray:
    """Hidden activations for every (a, b), shape (p, p, N), float64."""
    left = np.asarray(model.input_matrix(), dtype=np.float64)
    right = np.asarray(model.right_input_matrix(), dtype=np.float64)
    return apply_activation(model.activation, left[:, None, :] + right[None, :, :])


def neuron_frequency_fit(model: ModularAdditionMLP) -> tuple[np.ndarray, np.ndarray]:
    """Nanda et al.'s per-neuron frequency: (frequency, fraction of variance explained), each (N,).

    The centred activations of neuron n over all (a, b) are written in the 2-D Fourier basis;
    the fraction explained by frequency k is the power in rows and columns {0, 2k−1, 2k}
    (constant, cos k, sin k) over the total power.
    """
    acts = _hidden_activations(model)
    acts = acts - acts.mean(axis=(0, 1), keepdims=True)
    basis = fourier_basis(model.modulus)
    left = np.tensordot(basis, acts, axes=(1, 0))  # (i, b, N)
    coefficients = np.tensordot(left, basis, axes=(1, 1)).transpose(0, 2, 1)  # (i, j, N)
    power = coefficients**2
    total = power.sum(axis=(0, 1))
    half = (model.modulus - 1) // 2
    explained = np.empty((half, power.shape[2]))
    for k in range(1, half + 1):
        index = np.array([0, 2 * k - 1, 2 * k])
        explained[k - 1] = power[np.ix_(index, index)].sum(axis=(0, 1))
    fraction = np.divide(explained, total, out=np.zeros_like(explained), where=total > 0)
    best = np.argmax(fraction, axis=0)
    return best + 1, fraction[best, np.arange(fraction.shape[1])]


def nanda_key_frequencies(
    model: ModularAdditionMLP, threshold: float = 0.85, min_neurons: int = 1
) -> tuple[int, ...]:
    """Frequencies of the neurons explained above ``threshold`` by one frequency (Nanda et al.).

    Sorted by the number of such neurons (most first); frequencies with fewer than
    ``min_neurons`` neurons are left out.
    """
    check_interval("threshold", threshold, 0.0, 1.0, low_open=True)
    frequency, fraction = neuron_frequency_fit(model)
    kept = frequency[fraction >= threshold]
    values, counts = np.unique(kept, return_counts=True)
    order = np.lexsort((values, -counts))
    return tuple(int(values[i]) for i in order if counts[i] >= min_neurons)


def all_logits(model: ModularAdditionMLP) -> np.ndarray:
    """Logits for every (a, b), shape (p, p, p) indexed [a, b, c], float64."""
    return _hidden_activations(model) @ np.asarray(model.W_out, dtype=np.float64)


def _sum_directions(modulus: int, frequencies: Sequence[int]) -> np.ndarray:
    """Unit vectors cos(w_k(a+b)), sin(w_k(a+b)) over (a, b): shape (2F, p, p)."""
    total = np.add.outer(np.arange(modulus), np.arange(modulus))
    directions = []
    for k in frequencies:
        angle = 2 * np.pi * k * total / modulus
        directions.append(np.cos(angle) * math.sqrt(2) / modulus)
        directions.append(np.sin(angle) * math.sqrt(2) / modulus)
    return np.array(directions)


def restricted_and_excluded_logits(
    logits: np.ndarray, frequencies: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """(restricted, excluded) logits, each (p, p, p) (Nanda et al. 2023;
    docs/modular_addition.md#progress-measures).

    restricted = per-class mean + projection on the key directions; excluded = logits −
    projection.
    """
    modulus = logits.shape[0]
    directions = _sum_directions(modulus, frequencies)  # (2F, p, p)
    coefficients = np.einsum("dab,abc->dc", directions, logits)
    projection = np.einsum("dab,dc->abc", directions, coefficients)
    class_mean = logits.mean(axis=(0, 1), keepdims=True)
    return class_mean + projection, logits - projection


def _cross_entropy(logits: np.ndarray, pairs: np.ndarray) -> float:
    modulus = logits.shape[0]
    rows = logits[pairs[:, 0], pairs[:, 1]]
    rows = rows - rows.max(axis=1, keepdims=True)
    target = (pairs[:, 0] + pairs[:, 1]) % modulus
    log_norm = np.log(np.exp(rows).sum(axis=1))
    return float(np.mean(log_norm - rows[np.arange(len(rows)), target]))


def _accuracy(logits: np.ndarray, pairs: np.ndarray) -> float:
    modulus = logits.shape[0]
    predicted = np.argmax(logits[pairs[:, 0], pairs[:, 1]], axis=1)
    return float(np.mean(predicted == (pairs[:, 0] + pairs[:, 1]) % modulus))


def _all_pairs(modulus: int) -> np.ndarray:
    a, b = np.meshgrid(np.arange(modulus), np.arange(modulus), indexing="ij")
    return np.stack([a.ravel(), b.ravel()], axis=1)


@dataclass(frozen=True, kw_only=True, slots=True)
class ProgressMeasures:
    """Nanda et al.'s progress measures of one model (losses in nats;
    docs/modular_addition.md#progress-measures)."""

    key_frequencies: tuple[int, ...]
    key_power_share: float
    fourier_gini: float
    full_loss: float
    restricted_loss: float
    excluded_loss: float
    excluded_train_accuracy: float
    weight_norm: float


def progress_measures(
    model: ModularAdditionMLP, train_pairs: np.ndarray, frequencies: Sequence[int] | None = None
) -> ProgressMeasures:
    """Progress measures of ``model``; ``frequencies`` default to its own key frequencies.

    Pass the final model's key frequencies to follow a training run (as Nanda et al. do).
    full and restricted loss are over all p² pairs, excluded loss over ``train_pairs``.
    """
    frequencies = tuple(frequencies) if frequencies is not None else key_frequencies(model)
    logits = all_logits(model)
    restricted, excluded = restricted_and_excluded_logits(logits, frequencies)
    spectrum = fourier_spectrum(model.input_matrix())
    pairs = _all_pairs(model.modulus)
    train_pairs = np.asarray(train_pairs)
    arrays = model.to_arrays()
    if "readout" in arrays:  # W_out = readout @ embedding.T is derived, not a parameter
        arrays.pop("W_out")
    norm = math.sqrt(sum(float(np.sum(np.square(v, dtype=np.float64))) for v in arrays.values()))
    return ProgressMeasures(
        key_frequencies=frequencies,
        key_power_share=float(sum(spectrum.share[k - 1] for k in frequencies)),
        fourier_gini=gini(np.sqrt(spectrum.power)),
        full_loss=_cross_entropy(logits, pairs),
        restricted_loss=_cross_entropy(restricted, pairs),
        excluded_loss=_cross_entropy(excluded, train_pairs),
        excluded_train_accuracy=_accuracy(excluded, train_pairs),
        weight_norm=norm,
    )


# --------------------------------------------------------------------------- truncation


def _projector(modulus: int, frequencies: Sequence[int], constant: bool) -> np.ndarray:
    basis = fourier_basis(modulus)
    rows = [0] if constant else []
    for k in sorted(set(frequencies)):
        rows.extend((2 * k - 1, 2 * k))
    kept = basis[rows]
    return kept.T @ kept  # (p, p) orthogonal projector onto the kept functions of x


@dataclass(frozen=True, kw_only=True, slots=True)
class TruncationResult:
    """The all-pairs check of a model truncated to some frequencies."""

    input_frequencies: tuple[int, ...]
    output_frequencies: tuple[int, ...]
    report: ExactnessReport
    model: ModularAdditionMLP


def truncate_to_frequencies(
    model: ModularAdditionMLP, frequencies: Sequence[int], *, second_harmonics: bool = True
) -> TruncationResult:
    """Keep only ``frequencies`` (+ their folded second harmonics in ``W_in``) and re-check.

    ``W_in`` keeps its constant component (it acts as a bias); ``W_out`` keeps only the given
    frequencies (its constant component shifts every logit of a neuron equally);
    docs/modular_addition.md#progress-measures.
    """
    modulus = model.modulus
    key = tuple(fold_frequency(int(k), modulus) for k in frequencies)
    inputs = key
    if second_harmonics:
        inputs = tuple(sorted(set(key) | {fold_frequency(2 * k, modulus) for k in key}))
    W_in = _projector(modulus, inputs, constant=True) @ np.asarray(
        model.input_matrix(), dtype=np.float64
    )
    W_out = np.asarray(model.W_out, dtype=np.float64) @ _projector(modulus, key, constant=False)
    right = None
    if model.W_in_right is not None:
        right = _projector(modulus, inputs, constant=True) @ model.W_in_right
    truncated = ModularAdditionMLP(
        W_in=W_in, W_out=W_out, W_in_right=right, activation=model.activation
    )
    return TruncationResult(
        input_frequencies=inputs,
        output_frequencies=key,
        report=exactness(truncated),
        model=truncated,
    )


# --------------------------------------------------------------------------- comparison


@dataclass(frozen=True, kw_only=True, slots=True)
class ConstructionComparison:
    """A trained model next to the construction at its key frequencies.

    ``spectrum_cosine``: cosine similarity of the two ``W_in`` power spectra (1 = same
    frequencies in the same proportions). ``neurons_per_key_frequency``: trained neurons whose
    ``W_in`` column has its largest power at each key frequency.
    """

    key_frequencies: tuple[int, ...]
    trained: ExactnessReport
    construction: ExactnessReport
    construction_model: ModularAdditionMLP
    spectrum_cosine: float
    neurons_per_key_frequency: tuple[int, ...]
    trained_n_hidden: int
    construction_n_hidden: int


def neuron_frequencies(model: ModularAdditionMLP) -> np.ndarray:
    """The dominant folded frequency of each neuron's ``W_in`` column, shape (N,)."""
    coefficients = fourier_basis(model.modulus) @ np.asarray(model.input_matrix(), np.float64)
    squared = coefficients[1::2] ** 2 + coefficients[2::2] ** 2  # (half, N)
    return np.argmax(squared, axis=0) + 1


def compare_with_construction(
    model: ModularAdditionMLP, frequencies: Sequence[int] | None = None
) -> ConstructionComparison:
    """Build the exact construction at the trained model's key frequencies and compare."""
    key = tuple(frequencies) if frequencies is not None else key_frequencies(model)
    if not key:
        raise InvalidParameter("frequencies", key, "at least one key frequency")
    n_neurons = min_neurons_per_frequency(model.modulus, model.activation)
    amplitudes = np.sqrt(fourier_spectrum(model.input_matrix()).power[np.array(key) - 1])
    construction = modular_addition(
        model.modulus, key, n_neurons, model.activation, amplitudes=amplitudes / amplitudes.max()
    )
    trained_power = fourier_spectrum(model.input_matrix()).power
    built_power = fourier_spectrum(construction.input_matrix()).power
    cosine = float(
        trained_power @ built_power / (np.linalg.norm(trained_power) * np.linalg.norm(built_power))
    )
    dominant = neuron_frequencies(model)
    return ConstructionComparison(
        key_frequencies=key,
        trained=exactness(model),
        construction=exactness(construction),
        construction_model=construction,
        spectrum_cosine=cosine,
        neurons_per_key_frequency=tuple(int(np.sum(dominant == k)) for k in key),
        trained_n_hidden=model.n_hidden,
        construction_n_hidden=construction.n_hidden,
    )
