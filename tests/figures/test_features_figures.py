"""Figures for non-identical features, checked through the data they draw."""

from __future__ import annotations

import numpy as np
import pytest

from toyforge.core.errors import InvalidParameter
from toyforge.figures.features import (
    STICKY,
    dimensionality_figure,
    loss_vs_width_figure,
    tms_importance_figure,
    two_feature_phase_figure,
)
from toyforge.theory.two_features import antipodal_boundary, two_feature_diagram


def _by_gid(figure, gid):
    found = [a for ax in figure.axes for a in ax.get_children() if a.get_gid() == gid]
    assert found, gid
    return found[0]


def test_loss_vs_width_draws_theory_and_trained_points():
    widths = np.array([8, 16, 32])
    figure = loss_vs_width_figure(
        widths,
        [0.3, 0.2, 0.1],
        [0.01, 0.01, 0.01],
        [4, 8, 16, 32, 64],
        [1, 0.5, 0.25, 0.12, 0.06],
        theory_error=[0.1, 0.05, 0.02, 0.01, 0.005],
        baseline=0.4,
    )
    np.testing.assert_array_equal(_by_gid(figure, "baseline").get_ydata(), [0.4, 0.4])
    line = _by_gid(figure, "theory")
    np.testing.assert_array_equal(line.get_xdata(), [4, 8, 16, 32, 64])
    np.testing.assert_array_equal(line.get_ydata(), [1, 0.5, 0.25, 0.12, 0.06])
    axes = figure.axes[0]
    assert axes.get_xscale() == "log" and axes.get_yscale() == "log"
    points = [ln for ln in axes.lines if ln.get_marker() == "o"]
    np.testing.assert_array_equal(points[0].get_ydata(), [0.3, 0.2, 0.1])
    with pytest.raises(InvalidParameter, match="trained"):
        loss_vs_width_figure(widths, [0.3], [0.01], [4], [1])


def test_tms_bars_have_the_norms():
    norms = np.array([[1.0, 0.5, 0.0], [1.0, 1.0, 0.9]])
    interference = np.array([[0.0, 0.2, 0.0], [0.0, 1.0, 1.0]])
    figure = tms_importance_figure([0.5, 0.05], norms, interference)
    assert len(figure.axes) == 2
    for k, ax in enumerate(figure.axes):
        heights = [patch.get_height() for patch in ax.patches]
        np.testing.assert_array_equal(heights, norms[k])
    # colour encodes superposition: no interference and full interference differ
    first = figure.axes[1].patches
    assert first[0].get_facecolor() != first[1].get_facecolor()
    with pytest.raises(InvalidParameter, match="norms"):
        tms_importance_figure([0.5], norms, interference)


def test_dimensionality_points_line_and_sticky_values():
    dims = np.array([[1.0, 0.5, 0.0], [0.4, 0.4, 0.4]])
    figure = dimensionality_figure([0.5, 0.05], dims, [0.9, 0.4], represented=dims > 0.1)
    scatter = _by_gid(figure, "features")
    offsets = scatter.get_offsets()
    np.testing.assert_allclose(offsets[:, 0], [2, 2, 20, 20, 20])
    np.testing.assert_allclose(offsets[:, 1], [1.0, 0.5, 0.4, 0.4, 0.4])
    np.testing.assert_allclose(_by_gid(figure, "dstar").get_ydata(), [0.9, 0.4])
    levels = {
        round(ln.get_ydata()[0], 6) for ln in figure.axes[0].lines if ln.get_linestyle() == "--"
    }
    assert levels == {round(v, 6) for v in STICKY}


def test_two_feature_phase_figure_draws_the_phases_and_boundary():
    s = np.geomspace(0.01, 1, 30)
    r = np.geomspace(0.1, 10, 20)
    diagram = two_feature_diagram(s, r)
    figure = two_feature_phase_figure(diagram, boundary=antipodal_boundary(s))
    mesh = _by_gid(figure, "phase")
    np.testing.assert_array_equal(np.asarray(mesh.get_array()).reshape(20, 30), diagram.phase)
    edge = antipodal_boundary(s)
    line = _by_gid(figure, "boundary")
    np.testing.assert_allclose(line.get_ydata(), edge[edge <= 1])
    np.testing.assert_allclose(line.get_xdata(), s[s < 4 / 7])


def test_pair_geometry_draws_every_direction():
    from toyforge.figures.features import pair_geometry_figure

    W = np.array([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]])
    V = np.array([[1.0, 0.0, -1.0, 0.0], [0.0, 1.0, 0.0, -1.0]])
    figure = pair_geometry_figure([W, V], ["anti", "corr"])
    assert [ax.get_title() for ax in figure.axes] == ["anti", "corr"]
    for ax, matrix in zip(figure.axes, (W, V), strict=True):
        for i in range(4):
            line = next(a for a in ax.get_children() if a.get_gid() == f"feature-{i}")
            np.testing.assert_array_equal(line.get_xdata(), [0, matrix[0, i]])
            np.testing.assert_array_equal(line.get_ydata(), [0, matrix[1, i]])
    with pytest.raises(InvalidParameter, match="cases"):
        pair_geometry_figure([np.ones((3, 4))], ["x"])
