"""What the modular-addition figures show, computed once for the CLI and the report.

``toyforge figure neuron-activations`` / ``modular-weights`` / ``grokking`` and the report's
modular item draw the same data; it is prepared here:

* :func:`strongest_neurons` — the hidden activations over all pairs (a, b), the neurons with the
  largest ``‖W_in[:, j]‖ · ‖W_out[j]‖`` and a label naming each one's dominant frequency;
* :func:`weights_beside_construction` — a trained ``W_in`` with its neurons sorted by dominant
  frequency, then phase, beside the exact construction at the same key frequencies;
* :func:`save_history` / :func:`load_history` — the ``.history.npz`` file of a training run.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toyforge.constructions.models import ModularAdditionMLP
from toyforge.core.errors import CorruptFile
from toyforge.core.fileio import atomic_write
from toyforge.core.validate import check_int
from toyforge.verify.experiments.fourier_analysis import (
    ConstructionComparison,
    compare_with_construction,
    neuron_frequencies,
)
from toyforge.verify.experiments.grokking import TrainingHistory

__all__ = [
    "NeuronActivations",
    "WeightsBesideConstruction",
    "load_history",
    "save_history",
    "strongest_neurons",
    "weights_beside_construction",
]


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class NeuronActivations:
    """Hidden activations over all pairs and the neurons to show.

    Attributes
    ----------
    activations : ndarray, shape (p, p, n_hidden)
        ``activations[a, b, j]``: neuron j on the pair (a, b).
    neurons : tuple of int
        The strongest neurons, strongest first.
    labels : tuple of str
        ``"neuron j (k = f)"`` with f the neuron's dominant frequency.
    """

    activations: np.ndarray
    neurons: tuple[int, ...]
    labels: tuple[str, ...]


def strongest_neurons(model: ModularAdditionMLP, count: int = 8) -> NeuronActivations:
    """The ``count`` neurons with the largest ``‖W_in[:, j]‖ · ‖W_out[j]‖`` and their activations.

    Parameters
    ----------
    model : ModularAdditionMLP
    count : int >= 1
        How many neurons (fewer when the model has fewer).
    """
    count = check_int("count", count, minimum=1)
    p = model.modulus
    a, b = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    activations = model.hidden(a.ravel(), b.ravel()).reshape(p, p, model.n_hidden)
    strength = np.linalg.norm(model.input_matrix(), axis=0) * np.linalg.norm(model.W_out, axis=1)
    neurons = tuple(int(n) for n in np.argsort(strength)[::-1][:count])
    dominant = neuron_frequencies(model)
    labels = tuple(f"neuron {n} (k = {dominant[n]})" for n in neurons)
    return NeuronActivations(activations=activations, neurons=neurons, labels=labels)


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class WeightsBesideConstruction:
    """A trained ``W_in`` (neurons sorted) and the construction at its key frequencies."""

    constructed: np.ndarray
    trained: np.ndarray
    constructed_label: str
    trained_label: str
    comparison: ConstructionComparison


def weights_beside_construction(model: ModularAdditionMLP) -> WeightsBesideConstruction:
    """``W_in`` of ``model`` sorted by dominant frequency then phase, beside the construction.

    The phase of neuron j is ``arg Σ_a exp(2πi k_j a / p) W_in[a, j]`` at its dominant
    frequency k_j; the construction is
    :func:`toyforge.verify.experiments.fourier_analysis.compare_with_construction`'s.
    """
    comparison = compare_with_construction(model)
    trained = np.asarray(model.input_matrix(), dtype=np.float64)
    dominant = neuron_frequencies(model)
    angles = 2 * np.pi * np.outer(np.arange(model.modulus), dominant) / model.modulus
    phase = np.angle(np.sum(np.exp(1j * angles) * trained, axis=0))
    order = np.lexsort((phase, dominant))
    frequencies = ", ".join(str(k) for k in comparison.key_frequencies)
    return WeightsBesideConstruction(
        constructed=comparison.construction_model.input_matrix(),
        trained=trained[:, order],
        constructed_label=f"construction (k = {frequencies}, "
        f"{comparison.construction_n_hidden} neurons)",
        trained_label=f"trained ({model.n_hidden} neurons, sorted by frequency)",
        comparison=comparison,
    )


def save_history(path: str | Path, history: TrainingHistory) -> None:
    """Write ``history`` as an ``.npz`` file (atomically, no pickle)."""
    atomic_write(Path(path), lambda handle: np.savez(handle, **history.to_arrays()))


def load_history(path: str | Path) -> TrainingHistory:
    """Read a ``.history.npz`` file; :class:`CorruptFile` when it is not one."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return TrainingHistory.from_arrays({name: data[name] for name in data.files})
    except (ValueError, zipfile.BadZipFile, EOFError) as error:
        # numpy's own message recommends enabling pickles: never pass that advice on
        reason = "it holds pickled data" if "pickle" in str(error).lower() else str(error)
        raise CorruptFile(f"{path}: not a training history ({reason})") from error
