"""Curves assembled point by point equal one loss_curves call."""

from __future__ import annotations

import numpy as np
import pytest

from toyforge.core.errors import InvalidParameter
from toyforge.verify.compare.curve_points import curves_from_points, loss_curve_grid
from toyforge.verify.compare.rug_curves import loss_curves


@pytest.mark.parametrize(("axis", "fixed", "points"), [("ratio", 0.05, (0.1, 0.3))])
def test_assembled_curves_equal_the_whole_call(axis: str, fixed: float, points: tuple) -> None:
    whole = loss_curves(axis, fixed, points, n_features=64, n_samples=200, seed=3)
    rows = [
        {
            "at": whole.points[k],
            "rug_loss": whole.rug_loss[k],
            "rug_stderr": whole.rug_stderr[k],
            "finite_loss": whole.finite_loss[k],
            "trained_loss": None,
            "trained_stderr": None,
        }
        for k in range(len(points))
    ]
    assembled = curves_from_points(axis, fixed, 64, points, rows)
    for name in ("grid", "symmetric", "time_sharing", "linear", "points", "rug_loss"):
        np.testing.assert_array_equal(getattr(assembled, name), getattr(whole, name))
    assert np.all(np.isnan(assembled.trained_loss))


def test_grid_spans_the_points_and_the_axis_range() -> None:
    grid = loss_curve_grid("feature_prob", [0.05, 0.9], 50)
    assert grid[0] == pytest.approx(1e-3) and grid[-1] == pytest.approx(0.9)
    assert np.all(np.diff(np.log(grid)) == pytest.approx(np.log(900) / 49))
    assert loss_curve_grid("ratio", [0.001], 10)[[0, -1]] == pytest.approx([0.001, 1.0])
    with pytest.raises(InvalidParameter, match="axis"):
        loss_curve_grid("width", [0.1])
