"""Figures of the Persian rug: the weight image, loss curves, convergence to the theory.

Renderers take arrays and result objects (:mod:`toyforge.verify.compare.persian_rug`) and return
:class:`matplotlib.figure.Figure` objects; they compute no losses
(docs/index.md#layers-and-conventions).

* :func:`rug_figure` — ``W = W_out W_in`` as an image (diverging colormap centred at zero,
  nearest interpolation; docs/rug_construction.md#why-it-looks-like-a-rug), optionally beside a
  trained W
  of the same size, and histograms of the off-diagonal weights.
* :func:`loss_curves_figure` — loss against ratio or feature probability: large-N theory
  (symmetric branch and time-sharing envelope), linear baseline, rug Monte Carlo points with
  error bars, finite-N theory at the rugs, trained points.
* :func:`convergence_figure` — |relative gap| of the rug to the large-N theory against p·n,
  log-log (docs/finite_n.md#convergence-with-the-number-of-active-features), with the finite-N
  theory's gap.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from toyforge.figures._style import new_figure, style

__all__ = ["convergence_figure", "loss_curves_figure", "model_rug_figure", "rug_figure"]

_CMAP = "RdBu_r"


def _show_matrix(axes: Any, matrix: np.ndarray, title: str, limit: float) -> Any:
    norm = TwoSlopeNorm(vmin=-limit, vcenter=0.0, vmax=limit)
    image = axes.imshow(matrix, cmap=_CMAP, norm=norm, interpolation="nearest")
    axes.set_title(title)
    axes.set_xticks([])
    axes.set_yticks([])
    axes.grid(False)
    return image


def _colour_limit(*matrices: np.ndarray) -> float:
    """Symmetric colour limit: the 99.5th percentile of |off-diagonal| (the diagonal is 1)."""
    values = []
    for matrix in matrices:
        off = matrix[~np.eye(*matrix.shape, dtype=bool)] if matrix.shape[0] > 1 else matrix
        values.append(np.abs(off).ravel())
    pooled = np.concatenate(values)
    return float(max(np.quantile(pooled, 0.995), 1e-12))


def rug_figure(
    matrix: np.ndarray,
    *,
    title: str = "Persian rug W = W_out W_in",
    trained: np.ndarray | None = None,
    offdiagonal: np.ndarray | None = None,
    trained_offdiagonal: np.ndarray | None = None,
    histograms: bool = False,
) -> Figure:
    """The rug's W (a crop or block average) as an image.

    Parameters
    ----------
    matrix : ndarray, shape (m, m)
        The rug's W (or its crop / block average).
    title : str
    trained : ndarray, shape (m, m), optional
        A trained model's W of the same size, drawn beside it with the same colour scale.
    offdiagonal, trained_offdiagonal : ndarray, optional
        Off-diagonal weights of one row (rug: the exact multiset ``f_S(t), t ≠ 0``) and of the
        trained W (all of them), for the histograms.
    histograms : bool
        Add a histogram panel of the off-diagonal weights.
    """
    panels = 1 + (trained is not None) + bool(histograms)
    with style():
        figure, axes = new_figure(1, panels, width=4.2 * panels, height=4.0, squeeze=False)
        axes = axes[0]
        limit = _colour_limit(matrix, *(() if trained is None else (trained,)))
        image = _show_matrix(axes[0], matrix, title, limit)
        column = 1
        if trained is not None:
            _show_matrix(axes[column], trained, "trained W (same size)", limit)
            column += 1
        figure.colorbar(image, ax=list(axes[:column]), shrink=0.8, label="W_ij")
        if histograms:
            _histograms(axes[column], offdiagonal, trained_offdiagonal)
    return figure


def _reduce(matrix: np.ndarray, size: int, mode: str) -> np.ndarray:
    """Crop or dyadic-block-average a dense (n, n) matrix to (size, size)."""
    n = matrix.shape[0]
    if n <= size:
        return matrix
    if mode == "crop":
        return matrix[:size, :size]
    block = n // size
    return matrix.reshape(size, block, size, block).mean(axis=(1, 3))


def model_rug_figure(
    model: Any,
    *,
    size: int = 256,
    mode: str = "crop",
    trained_matrix: np.ndarray | None = None,
    histograms: bool = False,
) -> Figure:
    """:func:`rug_figure` for a :class:`~toyforge.constructions.persian_rug.PersianRugAutoencoder`.

    Parameters
    ----------
    model : PersianRugAutoencoder
    size : int
        Image side (a power of two); larger rugs are cropped (``mode="crop"``, top-left
        corner) or block-averaged over dyadic blocks (``mode="block"``).
    trained_matrix : ndarray, shape (n_features, n_features), optional
        A trained model's ``W_out W_in`` (reduced the same way) to draw beside it.
    histograms : bool
        Add the off-diagonal weight histograms.
    """
    shown = min(size, model.n_features)
    matrix = model.matrix_crop(shown) if mode == "crop" else model.block_average(shown)
    exponent = model.n_features.bit_length() - 1
    what = (
        ""
        if shown == model.n_features
        else (f", {shown}² crop" if mode == "crop" else f", {shown}² blocks")
    )
    title = f"Persian rug n=2^{exponent}, r={model.ratio:.3g}{what}"
    trained = trained_off = None
    if trained_matrix is not None:
        trained = _reduce(trained_matrix, shown, mode)
        trained_off = trained_matrix[~np.eye(trained_matrix.shape[0], dtype=bool)]
    return rug_figure(
        matrix,
        title=title,
        trained=trained,
        offdiagonal=model.offdiagonal_weights() if histograms else None,
        trained_offdiagonal=trained_off,
        histograms=histograms,
    )


def _histograms(axes: Any, rug: np.ndarray | None, trained: np.ndarray | None) -> None:
    pooled = [v for v in (rug, trained) if v is not None and v.size]
    if not pooled:
        axes.set_visible(False)
        return
    low = min(float(v.min()) for v in pooled)
    high = max(float(v.max()) for v in pooled)
    bins = np.linspace(low, high, 61)
    if rug is not None:
        axes.hist(rug, bins=bins, density=True, alpha=0.6, label="rug (every row)")
    if trained is not None:
        axes.hist(trained, bins=bins, density=True, alpha=0.6, label="trained")
    axes.set_xlabel("off-diagonal W_ij")
    axes.set_ylabel("density")
    axes.set_yscale("log")
    axes.set_title("off-diagonal weights")
    axes.legend()


def loss_curves_figure(curves: Any, *, title: str | None = None) -> Figure:
    """Loss against ratio or feature probability.

    ``curves`` is a :class:`toyforge.verify.compare.rug_curves.LossCurves`.
    """
    with style():
        figure, axes = new_figure(width=5.6, height=4.0)
        axes.plot(curves.grid, curves.symmetric, label="large-N theory (symmetric)")
        axes.plot(curves.grid, curves.time_sharing, ls="--", label="time-sharing envelope")
        axes.plot(curves.grid, curves.linear, ls=":", color="0.4", label="linear baseline")
        axes.errorbar(
            curves.points,
            curves.rug_loss,
            yerr=curves.rug_stderr,
            fmt="o",
            ms=4,
            capsize=2,
            label=f"Persian rug, n = {curves.n_features} (MC)",
        )
        axes.plot(
            curves.points,
            curves.finite_loss,
            "x",
            ms=6,
            color="k",
            label="finite-N theory at the rug",
        )
        trained = np.isfinite(curves.trained_loss)
        if np.any(trained):
            axes.errorbar(
                curves.points[trained],
                curves.trained_loss[trained],
                yerr=curves.trained_stderr[trained],
                fmt="s",
                ms=4,
                capsize=2,
                label=f"trained, n = {curves.n_features}",
            )
        other = "feature prob p" if curves.axis == "ratio" else "ratio r"
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel(
            "ratio r = n_hidden / n_features" if curves.axis == "ratio" else "feature probability p"
        )
        axes.set_ylabel("loss per feature")
        axes.set_title(
            title or f"loss vs {curves.axis.replace('_', ' ')} ({other} = {curves.fixed:g})"
        )
        axes.legend()
    return figure


def convergence_figure(study: Any, *, title: str | None = None) -> Figure:
    """|rug / theory − 1| against p·n, log-log.

    ``study`` is a :class:`toyforge.verify.compare.rug_curves.ConvergenceStudy`.
    """
    active = np.array([point.active_features for point in study.points])
    gap = np.array([point.relative_gap for point in study.points])
    error = np.array([point.relative_gap_stderr for point in study.points])
    finite = np.array([point.finite_gap for point in study.points])
    with style():
        figure, axes = new_figure(width=5.2, height=4.0)
        positive = gap > 0
        axes.errorbar(
            active[positive],
            gap[positive],
            yerr=error[positive],
            fmt="o",
            capsize=2,
            label="rug Monte Carlo (gap > 0)",
        )
        if np.any(~positive):
            axes.errorbar(
                active[~positive],
                -gap[~positive],
                yerr=error[~positive],
                fmt="o",
                mfc="none",
                capsize=2,
                label="rug Monte Carlo (gap < 0, |gap|)",
            )
        axes.plot(active, np.abs(finite), "-x", color="k", label="finite-N theory (exact)")
        guide = 1.5 / active
        axes.plot(active, guide, ":", color="0.5", label="1.5 / (p·n)")
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("active features per sample p·n")
        axes.set_ylabel("|loss / large-N theory − 1|")
        axes.set_title(
            title or f"rug → large-N theory (r = {study.ratio:g}, p = {study.feature_prob:g})"
        )
        axes.legend()
    return figure
