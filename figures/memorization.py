"""Figures of the memorisation experiments: double descent, 2-D geometry, dimensionalities,
reconstruction-limit heatmaps.

Renderers take result objects of :mod:`toyforge.verify.experiments.double_descent` and
:mod:`toyforge.verify.experiments.reconstruction` and return :class:`matplotlib.figure.Figure`
objects; they
compute no losses (docs/memorisation.md#data-double-descent).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from toyforge.figures._style import new_figure, style

__all__ = [
    "dimensionality_figure",
    "double_descent_figure",
    "geometry_figure",
    "reconstruction_limits_figure",
    "reconstruction_limits_titled",
]


def _medians(result: Any, attribute: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    sizes = result.sizes()
    values = [
        [_value(getattr(point, attribute)) for point in result.at(int(size))] for size in sizes
    ]
    return (
        sizes,
        np.array([np.median(v) for v in values]),
        np.array([np.min(v) for v in values]),
        np.array([np.max(v) for v in values]),
    )


def _value(item: Any) -> float:
    return float(getattr(item, "value", item))


def _draw_vectors(axes: Any, vectors: np.ndarray, color: str, *, dots: bool = False) -> None:
    """Lines from the origin to each 2-D vector (rows of ``vectors``)."""
    for x, y in vectors:
        axes.plot([0, x], [0, y], color=color, linewidth=0.8, alpha=0.8)
    if dots:
        axes.scatter(vectors[:, 0], vectors[:, 1], s=6, color=color, zorder=3)
    limit = max(float(np.abs(vectors).max(initial=0.0)) * 1.15, 1e-9)
    axes.set_xlim(-limit, limit)
    axes.set_ylim(-limit, limit)
    axes.set_aspect("equal")
    axes.set_xticks([])
    axes.set_yticks([])


def _memorising_point(result: Any) -> Any:
    candidates = [p for p in result.points if p.train_loss < 1e-3 and p.n_points >= 3]
    return min(candidates, key=lambda p: (abs(p.n_points - 5), p.seed)) if candidates else None


def _generalising_point(result: Any) -> Any:
    largest = int(result.sizes().max())
    return result.at(largest)[0]


def double_descent_figure(result: Any) -> Figure:
    """Train and test loss against T (log-log, median and seed range) with geometry insets.

    Inset left: hidden vectors of the training points in the memorising regime (a regular
    T-gon); inset right: feature columns W_i at the largest T (the generalising pentagon).
    """
    with style():
        figure, axes = new_figure(width=7.0, height=4.6)
        for attribute, color, label in (
            ("train_loss", "C0", "train loss"),
            ("test_loss", "C3", "test loss"),
        ):
            sizes, median, low, high = _medians(result, attribute)
            floor = np.maximum(median, 1e-8)
            axes.plot(sizes, floor, "o-", color=color, label=label, markersize=3)
            axes.fill_between(
                sizes,
                np.maximum(low, 1e-8),
                np.maximum(high, 1e-8),
                color=color,
                alpha=0.2,
                linewidth=0,
            )
        axes.axhline(1.0, color="0.5", linestyle=":", linewidth=1, label="zero output")
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("training-set size T")
        axes.set_ylabel("loss per point")
        config = result.config
        seeds = len({point.seed for point in result.points})
        axes.set_title(
            f"data double descent: n={config.n_features}, m=2, "
            f"S={config.sparsity:g}, {config.steps} AdamW steps\n{seeds} seed"
            f"{'s' if seeds > 1 else ''} (median, range), best of "
            f"{config.restarts} init{'s' if config.restarts > 1 else ''}",
            fontsize=9,
        )
        axes.legend(loc="upper left", fontsize=8)
        memorising = _memorising_point(result)
        if memorising is not None:
            inset = axes.inset_axes([0.46, 0.05, 0.22, 0.33])
            _draw_vectors(inset, memorising.hidden, "C0", dots=True)
            inset.set_title(f"T={memorising.n_points}: hidden h_t", fontsize=7)
        generalising = _generalising_point(result)
        inset = axes.inset_axes([0.74, 0.05, 0.22, 0.33])
        _draw_vectors(inset, generalising.W.T, "C3")
        inset.set_title(f"T={generalising.n_points}: features W_i", fontsize=7)
    return figure


def geometry_figure(result: Any, sizes: Sequence[int], seed: int = 0) -> Figure:
    """Hidden vectors (top row) and feature columns (bottom row) in 2-D for chosen T."""
    chosen = [next(p for p in result.at(int(size)) if p.seed == seed) for size in sizes]
    with style():
        figure, axes = new_figure(
            2, len(chosen), width=2.0 * len(chosen) + 0.5, height=4.4, squeeze=False
        )
        for column, point in enumerate(chosen):
            _draw_vectors(axes[0, column], point.hidden, "C0", dots=True)
            axes[0, column].set_title(
                f"T={point.n_points}\ntrain {point.train_loss:.2g}, "
                f"test {point.test_loss.value:.3g}",
                fontsize=8,
            )
            _draw_vectors(axes[1, column], point.W.T, "C3")
            axes[1, column].set_xlabel(f"|W|_F={point.weight_norm:.3g}", fontsize=8)
        axes[0, 0].set_ylabel("hidden vectors h_t")
        axes[1, 0].set_ylabel("features W_i")
    return figure


def dimensionality_figure(result: Any, threshold: float = 0.5) -> Figure:
    """Feature dimensionality D_i (features with ‖W_i‖ > threshold) and data-point
    dimensionalities D_X and D* of every training point, against T (log x)."""
    with style():
        figure, (left, right) = new_figure(1, 2, width=9.0, height=3.6)
        rng = np.random.default_rng(0)
        for point in result.points:
            norms = np.linalg.norm(point.W, axis=0)
            dims = point.feature_dims[norms > threshold]
            jitter = point.n_points * np.exp(rng.uniform(-0.08, 0.08, dims.size))
            left.scatter(jitter, dims, s=4, color="C3", alpha=0.4, linewidths=0)
            shown = point.max_data_dims
            jitter = point.n_points * np.exp(rng.uniform(-0.08, 0.08, shown.size))
            right.scatter(jitter, np.maximum(shown, 1e-6), s=3, color="C0", alpha=0.3, linewidths=0)
        sizes = result.sizes()
        right.plot(sizes, 2.0 / sizes, "k--", linewidth=1, label="2/T (T-gon)")
        for value in (1.0, 0.5, 0.4):
            left.axhline(value, color="0.6", linestyle=":", linewidth=0.8)
        left.set_xscale("log")
        left.set_xlabel("training-set size T")
        left.set_ylabel(f"feature dimensionality D_i (|W_i| > {threshold})")
        right.set_xscale("log")
        right.set_yscale("log")
        right.set_xlabel("training-set size T")
        right.set_ylabel("max data dimensionality D*_t")
        right.legend(fontsize=8)
    return figure


def _bound_positions(curve: Sequence[float], y_values: Sequence[float]) -> np.ndarray:
    """Heatmap row coordinates of ``curve`` (y-axis values), interpolated between the rows
    in log space when every y value is positive (hidden sizes), else linearly; clipped to
    the edges."""
    values = np.asarray(curve, dtype=float)
    rows = np.asarray(y_values, dtype=float)
    index = np.arange(rows.size, dtype=float)
    if np.all(rows > 0) and np.all(values > 0):
        values, rows = np.log(values), np.log(rows)
    return np.interp(values, rows, index, left=-0.5, right=rows.size - 0.5)


_BOUND_STYLES = ("--", ":", "-.")


def _draw_bounds(
    axis: Any, grid: Any, bounds: dict[str, Sequence[float]] | None, legend: bool = True
) -> None:
    x_index = np.arange(len(grid.x_values))
    for number, (label, curve) in enumerate((bounds or {}).items()):
        axis.plot(
            x_index,
            _bound_positions(curve, grid.y_values),
            _BOUND_STYLES[number % len(_BOUND_STYLES)],
            color="w" if number else "C1",
            linewidth=1.6,
            label=label,
        )
    if bounds and legend:
        axis.legend(fontsize=6, loc="upper right", framealpha=0.7)
    axis.set_xlim(-0.5, len(x_index) - 0.5)
    axis.set_ylim(-0.5, len(grid.y_values) - 0.5)


def reconstruction_limits_figure(
    panels: Sequence[tuple[str, Any]],
    bounds: dict[str, Sequence[float]] | None = None,
    columns: int = 2,
) -> Figure:
    """Relative test loss heatmaps of several reconstruction grids, with bound curves.

    Parameters
    ----------
    panels : sequence of (title, ReconstructionGrid)
        One heatmap each (colour: test loss / zero-output loss, clipped to [0, 1]); every cell
        is labelled "loss / accuracy".
    bounds : dict, optional
        Label → one y-axis value per x value (e.g. the hidden size m = 2k or the ℓ1 threshold
        m = 2k ln(n/m) per sparsity, docs/memorisation.md#limits-of-reconstruction), drawn over
        every panel.
    columns : int
        Panels per row.
    """
    rows = -(-len(panels) // columns)
    with style():
        figure, axes = new_figure(
            rows, columns, width=4.3 * columns, height=3.6 * rows, squeeze=False
        )
        image = None
        for axis, (title, grid) in zip(axes.flat, panels, strict=False):
            values = np.clip(grid.relative_loss, 0.0, 1.0)
            image = axis.imshow(
                values, origin="lower", aspect="auto", cmap="viridis", vmin=0.0, vmax=1.0
            )
            for row in range(values.shape[0]):
                for column in range(values.shape[1]):
                    axis.text(
                        column,
                        row,
                        f"{grid.relative_loss[row, column]:.2f}\n{grid.accuracy[row, column]:.2f}",
                        ha="center",
                        va="center",
                        fontsize=5.5,
                        color="w" if values[row, column] < 0.6 else "k",
                    )
            axis.set_xticks(
                np.arange(len(grid.x_values)), [f"{v:g}" for v in grid.x_values], fontsize=7
            )
            axis.set_yticks(
                np.arange(len(grid.y_values)), [f"{v:g}" for v in grid.y_values], fontsize=7
            )
            axis.set_xlabel(grid.x_axis)
            axis.set_ylabel(grid.y_axis)
            axis.set_title(title, fontsize=8)
            _draw_bounds(axis, grid, bounds, legend=False)
        for axis in list(axes.flat)[len(panels) :]:
            axis.set_visible(False)
        if image is not None:
            figure.colorbar(
                image,
                ax=axes,
                shrink=0.6,
                label="test loss / zero-output loss (cell: loss / accuracy)",
            )
        if bounds:
            handles, labels = axes.flat[0].get_legend_handles_labels()
            figure.legend(
                handles,
                labels,
                loc="outside lower center",
                ncols=len(labels),
                fontsize=8,
                frameon=True,
                facecolor="0.45",
                labelcolor="w",
            )
    return figure


def reconstruction_limits_titled(
    panels: Sequence[tuple[str, Any]], curves: Mapping[str, Sequence[float]]
) -> Figure:
    """:func:`reconstruction_limits_figure` with a title naming the recipe of the grids."""
    figure = reconstruction_limits_figure(panels, curves)
    first = panels[0][1].base
    figure.suptitle(
        f"limits of reconstruction: n = {first.n_features}, T = {first.n_points} "
        f"training points, {first.steps} full-batch Adam steps, lr {first.lr:g}",
        fontsize=10,
    )
    return figure
