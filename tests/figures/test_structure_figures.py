"""Structure figures, checked through the data they draw."""

from __future__ import annotations

import numpy as np
from matplotlib.collections import QuadMesh

from toyforge.figures.structure import (
    family_curves_figure,
    structure_phase_diagram,
    winning_family,
)
from toyforge.theory import predict_grid
from toyforge.theory.family_curves import family_curves


def _expected_winner(grid, i, j):
    best, best_key = None, None
    for slot in range(2):
        name = str(grid.structure_family[i, j, slot])
        if not name:
            continue
        share, dims = grid.structure_feature_share[i, j, slot], grid.structure_dims[i, j, slot]
        key = (
            name not in ("dropped", "dedicated"),
            share * dims if name not in ("dropped", "dedicated") else dims,
        )
        if best_key is None or key > best_key:
            best, best_key = name, key
    return best


def test_phase_diagram_draws_the_winning_family():
    grid = predict_grid(
        np.array([0.1, 0.25, 0.48, 0.64, 0.9]), np.geomspace(0.005, 0.9, 6), bounds=False
    )
    codes, names = winning_family(grid)
    for i in range(5):
        for j in range(6):
            assert names[codes[i, j]] == _expected_winner(grid, i, j)
    figure = structure_phase_diagram(grid)
    axes = figure.axes[0]
    mesh = [c for c in axes.collections if isinstance(c, QuadMesh)][0]
    np.testing.assert_array_equal(np.asarray(mesh.get_array()).reshape(codes.shape), codes)
    assert axes.get_xscale() == "log"
    labels = [t.get_text() for t in axes.get_legend().get_texts()]
    assert set(names) <= set(labels)


def test_family_curves_figure_draws_the_curves():
    curves = [family_curves(np.linspace(0.05, 0.95, 12), p) for p in (0.01, 0.16)]
    figure = family_curves_figure(curves)
    for ax, data in zip(figure.axes, curves, strict=True):
        lines = {line.get_label(): line for line in ax.get_lines()}
        np.testing.assert_allclose(lines["envelope"].get_ydata(), data.envelope)
        np.testing.assert_allclose(lines["Persian rug (symmetric)"].get_ydata(), data.symmetric)
        np.testing.assert_allclose(lines["pair rug"].get_ydata(), data.pair_rug)
        points = lines["polytope blocks"]
        assert set(np.round(points.get_xdata(), 6)) == {
            round(v[0], 6) for v in data.polytopes.values()
        }
        assert np.all(data.envelope <= data.time_sharing * (1 + 1e-12))
        assert np.all(np.isnan(data.pair_rug[data.ratios > 0.5]))
