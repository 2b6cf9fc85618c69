"""Fourier weights that add modulo a prime exactly in the PAIR MLP act(W_in[a] + W_in[b]) W_out.

Every builder returns a :class:`~toyforge.constructions.models.ModularAdditionMLP`; every claim
of exactness is checked by :func:`exactness` over all p² pairs (accuracy and min margin). The
formulas and the measured neuron counts are those of docs/modular_addition.md#margins-and-exactness
(PAIR explorable appendix A; Gromov 2023, arXiv:2301.02679, Eq. 6, 7, 12; Nanda et al. 2023,
arXiv:2301.05217, App. B). Notation: θ_k(x) = 2πkx/p; frequencies are folded (k ≡ p − k).

* tied **quadratic** (docs/modular_addition.md#tied-quadratic-construction):
  ``W_in[a, j] = cos(θ_k(a) − φ_j)``, ``W_out[j, c] =
  cos(θ_k(c) − 2φ_j)``, φ_j = 2πj/N + ρ. Logits = (N/4)|u|² cos(θ_k(a+b−c)) exactly when
  Σ_j e^{2iφ_j} = Σ_j e^{4iφ_j} = 0, i.e. N = 3 or N ≥ 5 (N = 4 fails: 4φ_j ≡ 4ρ).
* tied **ReLU** (docs/modular_addition.md#tied-relu-construction): same weights with ReLU. The N
  equally spaced phases keep the harmonics
  m ≡ ±2 (mod N) of ReLU(cos x): N = 3 and even N alias a large harmonic onto the signal, odd
  N ≥ 5 leave an alias 3/(4(N−1)²−1) that must stay below the 1 − cos(2π/p) gap, which is
  checked by enumerating the single-frequency block (measured minimum: N = 5 for p ≤ 113,
  N = 7 up to 257 at ρ = 0).
* several frequencies: concatenated blocks with positive amplitudes. A block at frequency k is
  the frequency-1 block composed with the permutation x ↦ kx of the residues, so it is exact iff
  the frequency-1 block is; a positive sum of blocks that each rank the right class strictly
  first also ranks it strictly first. Exactness of a multi-frequency construction therefore
  follows from one block check; the margin is measured on the whole model.
* **untied quadratic** (Gromov; docs/modular_addition.md#untied-quadratic-construction-gromov):
  ``W_a[n, j] = cos(θ_k(n) + φ1_j)``,
  ``W_b[m, j] = cos(θ_k(m) + φ2_j)``, ``W_out[j, q] = cos(θ_k(q) + φ1_j + φ2_j)`` with the
  designed phases (φ1, φ2)_j = (2πj/M, 2πtj/M), logits = (M/2) Σ_k cos(θ_k(n+m−q)) exactly.
* an **LP readout** (docs/modular_addition.md#lp-readout, scipy HiGHS) for any given input matrix
  (:mod:`toyforge.constructions.modular_lp_readout`).

The factored form (``embedding`` p × 2F of [cos θ_k, sin θ_k] columns, ``projection`` 2F × N,
tied ``readout`` N × 2F with W_out = readout · embeddingᵀ) is PAIR's trained architecture.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from toyforge.constructions.models import ModularAdditionMLP
from toyforge.constructions.modular_exactness import (
    ACTIVATIONS,
    ExactnessReport,
    _check_amplitudes,
    _check_frequencies,
    _check_modulus,
    exactness,
    fold_frequency,
    is_prime,
)
from toyforge.constructions.modular_lp_readout import LPReadoutResult, lp_readout
from toyforge.core.errors import InvalidParameter
from toyforge.core.validate import check_choice, check_int, check_real

__all__ = [
    "ExactnessReport",
    "LPReadoutResult",
    "ModularDesign",
    "circle_input_matrix",
    "exactness",
    "factored_form",
    "fold_frequency",
    "is_prime",
    "lp_readout",
    "min_neurons_per_frequency",
    "modular_addition",
    "recommended_design",
    "spread_frequencies",
    "untied_quadratic",
]

# is_prime, fold_frequency, ExactnessReport and exactness live in
# toyforge.constructions.modular_exactness; LPReadoutResult and lp_readout in
# toyforge.constructions.modular_lp_readout. They are importable from here too.


# --------------------------------------------------------------------------- tied constructions


def _phases(n_neurons: int, rotation: float) -> np.ndarray:
    return 2 * np.pi * np.arange(n_neurons) / n_neurons + rotation


def circle_input_matrix(
    modulus: int, n_neurons: int, frequency: int = 1, rotation: float = 0.0
) -> np.ndarray:
    """``W_in[a, j] = cos(θ_k(a) − φ_j)``, φ_j = 2πj/N + ρ: shape (p, N) (PAIR circle embedding)."""
    theta = 2 * np.pi * frequency * np.arange(modulus) / modulus
    return np.cos(theta[:, None] - _phases(n_neurons, rotation)[None, :])


def _block_factors(
    modulus: int, frequency: int, n_neurons: int, rotation: float, amplitude: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(embedding p×2, projection 2×N, readout N×2) of one frequency block.

    cos(θ − φ) = cos θ cos φ + sin θ sin φ, and the readout sits at the doubled angle 2φ_j
    (PAIR: "the out-projection at twice the in-projection angle";
    docs/modular_addition.md#tied-relu-construction).
    The amplitude scales the readout (logits are linear in it for both activations).
    """
    theta = 2 * np.pi * frequency * np.arange(modulus) / modulus
    phases = _phases(n_neurons, rotation)
    embedding = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    projection = np.stack([np.cos(phases), np.sin(phases)], axis=0)
    readout = amplitude * np.stack([np.cos(2 * phases), np.sin(2 * phases)], axis=1)
    return embedding, projection, readout


def _tied_model(
    modulus: int,
    frequencies: tuple[int, ...],
    n_neurons: int,
    rotation: float,
    amplitudes: np.ndarray,
    activation: str,
    factored: bool,
) -> ModularAdditionMLP:
    blocks = [
        _block_factors(modulus, k, n_neurons, rotation, amp)
        for k, amp in zip(frequencies, amplitudes, strict=True)
    ]
    embedding = np.concatenate([block[0] for block in blocks], axis=1)
    n_blocks = len(blocks)
    projection = np.zeros((2 * n_blocks, n_blocks * n_neurons))
    readout = np.zeros((n_blocks * n_neurons, 2 * n_blocks))
    for index, (_, block_projection, block_readout) in enumerate(blocks):
        rows, cols = (
            slice(2 * index, 2 * index + 2),
            slice(index * n_neurons, (index + 1) * n_neurons),
        )
        projection[rows, cols] = block_projection
        readout[cols, rows] = block_readout
    W_out = readout @ embedding.T
    if factored:
        return ModularAdditionMLP(
            embedding=embedding,
            projection=projection,
            readout=readout,
            W_out=W_out,
            activation=activation,
        )
    return ModularAdditionMLP(W_in=embedding @ projection, W_out=W_out, activation=activation)


def _structural_reason(activation: str, n_neurons: int) -> str | None:
    """Why N neurons per frequency cannot work for any p (None if no structural obstacle)."""
    if n_neurons < 3:
        return f"at least 3 neurons per frequency ({n_neurons} cannot represent the 2-D circle)"
    if activation == "quadratic" and n_neurons == 4:
        return (
            "3 or >= 5 quadratic neurons per frequency (with 4, 4φ_j ≡ 0 so "
            "Σ_j e^{4iφ_j} ≠ 0 and the harmonic 4φ aliases onto the readout; "
            "docs/modular_addition.md#tied-quadratic-construction)"
        )
    if activation == "relu" and n_neurons == 3:
        return (
            "an odd N >= 5 ReLU neurons per frequency (with 3, the first harmonic "
            "aliases onto the doubled-angle readout with 2.4x the signal; "
            "docs/modular_addition.md#tied-relu-construction)"
        )
    if activation == "relu" and n_neurons % 2 == 0:
        return (
            "an odd N >= 5 ReLU neurons per frequency (an even N aliases the harmonic "
            "N−2 of ReLU(cos) onto the signal and fails for most p; "
            "docs/modular_addition.md#tied-relu-construction)"
        )
    return None


def _block_report(
    modulus: int, n_neurons: int, rotation: float, activation: str
) -> ExactnessReport:
    model = _tied_model(modulus, (1,), n_neurons, rotation, np.ones(1), activation, False)
    return exactness(model)


def min_neurons_per_frequency(
    modulus: int, activation: str = "relu", rotation: float = 0.0, max_neurons: int = 41
) -> int:
    """Fewest neurons per frequency for which the tied construction is exact on all p² pairs.

    Quadratic: 3 (proved, docs/modular_addition.md#tied-quadratic-construction). ReLU: the smallest
    odd N >= 5 whose frequency-1 block is
    exact by enumeration (5 for p <= 113, 7 up to 257 at ρ = 0;
    docs/modular_addition.md#tied-relu-construction).
    """
    modulus = _check_modulus(modulus)
    check_choice("activation", activation, ACTIVATIONS)
    rotation = check_real("rotation", rotation)
    if activation == "quadratic":
        return 3
    for n_neurons in range(5, max_neurons + 1, 2):
        if _block_report(modulus, n_neurons, rotation, "relu").exact:
            return n_neurons
    raise InvalidParameter(
        "modulus",
        modulus,
        f"a prime whose ReLU construction is exact with <= {max_neurons} neurons per frequency",
    )


def modular_addition(
    modulus: int,
    frequencies: Sequence[int] | int = (1,),
    neurons_per_frequency: int | None = None,
    activation: str = "relu",
    amplitudes: Sequence[float] | float | None = None,
    rotation: float = 0.0,
    *,
    factored: bool = False,
    strict: bool = True,
) -> ModularAdditionMLP:
    """The tied Fourier construction ``logits = act(W_in[a] + W_in[b]) W_out``
    (docs/modular_addition.md#tied-quadratic-construction).

    Parameters
    ----------
    modulus : int
        An odd prime p <= 2048.
    frequencies : int or sequence of int
        Frequencies k (folded to 1…(p−1)/2, distinct). Several give a large margin.
    neurons_per_frequency : int, optional
        N per frequency; default the fewest exact ones (:func:`min_neurons_per_frequency`).
    activation : {"relu", "quadratic"}
    amplitudes : float or sequence of float, optional
        Positive weight of each frequency's readout (default 1).
    rotation : float
        Common phase ρ of the input neurons; the readout uses 2ρ (doubled angle).
    factored : bool
        Return the factored form (embedding p×2F, projection 2F×N·F, readout N·F×2F).
    strict : bool
        Refuse (InvalidParameter, with the reason) a size that is not exact; with False, build
        it anyway and warn (``UserWarning``).

    Returns
    -------
    ModularAdditionMLP
        With N·F hidden neurons; exact on all p² pairs unless ``strict=False`` let a failing
        size through.
    """
    modulus = _check_modulus(modulus)
    check_choice("activation", activation, ACTIVATIONS)
    frequencies = _check_frequencies(frequencies, modulus)
    amplitude_values = _check_amplitudes(amplitudes, len(frequencies))
    rotation = check_real("rotation", rotation)
    if neurons_per_frequency is None:
        neurons_per_frequency = min_neurons_per_frequency(modulus, activation, rotation)
    n_neurons = check_int("neurons_per_frequency", neurons_per_frequency, minimum=1)
    reason = _structural_reason(activation, n_neurons)
    if reason is None and activation == "relu":
        report = _block_report(modulus, n_neurons, rotation, activation)
        if not report.exact:
            smallest = min_neurons_per_frequency(modulus, activation, rotation)
            reason = (
                f"an odd N >= {smallest} ReLU neurons per frequency at p = {modulus}, "
                f"rotation {rotation:g} (N = {n_neurons} measured accuracy "
                f"{report.accuracy:.2%} on all p² pairs: the aliased harmonic 2N−2 beats "
                f"the 1 − cos(2π/p) gap)"
            )
    if reason is not None:
        if n_neurons < 3 or strict:
            raise InvalidParameter("neurons_per_frequency", n_neurons, reason)
        warnings.warn(f"construction is not exact: {reason}", UserWarning, stacklevel=2)
    return _tied_model(
        modulus, frequencies, n_neurons, rotation, amplitude_values, activation, factored
    )


# --------------------------------------------------------------------------- design helpers


def spread_frequencies(modulus: int, count: int) -> tuple[int, ...]:
    """``count`` folded frequencies chosen greedily (starting at 1) to maximise the clock gap.

    Gap = min over δ ≠ 0 of Σ_k (1 − cos(2πkδ/p)), the constructive-interference margin of
    Nanda et al. (2023, App. B) for logits Σ_k cos(θ_k(a+b−c)).
    """
    modulus = _check_modulus(modulus)
    half = (modulus - 1) // 2
    count = check_int("count", count, minimum=1)
    if count > half:
        raise InvalidParameter("count", count, f"at most (p−1)/2 = {half} frequencies")
    deltas = np.arange(1, modulus)
    candidates = np.arange(1, half + 1)
    table = 1.0 - np.cos(2 * np.pi * np.outer(candidates, deltas) / modulus)  # (k, δ)
    chosen = [1]
    total = table[0].copy()
    for _ in range(count - 1):
        scores = np.min(total[None, :] + table, axis=1)
        scores[np.asarray(chosen) - 1] = -np.inf
        best = int(np.argmax(scores))
        chosen.append(best + 1)
        total += table[best]
    return tuple(sorted(chosen))


@dataclass(frozen=True, kw_only=True, slots=True)
class ModularDesign:
    """A recommended construction and its exact check."""

    modulus: int
    activation: str
    frequencies: tuple[int, ...]
    neurons_per_frequency: int
    n_hidden: int
    report: ExactnessReport


def recommended_design(
    modulus: int,
    activation: str = "relu",
    *,
    min_relative_margin: float = 0.01,
    max_frequencies: int = 8,
) -> ModularDesign:
    """The fewest neurons that are exact with a useful margin.

    Uses the smallest exact N per frequency and adds greedily spread frequencies
    (:func:`spread_frequencies`) until margin / max |logit| >= ``min_relative_margin``
    (default 1 %, far above float32 rounding); one frequency is the absolute minimum.
    """
    modulus = _check_modulus(modulus)
    check_choice("activation", activation, ACTIVATIONS)
    n_neurons = min_neurons_per_frequency(modulus, activation)
    half = (modulus - 1) // 2
    design = None
    for count in range(1, min(max_frequencies, half) + 1):
        frequencies = spread_frequencies(modulus, count)
        model = modular_addition(modulus, frequencies, n_neurons, activation)
        design = ModularDesign(
            modulus=modulus,
            activation=activation,
            frequencies=frequencies,
            neurons_per_frequency=n_neurons,
            n_hidden=model.n_hidden,
            report=exactness(model),
        )
        if design.report.relative_margin >= min_relative_margin:
            break
    assert design is not None
    return design


# --------------------------------------------------------------------------- untied quadratic

_UNWANTED_PHASE_COMBINATIONS = ((1, 1), (1, -1), (3, 1), (1, 3), (2, 2), (0, 2), (2, 0))


def _cyclic_design(n_neurons: int) -> int | None:
    """Smallest t with a + t·b ≢ 0 (mod M) for every unwanted (a, b)
    (docs/modular_addition.md#untied-quadratic-construction-gromov)."""
    for t in range(1, n_neurons):
        if all((a + t * b) % n_neurons for a, b in _UNWANTED_PHASE_COMBINATIONS):
            return t
    return None


def untied_quadratic(
    modulus: int,
    frequencies: Sequence[int] | int = (1,),
    neurons_per_frequency: int = 6,
    *,
    phases: str = "designed",
    seed: int | None = None,
    factored: bool = False,
) -> ModularAdditionMLP:
    """Gromov's untied x² construction, with exact designed phases or random ones
    (docs/modular_addition.md#untied-quadratic-construction-gromov).

    ``W_in[n, j] = cos(θ_k(n) + φ1_j)``, ``W_in_right[m, j] = cos(θ_k(m) + φ2_j)``,
    ``W_out[j, q] = cos(θ_k(q) + φ1_j + φ2_j)``. ``phases="designed"``: (φ1, φ2)_j =
    (2πj/M, 2πtj/M) for the smallest valid t (M = 6 → t = 4, M = 7 → t = 3; M <= 5 has none),
    which cancels every phase-carrying term: logits = (M/2) Σ_k cos(θ_k(n+m−q)) exactly.
    ``phases="random"``: uniform phases (Gromov's solution), exact only with many neurons
    (≈ 256 at p = 67), not validated here. ``factored`` stores ``W_in`` as embedding @ projection
    (the right operand stays a plain matrix).
    """
    modulus = _check_modulus(modulus)
    frequencies = _check_frequencies(frequencies, modulus)
    n_neurons = check_int("neurons_per_frequency", neurons_per_frequency, minimum=1)
    check_choice("phases", phases, ("designed", "random"))
    if phases == "designed":
        step = _cyclic_design(n_neurons)
        if step is None:
            raise InvalidParameter(
                "neurons_per_frequency",
                n_neurons,
                "M >= 6 with a cyclic phase design (M <= 5 cannot cancel "
                "all seven phase combinations of (cos A + cos B)² cos C)",
            )
        index = np.arange(n_neurons)
        phase_left = np.tile(2 * np.pi * index / n_neurons, (len(frequencies), 1))
        phase_right = np.tile(2 * np.pi * step * index / n_neurons, (len(frequencies), 1))
    else:
        rng = np.random.default_rng(seed)
        phase_left = rng.uniform(0, 2 * np.pi, (len(frequencies), n_neurons))
        phase_right = rng.uniform(0, 2 * np.pi, (len(frequencies), n_neurons))
    theta = 2 * np.pi * np.outer(np.arange(modulus), frequencies) / modulus  # (p, F)
    embedding = np.concatenate([np.cos(theta), np.sin(theta)], axis=1)  # (p, 2F)
    n_freq = len(frequencies)

    def factor(phase: np.ndarray) -> np.ndarray:  # cos(θ + φ) = cos θ cos φ − sin θ sin φ
        matrix = np.zeros((2 * n_freq, n_freq * n_neurons))
        for index in range(n_freq):
            cols = slice(index * n_neurons, (index + 1) * n_neurons)
            matrix[index, cols] = np.cos(phase[index])
            matrix[n_freq + index, cols] = -np.sin(phase[index])
        return matrix

    projection_left = factor(phase_left)
    readout = factor(phase_left + phase_right).T
    W_out = readout @ embedding.T
    right = embedding @ factor(phase_right)
    if factored:
        return ModularAdditionMLP(
            embedding=embedding,
            projection=projection_left,
            readout=readout,
            W_out=W_out,
            W_in_right=right,
            activation="quadratic",
        )
    return ModularAdditionMLP(
        W_in=embedding @ projection_left, W_in_right=right, W_out=W_out, activation="quadratic"
    )


# --------------------------------------------------------------------------- factored form


def factored_form(model: ModularAdditionMLP, *, tol: float = 1e-10) -> ModularAdditionMLP:
    """The same model with ``W_in`` stored as ``embedding @ projection``.

    Already factored models are returned unchanged. Otherwise the embedding is the rank-r
    column space of ``[W_in | W_outᵀ]`` (SVD, singular values above ``tol`` × the largest),
    so that a tied ``readout`` with ``W_out = readout · embeddingᵀ`` exists, as in PAIR's
    trained architecture; for the Fourier constructions r = 2F.
    """
    if model.factored:
        return model
    stacked = np.concatenate([model.input_matrix(), np.asarray(model.W_out).T], axis=1)
    left, singular, _ = np.linalg.svd(stacked, full_matrices=False)
    rank = max(1, int(np.sum(singular > tol * singular[0])))
    embedding = left[:, :rank]
    projection = embedding.T @ model.input_matrix()
    readout = (embedding.T @ np.asarray(model.W_out).T).T
    return ModularAdditionMLP(
        embedding=embedding,
        projection=projection,
        readout=readout,
        W_out=readout @ embedding.T,
        W_in_right=model.W_in_right,
        activation=model.activation,
    )
