"""The phase-diagram figure draws what it is given (majority phase per cell)."""

from __future__ import annotations

import numpy as np

from toyforge.figures.grok_phase import PHASE_COLOURS, phase_diagram_figure


def _diagram(phase):
    return {
        "x": {"name": "train_fraction", "values": [0.2, 0.5]},
        "y": {"name": "weight_decay", "values": [0.1, 1.0]},
        "phases": ["confusion", "memorisation", "grokking", "comprehension"],
        "phase": phase,
        "t_test": [[[-1, -1], [3000, 5000]], [[-1, -1], [400, 300]]],
    }


def test_majority_phase_is_drawn_per_cell():
    phase = [[[0, 0], [2, 2]], [[1, 1], [3, 2]]]  # tie in the last cell -> later phase
    figure = phase_diagram_figure([_diagram(phase)])
    image = figure.axes[0].images[0]
    np.testing.assert_array_equal(np.asarray(image.get_array()), [[0, 2], [1, 3]])
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert texts == ["4k"]  # median grok step of the grokking cell, in thousands
    assert len(PHASE_COLOURS) == 4
