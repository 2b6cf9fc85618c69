"""Phase diagrams from sweep tables: grids, NaN cells, gaps, the paper grid."""

from __future__ import annotations

import math

import numpy as np
import pytest

from toyforge.core.errors import InvalidParameter
from toyforge.figures.sweep_phase import (
    PAPER_GRID,
    phase_grid,
    relative_gap_grid,
    sweep_phase_figure,
)


def _rows() -> list[dict]:
    rows = []
    for ratio in (0.1, 0.5):
        for prob in (0.01, 0.2):
            rows.append(
                {
                    "ratio": ratio,
                    "feature_prob": prob,
                    "theory_loss": ratio + prob,
                    "theory_regime": "symmetric" if ratio > 0.2 else "time-sharing",
                    "construction_loss": 1.1 * (ratio + prob),
                    "trained_loss": None if prob > 0.1 else 2.0 * (ratio + prob),
                }
            )
    return rows[:-1]  # (0.5, 0.2) missing


def test_paper_grid_is_the_papers_linspace() -> None:
    assert len(PAPER_GRID) == 20
    assert PAPER_GRID[0] == 0.002001 and PAPER_GRID[-1] == 0.8
    assert math.isclose(PAPER_GRID[1] - PAPER_GRID[0], (0.8 - 0.002001) / 19)


def test_phase_grid_places_values_and_leaves_missing_cells_nan() -> None:
    ratios, probs, values = phase_grid(_rows(), "theory_loss")
    assert ratios.tolist() == [0.1, 0.5] and probs.tolist() == [0.01, 0.2]
    assert values[0, 0] == pytest.approx(0.11) and values[1, 0] == pytest.approx(0.51)
    assert np.isnan(values[1, 1])
    _, _, regime = phase_grid(_rows(), "theory_regime")
    assert regime[0, 0] == 2 and regime[1, 0] == 0  # time-sharing, symmetric


def test_phase_grid_on_the_paper_grid_is_20_by_20_and_mostly_nan() -> None:
    rows = [{"ratio": PAPER_GRID[3], "feature_prob": PAPER_GRID[5], "loss": 0.5}]
    _, _, values = phase_grid(rows, "loss", ratios=PAPER_GRID, feature_probs=PAPER_GRID)
    assert values.shape == (20, 20)
    assert values[3, 5] == 0.5 and np.isnan(values).sum() == 399


def test_relative_gaps() -> None:
    _, _, rug = relative_gap_grid(_rows(), "construction_loss")
    assert np.allclose(rug[np.isfinite(rug)], 0.1)
    _, _, trained = relative_gap_grid(_rows(), "trained_loss")
    assert np.allclose(trained[:, 0], 1.0) and np.isnan(trained[:, 1]).all()


def test_figure_has_four_panels_and_refuses_an_empty_table() -> None:
    figure = sweep_phase_figure(_rows())
    assert len([axis for axis in figure.axes if axis.get_label() != "<colorbar>"]) == 4
    with pytest.raises(InvalidParameter):
        sweep_phase_figure([{"ratio": 0.1, "feature_prob": 0.1}])
