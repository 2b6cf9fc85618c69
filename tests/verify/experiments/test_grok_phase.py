"""Batched grokking runs equal the serial trainer; Liu et al.'s phase classes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from toyforge.core.errors import InvalidParameter
from toyforge.verify.experiments.grok_phase import (
    PHASES,
    GrokRun,
    classify_phase,
    phase_diagram,
    train_batched,
)
from toyforge.verify.experiments.grokking import ModularTrainingConfig, train_modular_addition

BASE = ModularTrainingConfig(modulus=23, d_embed=16, n_hidden=8, steps=200, eval_every=50)


def test_batch_equals_serial_float64_runs():
    runs = [
        GrokRun(seed=3, train_fraction=0.5, lr=3e-3, weight_decay=0.5),
        GrokRun(seed=4, train_fraction=0.3, lr=1e-2, weight_decay=0.0),
    ]
    batch = train_batched(BASE, runs)
    for i, run in enumerate(runs):
        serial = train_modular_addition(
            replace(
                BASE,
                seed=run.seed,
                train_fraction=run.train_fraction,
                lr=run.lr,
                weight_decay=run.weight_decay,
                dtype="float64",
            )  # fmt: skip
        )
        embedding = batch.parameters["embedding"][i]
        W_in = embedding @ batch.parameters["projection"][i]
        np.testing.assert_allclose(W_in, serial.model.input_matrix(), rtol=1e-9, atol=1e-12)
        np.testing.assert_array_equal(batch.steps, serial.history.step)
        np.testing.assert_allclose(batch.history[i, :, 2], serial.history.test_loss, rtol=1e-9)
        np.testing.assert_allclose(batch.history[i, :, 3], serial.history.test_accuracy)
        np.testing.assert_allclose(batch.history[i, :, 1], serial.history.train_accuracy)


@pytest.mark.parametrize(
    ("t_train", "t_test", "phase"),
    [
        (-1, -1, "confusion"),
        (-1, 300, "confusion"),
        (100, -1, "memorisation"),
        (100, 1100, "comprehension"),
        (100, 1101, "grokking"),
    ],
)
def test_phase_rules(t_train, t_test, phase):
    assert classify_phase(t_train, t_test, delay=1000) == phase


def test_phase_diagram_cells_follow_their_crossing_steps():
    diagram = phase_diagram(
        replace(BASE, modulus=11, steps=300),
        ("train_fraction", [0.3, 0.8]),
        ("weight_decay", [0.0, 1.0]),
        n_seeds=2,
        delay=100,
        defaults=GrokRun(lr=1e-2),
    )
    assert diagram.phase.shape == (2, 2, 2)
    for index in np.ndindex(diagram.phase.shape):
        expected = classify_phase(int(diagram.t_train[index]), int(diagram.t_test[index]), 100)
        assert PHASES[diagram.phase[index]] == expected
    assert set(diagram.majority().ravel()) <= set(range(len(PHASES)))
    # cells are laid out y-major then x then seed, as the runs were built
    runs = diagram.batch.runs
    assert runs[0].train_fraction == 0.3 and runs[2].train_fraction == 0.8
    assert runs[4].weight_decay == 1.0 and runs[1].seed == 1


def test_bad_axes_refused():
    with pytest.raises(InvalidParameter, match="axis"):
        phase_diagram(BASE, ("beta1", [0.9]), ("lr", [1e-3]))
    with pytest.raises(InvalidParameter, match="axis"):
        phase_diagram(BASE, ("lr", [1e-3]), ("lr", [1e-2]))
