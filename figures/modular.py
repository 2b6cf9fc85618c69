"""Figures for modular addition: grokking curves, Fourier spectra, neuron maps, weights.

Renderers take arrays and result objects (a :class:`~toyforge.verify.experiments.grokking.
TrainingHistory`, a :class:`~toyforge.verify.experiments.fourier_analysis.FourierSpectrum`, models)
and return a
:class:`matplotlib.figure.Figure`; they compute no losses (docs/index.md#layers-and-conventions).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from toyforge.figures._style import new_figure, style

__all__ = [
    "construction_vs_trained_figure",
    "fourier_spectrum_figure",
    "grokking_figure",
    "neuron_activation_figure",
]


def grokking_figure(history: Any, *, title: str | None = None) -> Figure:
    """Train/test accuracy and cross-entropy against step (log x), PAIR-style.

    ``history`` has arrays ``step``, ``train_accuracy``, ``test_accuracy``, ``train_loss``,
    ``test_loss`` (a TrainingHistory or the saved ``.history.npz``).
    """
    step = np.maximum(np.asarray(history["step"] if isinstance(history, dict) else history.step), 1)
    get = (
        (lambda name: np.asarray(history[name]))
        if isinstance(history, dict)
        else (lambda name: np.asarray(getattr(history, name)))
    )
    with style():
        figure, (acc_axes, loss_axes) = new_figure(1, 2, width=9.0, height=3.4)
        acc_axes.plot(step, get("train_accuracy"), label="train", color="tab:blue")
        acc_axes.plot(step, get("test_accuracy"), label="test", color="tab:orange")
        acc_axes.set(xscale="log", xlabel="step", ylabel="accuracy", ylim=(-0.02, 1.02))
        acc_axes.legend(loc="center left")
        loss_axes.plot(step, np.maximum(get("train_loss"), 1e-12), label="train", color="tab:blue")
        loss_axes.plot(step, np.maximum(get("test_loss"), 1e-12), label="test", color="tab:orange")
        loss_axes.set(xscale="log", yscale="log", xlabel="step", ylabel="cross-entropy (nats)")
        grok = np.flatnonzero(get("test_accuracy") >= 0.99)
        if grok.size:
            for axes in (acc_axes, loss_axes):
                axes.axvline(step[grok[0]], color="0.5", lw=0.8, ls="--")
            acc_axes.annotate(
                f"test ≥ 99 % at {step[grok[0]]}",
                (step[grok[0]], 0.5),
                xytext=(-6, 0),
                textcoords="offset points",
                ha="right",
                fontsize=8,
            )
        if title:
            figure.suptitle(title)
    return figure


def fourier_spectrum_figure(
    spectrum: Any, key_frequencies: Sequence[int] = (), *, title: str | None = None
) -> Figure:
    """Bar chart of the power share per folded frequency, key frequencies marked."""
    share = np.asarray(spectrum.share)
    frequencies = np.asarray(spectrum.frequencies)
    key = set(int(k) for k in key_frequencies)
    colors = ["tab:red" if int(k) in key else "0.6" for k in frequencies]
    with style():
        figure, axes = new_figure(width=7.0, height=3.0)
        axes.bar(frequencies, share, color=colors, width=0.8)
        for k in sorted(key):
            axes.annotate(
                str(k),
                (k, share[k - 1]),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                fontsize=8,
                color="tab:red",
            )
        axes.set(
            xlabel="frequency k (folded)",
            ylabel="share of W_in power",
            xlim=(0.3, frequencies[-1] + 0.7),
        )
        axes.set_title(title or f"Fourier spectrum of W_in (p = {spectrum.modulus})")
    return figure


def neuron_activation_figure(
    activations: np.ndarray,
    neurons: Sequence[int],
    labels: Sequence[str] | None = None,
    *,
    title: str | None = None,
) -> Figure:
    """Heatmaps of hidden activations over (a, b) for some neurons.

    ``activations`` has shape (p, p, N) (``act(W_in[a] + W_in[b])``).
    """
    neurons = list(neurons)
    n_cols = min(4, len(neurons))
    n_rows = int(np.ceil(len(neurons) / n_cols))
    with style():
        figure, axes = new_figure(
            n_rows, n_cols, width=2.4 * n_cols, height=2.4 * n_rows, squeeze=False
        )
        for index, axis in enumerate(axes.ravel()):
            if index >= len(neurons):
                axis.set_axis_off()
                continue
            axis.imshow(
                activations[:, :, neurons[index]],
                origin="lower",
                cmap="viridis",
                interpolation="nearest",
            )
            label = labels[index] if labels is not None else f"neuron {neurons[index]}"
            axis.set_title(label, fontsize=8)
            axis.set_xticks([])
            axis.set_yticks([])
            if index % n_cols == 0:
                axis.set_ylabel("a")
            if index // n_cols == n_rows - 1:
                axis.set_xlabel("b")
        if title:
            figure.suptitle(title)
    return figure


def construction_vs_trained_figure(
    constructed: np.ndarray,
    trained: np.ndarray,
    *,
    constructed_label: str = "construction",
    trained_label: str = "trained",
) -> Figure:
    """``W_in`` (p × N) of a construction and of a trained model side by side.

    Columns should already be ordered (e.g. by dominant frequency); each matrix is scaled to
    its own largest absolute entry.
    """
    with style():
        figure, axes = new_figure(1, 2, width=8.0, height=4.0)
        for axis, matrix, label in (
            (axes[0], constructed, constructed_label),
            (axes[1], trained, trained_label),
        ):
            matrix = np.asarray(matrix, dtype=np.float64)
            scale = float(np.max(np.abs(matrix))) or 1.0
            image = axis.imshow(
                matrix / scale,
                aspect="auto",
                cmap="RdBu_r",
                vmin=-1,
                vmax=1,
                interpolation="nearest",
            )
            axis.set(title=label, xlabel="neuron", ylabel="residue a")
        figure.colorbar(image, ax=axes, shrink=0.8, label="W_in / max |W_in|")
    return figure
