"""Phase diagrams from sweep tables: heatmaps over (ratio, feature_prob).

Panels (each optional, drawn when its columns are present):

* the large-N theory's loss (``log10``; column ``loss`` of a ``predict`` sweep or
  ``theory_loss`` of a ``compare`` sweep);
* the theory's regime (``regime`` / ``theory_regime``: symmetric, linear, time-sharing);
* the Persian rug's relative gap to the theory, ``construction_loss / theory_loss − 1``;
* a trained model's relative gap to the theory, ``trained_loss / theory_loss − 1``.

Rows are dicts as returned by :func:`toyforge.verify.sweep.read_table`; grid points without a
row (or with a missing value) are drawn as NaN (blank) cells. The grid of the Persian-rug paper
(Cowsik, Dolev, Infanger 2024, docs/large_n_theory.md#paper-grid-and-training-recipe) is
:data:`PAPER_GRID`. The relative
gaps are ratios of table columns; no loss is computed here (docs/index.md#layers-and-conventions).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.colors import ListedColormap, TwoSlopeNorm
from matplotlib.figure import Figure

from toyforge.core.errors import InvalidParameter
from toyforge.figures._style import new_figure, style

__all__ = ["PAPER_GRID", "REGIMES", "phase_grid", "relative_gap_grid", "sweep_phase_figure"]

PAPER_GRID = tuple(float(v) for v in np.round(np.linspace(0.002001, 0.8, 20), 15))
"""The paper's axis values for both ratio and feature_prob: linspace(0.002001, 0.8, 20)."""

REGIMES = ("symmetric", "linear", "time-sharing")
_REGIME_COLOURS = ("#0072B2", "#E69F00", "#009E73")


def _axis(
    rows: Sequence[Mapping[str, Any]], name: str, values: Sequence[float] | None
) -> np.ndarray:
    if values is not None:
        return np.asarray(values, dtype=float)
    return np.unique(np.asarray([float(row[name]) for row in rows], dtype=float))


def _index(axis: np.ndarray, value: float) -> int | None:
    """Position of ``value`` on ``axis`` (relative tolerance 1e-9), or None."""
    hits = np.flatnonzero(np.isclose(axis, value, rtol=1e-9, atol=0.0))
    return int(hits[0]) if hits.size else None


def phase_grid(
    rows: Sequence[Mapping[str, Any]],
    column: str,
    *,
    ratios: Sequence[float] | None = None,
    feature_probs: Sequence[float] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A table column as a (ratio, feature_prob) array.

    Parameters
    ----------
    rows : sequence of mapping
        Table rows with ``ratio`` and ``feature_prob`` columns.
    column : str
        The column to place; for ``regime`` columns the value is the index in :data:`REGIMES`.
    ratios, feature_probs : sequence of float, optional
        The axes (e.g. :data:`PAPER_GRID`); default: the distinct values in ``rows``.

    Returns
    -------
    ratios : ndarray, shape (n_ratios,)
    feature_probs : ndarray, shape (n_feature_probs,)
    values : ndarray, shape (n_ratios, n_feature_probs)
        NaN where no row (or a None value) exists; rows repeated at one point (several seeds)
        are averaged.
    """
    ratio_axis = _axis(rows, "ratio", ratios)
    prob_axis = _axis(rows, "feature_prob", feature_probs)
    total = np.zeros((ratio_axis.size, prob_axis.size))
    count = np.zeros_like(total)
    for row in rows:
        value = row.get(column)
        if value is None:
            continue
        if isinstance(value, str):
            value = REGIMES.index(value) if value in REGIMES else np.nan
        i = _index(ratio_axis, float(row["ratio"]))
        j = _index(prob_axis, float(row["feature_prob"]))
        if i is None or j is None or not np.isfinite(float(value)):
            continue
        total[i, j] += float(value)
        count[i, j] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return ratio_axis, prob_axis, values


def relative_gap_grid(
    rows: Sequence[Mapping[str, Any]], column: str, reference: str = "theory_loss", **axes: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``column / reference − 1`` per (ratio, feature_prob) cell (NaN where either is missing)."""
    ratios, probs, value = phase_grid(rows, column, **axes)
    _, _, ref = phase_grid(rows, reference, ratios=ratios, feature_probs=probs)
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = np.where(ref > 0, value / ref - 1.0, np.nan)
    return ratios, probs, gap


def _first_column(rows: Sequence[Mapping[str, Any]], names: Sequence[str]) -> str | None:
    for name in names:
        if any(row.get(name) is not None for row in rows):
            return name
    return None


def _heatmap(
    figure: Figure,
    axes: Any,
    probs: np.ndarray,
    ratios: np.ndarray,
    values: np.ndarray,
    title: str,
    label: str,
    **kwargs: Any,
) -> None:
    masked = np.ma.masked_invalid(values)
    image = axes.pcolormesh(probs, ratios, masked, shading="nearest", **kwargs)
    figure.colorbar(image, ax=axes, label=label, shrink=0.85)
    axes.set_title(title)
    axes.set_xlabel("feature probability p")
    axes.set_ylabel("ratio r")
    axes.set_facecolor("0.85")  # NaN cells: grey
    axes.grid(False)


def _gap_panel(
    figure: Figure, axes: Any, ratios: np.ndarray, probs: np.ndarray, gap: np.ndarray, title: str
) -> None:
    """``log10(loss / theory)`` (colour, clipped at a factor 10) with the gap in % written in
    each cell of coarse grids (at most 8 × 8)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        logged = np.where(gap > -1.0, np.log10(1.0 + gap), np.nan)
    finite = np.abs(logged[np.isfinite(logged)])
    limit = float(min(max(finite.max() if finite.size else 0.0, 1e-3), 1.0))
    _heatmap(
        figure,
        axes,
        probs,
        ratios,
        np.clip(logged, -limit, limit),
        title,
        "log10(loss / theory)",
        cmap="RdBu_r",
        norm=TwoSlopeNorm(vmin=-limit, vcenter=0.0, vmax=limit),
    )
    if ratios.size <= 8 and probs.size <= 8:
        for i, ratio in enumerate(ratios):
            for j, prob in enumerate(probs):
                if np.isfinite(gap[i, j]):
                    axes.text(
                        prob,
                        ratio,
                        f"{100.0 * gap[i, j]:+.3g}%",
                        ha="center",
                        va="center",
                        fontsize=7,
                    )


def sweep_phase_figure(
    rows: Sequence[Mapping[str, Any]],
    comparison_rows: Sequence[Mapping[str, Any]] | None = None,
    *,
    ratios: Sequence[float] | None = None,
    feature_probs: Sequence[float] | None = None,
    title: str | None = None,
) -> Figure:
    """Heatmaps of theory loss, regime and the rug's and trained models' gaps to theory.

    Parameters
    ----------
    rows : sequence of mapping
        A ``predict`` or ``compare`` sweep table (theory loss and regime panels).
    comparison_rows : sequence of mapping, optional
        A ``compare`` sweep table for the gap panels (default: ``rows``). It may lie on a
        coarser grid than ``rows``.
    ratios, feature_probs : sequence of float, optional
        Axes of the theory panels (e.g. :data:`PAPER_GRID`); missing points are blank.
    title : str, optional
        Figure title.
    """
    comparison_rows = rows if comparison_rows is None else comparison_rows
    theory = _first_column(rows, ("loss", "theory_loss"))
    regime = _first_column(rows, ("regime", "theory_regime"))
    panels: list[tuple[str, Any]] = []
    if theory is not None:
        panels.append(
            ("theory", phase_grid(rows, theory, ratios=ratios, feature_probs=feature_probs))
        )
    if regime is not None:
        panels.append(
            ("regime", phase_grid(rows, regime, ratios=ratios, feature_probs=feature_probs))
        )
    for column, label in (("construction_loss", "Persian rug"), ("trained_loss", "trained")):
        if _first_column(comparison_rows, (column,)) and _first_column(
            comparison_rows, ("theory_loss",)
        ):
            panels.append((label, relative_gap_grid(comparison_rows, column)))
    if not panels:
        raise InvalidParameter(
            "rows",
            f"{len(rows)} rows",
            "a table with a loss, regime, construction_loss or trained_loss column",
        )
    with style():
        figure, axes = new_figure(
            1, len(panels), width=4.6 * len(panels), height=4.0, squeeze=False
        )
        for axis, (kind, (r_axis, p_axis, values)) in zip(axes[0], panels, strict=True):
            if kind == "theory":
                with np.errstate(divide="ignore", invalid="ignore"):
                    logged = np.where(values > 0, np.log10(values), np.nan)
                _heatmap(
                    figure,
                    axis,
                    p_axis,
                    r_axis,
                    logged,
                    "large-N theory loss",
                    "log10 loss",
                    cmap="viridis",
                )
            elif kind == "regime":
                _heatmap(
                    figure,
                    axis,
                    p_axis,
                    r_axis,
                    values,
                    "theory regime",
                    "0 symmetric · 1 linear · 2 time-sharing",
                    cmap=ListedColormap(_REGIME_COLOURS),
                    vmin=-0.5,
                    vmax=2.5,
                )
            else:
                _gap_panel(figure, axis, r_axis, p_axis, values, f"{kind} vs large-N theory")
        if title:
            figure.suptitle(title)
    return figure
