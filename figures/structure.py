"""Structure figures: which solution family wins where, and loss against ratio per family.

docs/solution_families.md#figures. Draws only: the data come from
:func:`toyforge.theory.predict_grid` (``structure_*`` fields) and
:func:`toyforge.theory.family_curves.family_curves`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from toyforge.figures._style import new_figure, style

__all__ = ["family_curves_figure", "structure_phase_diagram", "winning_family"]

_PALETTE = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#999999",
    "#000000", "#8C564B", "#17BECF", "#BCBD22",
)  # fmt: skip


def winning_family(grid: Any) -> tuple[np.ndarray, list[str]]:
    """Per grid point, the envelope component with the largest neuron share, preferring a
    superposing family over ``dedicated`` and ``dropped`` (those win only when alone);
    returns integer codes and the names they index."""
    family = np.asarray(grid.structure_family)
    share = np.asarray(grid.structure_feature_share)
    dims = np.asarray(grid.structure_dims)
    neurons = np.where(np.isin(family, ("dropped", "dedicated")), -1.0 + dims, share * dims)
    neurons = np.where(family == "", -2.0, neurons)
    slot = np.argmax(neurons, axis=-1)
    winner = np.take_along_axis(family, slot[..., None], axis=-1)[..., 0]
    names = sorted(set(winner.ravel().tolist()))
    codes = np.searchsorted(np.array(names), winner)
    return codes, names


def structure_phase_diagram(grid: Any, *, title: str | None = None) -> Figure:
    """Map of the winning family over (log p, r), with the contour where the envelope is 5 %
    below the symmetric theory.

    Parameters
    ----------
    grid : PredictionGrid
        A fine grid (geometric ``feature_probs`` for the log axis).
    title : str, optional
    """
    codes, names = winning_family(grid)
    probs, ratios = np.asarray(grid.feature_probs), np.asarray(grid.ratios)
    with style():
        figure, axes = new_figure(width=6.8, height=4.8)
        cmap = ListedColormap([_PALETTE[i % len(_PALETTE)] for i in range(len(names))])
        axes.pcolormesh(
            probs, ratios, codes, shading="nearest", cmap=cmap, vmin=-0.5,
            vmax=len(names) - 0.5, rasterized=True,
        )  # fmt: skip
        symmetric = np.asarray(grid.symmetric_loss)
        envelope = np.asarray(grid.envelope_loss)
        gain = np.divide(envelope, symmetric, out=np.ones_like(envelope), where=symmetric > 0)
        if min(gain.shape) > 1 and np.any(gain < 0.95) and np.any(gain >= 0.95):
            axes.contour(probs, ratios, gain, levels=[0.95], colors="white", linewidths=1.2)
        for i, name in enumerate(names):
            axes.plot([], [], "s", color=_PALETTE[i % len(_PALETTE)], label=name)
        axes.plot([], [], "-", color="white", label="envelope 5 % below symmetric")
        axes.set_xscale("log")
        axes.set_xlabel("feature probability p")
        axes.set_ylabel("ratio r = n_hidden / n_features")
        legend = axes.legend(loc="upper left", fontsize=7, frameon=True)
        legend.get_frame().set_facecolor("#dddddd")
        axes.set_title(title or "winning solution family (largest neuron share in superposition)")
    return figure


def family_curves_figure(curves: Sequence[Any]) -> Figure:
    """Loss against ratio, one panel per feature probability: envelope, Persian rug, its time
    sharing, pair rug, polytope points and the dropped level."""
    with style():
        figure, axes = new_figure(1, len(curves), width=4.2 * len(curves), height=3.8)
        axes = np.atleast_1d(axes)
        for ax, data in zip(axes, curves, strict=True):
            r = data.ratios
            ax.plot(r, data.envelope, "-", color="#000000", lw=2.2, label="envelope")
            ax.plot(r, data.symmetric, "--", color="#0072B2", label="Persian rug (symmetric)")
            ax.plot(r, data.time_sharing, ":", color="#0072B2", label="rug + time sharing")
            ax.plot(r, data.pair_rug, "-", color="#D55E00", lw=1.2, label="pair rug")
            xs = [v[0] for v in data.polytopes.values()]
            ys = [v[1] for v in data.polytopes.values()]
            ax.plot(xs, ys, "o", color="#009E73", ms=4, label="polytope blocks")
            ax.axhline(data.dropped, color="#999999", lw=0.8, label="dropped")
            ax.set_yscale("log")
            ax.set_xlabel("ratio r")
            ax.set_title(f"p = {data.feature_prob:g}")
        axes[0].set_ylabel("loss per feature")
        axes[0].legend(fontsize=7, frameon=False)
    return figure
