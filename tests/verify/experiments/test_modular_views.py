"""The data behind the modular-addition figures, checked against plain numpy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from toyforge.constructions.models import ModularAdditionMLP
from toyforge.constructions.modular_addition import modular_addition
from toyforge.core.errors import CorruptFile
from toyforge.verify.experiments.grokking import TrainingHistory
from toyforge.verify.experiments.modular_views import (
    load_history,
    save_history,
    strongest_neurons,
    weights_beside_construction,
)


def _scrambled_model(seed: int = 0) -> ModularAdditionMLP:
    """A two-frequency construction with random column scales and order (like a trained one)."""
    built = modular_addition(23, (2, 5), 5, "relu")
    rng = np.random.default_rng(seed)
    order = rng.permutation(built.n_hidden)
    scales = rng.uniform(0.5, 2.0, built.n_hidden)
    return ModularAdditionMLP(
        W_in=built.input_matrix()[:, order] * scales,
        W_out=np.asarray(built.W_out)[order] * scales[:, None],
        activation="relu",
    )


def test_strongest_neurons_are_the_largest_weight_products() -> None:
    model = _scrambled_model()
    shown = strongest_neurons(model, 4)
    W_in, W_out = model.input_matrix(), np.asarray(model.W_out)
    strength = [np.linalg.norm(W_in[:, j]) * np.linalg.norm(W_out[j]) for j in range(len(W_out))]
    assert list(shown.neurons) == sorted(range(len(strength)), key=lambda j: -strength[j])[:4]
    # activations[a, b, j] = ReLU(W_in[a, j] + W_in[b, j]) (tied model)
    for a, b in ((0, 0), (3, 17), (22, 5)):
        np.testing.assert_allclose(shown.activations[a, b], np.maximum(W_in[a] + W_in[b], 0))
    for neuron, label in zip(shown.neurons, shown.labels, strict=True):
        spectrum = np.abs(np.fft.rfft(W_in[:, neuron]))[1:]
        assert label == f"neuron {neuron} (k = {int(np.argmax(spectrum)) + 1})"


def test_weights_are_sorted_by_dominant_frequency() -> None:
    model = _scrambled_model(1)
    view = weights_beside_construction(model)
    W_in = model.input_matrix()
    # the trained panel is a column permutation of W_in ...
    matches = [
        int(np.flatnonzero(np.all(np.isclose(W_in, column[:, None]), axis=0))[0])
        for column in view.trained.T
    ]
    assert sorted(matches) == list(range(W_in.shape[1]))
    # ... whose dominant frequency (plain FFT) never decreases
    dominant = [int(np.argmax(np.abs(np.fft.rfft(c))[1:])) + 1 for c in view.trained.T]
    assert dominant == sorted(dominant)
    assert set(dominant) == {2, 5}
    assert view.constructed_label in (
        "construction (k = 2, 5, 10 neurons)",
        "construction (k = 5, 2, 10 neurons)",  # key frequencies come strongest first
    )


def test_history_round_trip_and_corrupt_file(tmp_path: Path) -> None:
    steps = np.arange(0, 50, 10)
    history = TrainingHistory(
        step=steps,
        train_loss=np.linspace(3, 1, 5),
        test_loss=np.linspace(3, 2, 5),
        train_accuracy=np.linspace(0, 1, 5),
        test_accuracy=np.linspace(0, 0.5, 5),
        weight_norm=np.linspace(1, 2, 5),
    )
    save_history(tmp_path / "run.history.npz", history)
    again = load_history(tmp_path / "run.history.npz")
    for name, values in history.to_arrays().items():
        np.testing.assert_array_equal(getattr(again, name), values)
    (tmp_path / "bad.npz").write_bytes(b"not an npz file")
    with pytest.raises(CorruptFile, match="not a training history"):
        load_history(tmp_path / "bad.npz")
