"""Figures of the grokking phase diagram (Liu et al. 2022's four phases) and grok-rate runs.

Renderers take the JSON summaries written by ``toyforge grok-phase``
(:meth:`toyforge.verify.experiments.grok_phase.PhaseDiagram.to_json`) and return a
:class:`matplotlib.figure.Figure`; they compute nothing but positions and colours.
See docs/grokking.md#the-phase-diagram.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from toyforge.figures._style import new_figure, style

__all__ = ["PHASE_COLOURS", "phase_diagram_figure"]

#: confusion, memorisation, grokking, comprehension
PHASE_COLOURS = ("#9e9e9e", "#d62728", "#1f77b4", "#2ca02c")

_LABELS = {
    "train_fraction": "train fraction",
    "lr": "learning rate",
    "weight_decay": "weight decay",
}


def _axis_ticks(values: Sequence[float]) -> tuple[np.ndarray, list[str]]:
    index = np.arange(len(values))
    step = max(1, len(values) // 5)
    return index[::step], [f"{values[i]:.3g}" for i in index[::step]]


def _draw_panel(axes: Any, diagram: Mapping[str, Any]) -> None:
    phase = np.asarray(diagram["phase"])  # (ny, nx, seeds)
    names = list(diagram["phases"])
    counts = np.stack([(phase == k).sum(axis=2) for k in range(len(names))], axis=-1)
    majority = len(names) - 1 - np.argmax(counts[..., ::-1], axis=-1)
    axes.imshow(
        majority,
        origin="lower",
        cmap=ListedColormap(PHASE_COLOURS[: len(names)]),
        vmin=-0.5,
        vmax=len(names) - 0.5,
        aspect="auto",
    )
    t_test = np.asarray(diagram["t_test"], dtype=float)
    grokked = phase == names.index("grokking")
    for iy, ix in np.ndindex(majority.shape):
        steps = t_test[iy, ix][grokked[iy, ix]]
        if steps.size and names[majority[iy, ix]] == "grokking":
            axes.text(ix, iy, f"{np.median(steps) / 1000:.0f}k", ha="center", va="center",
                      fontsize=6, color="white")  # fmt: skip
    x, y = diagram["x"], diagram["y"]
    xt, xl = _axis_ticks(x["values"])
    yt, yl = _axis_ticks(y["values"])
    axes.set_xticks(xt, xl, fontsize=7)
    axes.set_yticks(yt, yl, fontsize=7)
    axes.set(xlabel=_LABELS.get(x["name"], x["name"]), ylabel=_LABELS.get(y["name"], y["name"]))


def phase_diagram_figure(
    diagrams: Sequence[Mapping[str, Any]], *, title: str | None = None
) -> Figure:
    """One panel per diagram: the majority phase of each cell, median grok step (k steps)
    written in grokking cells."""
    with style():
        figure, axes = new_figure(1, len(diagrams), width=4.2 * len(diagrams), height=3.8)
        axes_list = np.atleast_1d(axes)
        for panel, diagram in zip(axes_list, diagrams, strict=True):
            _draw_panel(panel, diagram)
        names = list(diagrams[0]["phases"])
        handles = [Patch(color=PHASE_COLOURS[k], label=name) for k, name in enumerate(names)]
        figure.legend(handles=handles, loc="outside upper center", frameon=False, fontsize=8,
                      ncol=len(names) if len(diagrams) > 1 else 2)  # fmt: skip
        if title:
            figure.suptitle(title, fontsize=10)
    return figure
