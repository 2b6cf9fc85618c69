"""Phase diagram of the large-N theory: log10 loss heatmap over (feature_prob, ratio) with the
regime boundaries (time sharing beats the symmetric solution; linear branch of the symmetric
optimum). Takes a :class:`toyforge.theory.PredictionGrid`; computes nothing itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from toyforge.figures._style import new_figure, style

__all__ = ["phase_diagram"]


def phase_diagram(grid: Any, *, log_axes: bool = False, title: str | None = None) -> Figure:
    """Heatmap of ``log10(loss)`` with regime contours.

    Parameters
    ----------
    grid : PredictionGrid
        From :func:`toyforge.theory.predict_grid`; arrays of shape (n_ratios, n_feature_probs).
    log_axes : bool
        Logarithmic axes (for geometric grids).
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    ratios = np.asarray(grid.ratios)
    probs = np.asarray(grid.feature_probs)
    loss = np.asarray(grid.loss, float)
    with style():
        figure, axes = new_figure(width=6.2, height=4.6)
        positive = loss[loss > 0]
        floor = positive.min() if positive.size else 1e-300
        image = axes.pcolormesh(
            probs, ratios, np.log10(np.maximum(loss, floor)), shading="nearest", cmap="viridis"
        )
        figure.colorbar(image, ax=axes, label="log10 loss (per feature, per sample)")
        sharing = (np.asarray(grid.regime) == "time-sharing").astype(float)
        branch = np.asarray(grid.linear_branch, float)
        handles = []
        if 0 < sharing.sum() < sharing.size and min(sharing.shape) > 1:
            axes.contour(probs, ratios, sharing, levels=[0.5], colors="white", linewidths=1.4)
            handles.append(("white", "-", "time sharing beats symmetric"))
        if 0 < branch.sum() < branch.size and min(branch.shape) > 1:
            axes.contour(
                probs,
                ratios,
                branch,
                levels=[0.5],
                colors="#D55E00",
                linewidths=1.4,
                linestyles="--",
            )
            handles.append(("#D55E00", "--", "symmetric optimum on linear branch"))
        if handles:
            from matplotlib.lines import Line2D

            axes.legend(
                [Line2D([], [], color=c, linestyle=s) for c, s, _ in handles],
                [label for *_, label in handles],
                loc="lower right",
                frameon=True,
                facecolor="0.3",
                labelcolor="white",
            )
        if log_axes:
            axes.set_xscale("log")
            axes.set_yscale("log")
        axes.set_xlabel("feature probability p")
        axes.set_ylabel("ratio r = n_hidden / n_features")
        axes.grid(False)
        axes.set_title(title or "Large-N loss of the symmetric ReLU autoencoder")
    return figure
