"""Figures for non-identical features: loss against width, the TMS importance plots, the
two-feature phase diagram. Each takes arrays or result objects and computes nothing itself.

See ``docs/non_uniform_features.md#figures``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from toyforge.core.errors import InvalidParameter
from toyforge.figures._style import new_figure, style

__all__ = [
    "dimensionality_figure",
    "pair_geometry_figure",
    "loss_vs_width_figure",
    "tms_importance_figure",
    "two_feature_phase_figure",
]

STICKY = (1.0, 0.75, 2.0 / 3.0, 0.5, 0.4, 0.375)
STICKY_LABELS = ("1", "3/4", "2/3", "1/2", "2/5", "3/8")
PHASE_COLOURS = ("#56B4E9", "#E69F00", "#009E73")


def _vector(name: str, value: object, size: int | None = None) -> np.ndarray:
    array = np.asarray(value, dtype=float).ravel()
    if size is not None and array.size != size:
        raise InvalidParameter(name, array.size, f"{size} values")
    return array


def loss_vs_width_figure(
    widths: object,
    trained: object,
    trained_stderr: object,
    theory_widths: object,
    theory_loss: object,
    *,
    theory_error: object | None = None,
    baseline: float | None = None,
    title: str | None = None,
) -> Figure:
    """Log-log loss against hidden width: the theory's curve (with its error band) and trained
    points with standard-error bars.

    Parameters
    ----------
    widths, trained, trained_stderr : array_like
        Trained widths, held-out losses and their standard errors.
    theory_widths, theory_loss : array_like
        The theory's curve.
    theory_error : array_like, optional
        Half-width of the theory's bracket at each ``theory_widths`` point.
    baseline : float, optional
        The loss of dropping every feature (a dashed horizontal line).
    """
    widths = _vector("widths", widths)
    trained = _vector("trained", trained, widths.size)
    stderr = _vector("trained_stderr", trained_stderr, widths.size)
    x = _vector("theory_widths", theory_widths)
    y = _vector("theory_loss", theory_loss, x.size)
    with style():
        figure, axes = new_figure(width=5.6, height=4.2)
        axes.plot(x, y, color="#0072B2", label="large-N class theory", gid="theory")
        if theory_error is not None:
            band = _vector("theory_error", theory_error, x.size)
            axes.fill_between(x, y - band, y + band, color="#0072B2", alpha=0.2, lw=0)
        axes.errorbar(
            widths, trained, yerr=stderr, fmt="o", color="#D55E00", label="trained", gid="trained"
        )
        if baseline is not None:
            axes.axhline(
                baseline, color="0.5", ls="--", lw=1, label="every feature dropped", gid="baseline"
            )
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("hidden width m")
        axes.set_ylabel("loss (per feature, per sample)")
        axes.legend(frameon=True)
        if title:
            axes.set_title(title)
    return figure


def tms_importance_figure(
    feature_probs: object, norms: object, interference: object, *, title: str | None = None
) -> Figure:
    """The TMS bars: one panel per feature probability, one bar per feature (importance falls
    to the right), height ``||W_i||``, colour the superposition ``sum_{j != i} (W^_i . W_j)^2``
    (0: own dimension, dark; >= 1: shares fully, bright)."""
    probs = _vector("feature_probs", feature_probs)
    norms = np.asarray(norms, float)
    interference = np.asarray(interference, float)
    if norms.ndim != 2 or norms.shape[0] != probs.size or interference.shape != norms.shape:
        raise InvalidParameter(
            "norms", norms.shape, f"({probs.size}, n_features) like interference"
        )
    with style():
        figure, axes = new_figure(
            1, probs.size, width=1.6 * probs.size + 1, height=3.2, sharey=True
        )
        axes = np.atleast_1d(axes)
        colours = _superposition_colours(interference)
        features = np.arange(norms.shape[1])
        for k, ax in enumerate(axes):
            ax.bar(features, norms[k], color=colours[k], gid=f"norms-{k}")
            ax.set_title(f"1 - S = {probs[k]:g}", fontsize=9)
            ax.set_xticks([])
        axes[0].set_ylabel("||W_i||")
        if title:
            figure.suptitle(title)
    return figure


def _superposition_colours(interference: np.ndarray) -> np.ndarray:
    return colormaps["viridis"](np.clip(interference, 0.0, 1.0))


def dimensionality_figure(
    feature_probs: object,
    dimensionality: object,
    dims_per_feature: object,
    *,
    represented: object | None = None,
    title: str | None = None,
) -> Figure:
    """Feature dimensionality ``D_i`` (points) and ``D* = m / ||W||_F^2`` (line) against
    ``1 / (1 - S)``, with the sticky values as dashed lines."""
    probs = _vector("feature_probs", feature_probs)
    dims = np.asarray(dimensionality, float)
    if dims.ndim != 2 or dims.shape[0] != probs.size:
        raise InvalidParameter("dimensionality", dims.shape, f"({probs.size}, n_features)")
    star = _vector("dims_per_feature", dims_per_feature, probs.size)
    keep = np.ones_like(dims, bool) if represented is None else np.asarray(represented, bool)
    with style():
        figure, axes = new_figure(width=5.8, height=4.0)
        for value, label in zip(STICKY, STICKY_LABELS, strict=True):
            axes.axhline(value, color="0.7", lw=0.8, ls="--")
            axes.text(1.0 / probs.max() * 0.92, value, label, va="center", ha="right", fontsize=8)
        x = np.repeat(1.0 / probs, dims.shape[1]).reshape(dims.shape)
        axes.scatter(
            x[keep],
            dims[keep],
            s=14,
            color="#0072B2",
            alpha=0.8,
            gid="features",
            label="feature dimensionality D_i",
        )
        axes.plot(
            1.0 / probs,
            star,
            color="#D55E00",
            marker="s",
            gid="dstar",
            label="dimensions per feature D*",
        )
        axes.set_xscale("log")
        axes.set_xlabel("1 / (1 - S)")
        axes.set_ylabel("dimensions per feature")
        axes.set_ylim(-0.03, 1.1)
        axes.legend(frameon=True, fontsize=8)
        if title:
            axes.set_title(title)
    return figure


def two_feature_phase_figure(diagram: Any, *, boundary: object | None = None) -> Figure:
    """Which layout wins for two features in one dimension over density x relative importance.

    Parameters
    ----------
    diagram : TwoFeatureDiagram
        From :func:`toyforge.theory.two_features.two_feature_diagram`.
    boundary : array_like, optional
        The antipodal boundary ``r(s)`` at ``diagram.density``, drawn with its reciprocal where
        it is at most 1; beyond, the line ``r = 1`` between the two drop phases.
    """
    s = np.asarray(diagram.density, float)
    r = np.asarray(diagram.relative_importance, float)
    phase = np.asarray(diagram.phase)
    with style():
        figure, axes = new_figure(width=5.4, height=4.2)
        cmap = ListedColormap(PHASE_COLOURS)
        axes.pcolormesh(s, r, phase, cmap=cmap, vmin=-0.5, vmax=2.5, shading="nearest", gid="phase")
        if boundary is not None:
            edge = _vector("boundary", boundary, s.size)
            inside = edge <= 1.0  # beyond the triple point (edge > 1) the phase is a drop
            axes.plot(s[inside], edge[inside], color="k", lw=1.2, gid="boundary")
            axes.plot(s[inside], 1.0 / edge[inside], color="k", lw=1.2)
            if not inside.all():
                axes.plot(s[~inside], np.ones(int((~inside).sum())), color="k", lw=1.2)
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_ylim(r.min(), r.max())
        axes.set_xlabel("density s (probability a feature is active)")
        axes.set_ylabel("relative importance r of the second feature")
        for colour, label in zip(
            PHASE_COLOURS, ("drop second", "drop first", "antipodal"), strict=True
        ):
            axes.plot([], [], "s", color=colour, label=label)
        axes.legend(frameon=True, loc="upper left", fontsize=8)
    return figure


PAIR_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7")


def pair_geometry_figure(cases: Any, labels: Any) -> Figure:
    """Feature directions of 2-D tied models, one panel per case; the two features of a pair
    ``(2k, 2k + 1)`` share a colour (solid and dashed arrows).

    Parameters
    ----------
    cases : sequence of ndarray, shape (2, n_features)
        ``W`` of each trained model (columns are feature directions).
    labels : sequence of str
        Panel titles (e.g. the pair correlation and the measured cosines).
    """
    matrices = [np.asarray(w, float) for w in cases]
    titles = list(labels)
    if not matrices or len(titles) != len(matrices):
        raise InvalidParameter("labels", len(titles), f"{len(matrices)} titles, one per case")
    for w in matrices:
        if w.ndim != 2 or w.shape[0] != 2 or w.shape[1] % 2:
            raise InvalidParameter("cases", w.shape, "(2, even number of features) arrays")
    with style():
        figure, axes = new_figure(1, len(matrices), width=3.2 * len(matrices), height=3.4)
        axes = np.atleast_1d(axes)
        for ax, w, title in zip(axes, matrices, titles, strict=True):
            for i in range(w.shape[1]):
                colour = PAIR_COLOURS[(i // 2) % len(PAIR_COLOURS)]
                ax.annotate(
                    "",
                    xy=(w[0, i], w[1, i]),
                    xytext=(0, 0),
                    arrowprops={
                        "arrowstyle": "-|>",
                        "color": colour,
                        "lw": 1.6,
                        "ls": "-" if i % 2 == 0 else "--",
                    },
                )
                ax.plot([0, w[0, i]], [0, w[1, i]], alpha=0, gid=f"feature-{i}")
            limit = 1.15 * max(float(np.abs(w).max()), 1e-9)
            ax.set_xlim(-limit, limit)
            ax.set_ylim(-limit, limit)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(title, fontsize=9)
    return figure
