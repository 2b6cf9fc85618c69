"""``toyforge figure grokking|fourier-spectrum|neuron-activations|modular-weights``.

Figures of the modular-addition family (docs/modular_addition.md#training-recipes): grokking curves
from a saved history, the Fourier spectrum of a model's ``W_in`` with its key frequencies, hidden
activation heatmaps over (a, b), and a trained ``W_in`` beside the exact construction at the
same frequencies.
"""

from __future__ import annotations

import argparse
from typing import Any

from toyforge.commands._common import figure_path


def register(members: Any) -> None:
    """Add the modular-addition figure members to ``toyforge figure``."""
    grokking = members.add_parser(
        "grokking",
        help="train/test accuracy and loss vs step",
        description="Grokking curves from a .history.npz file",
    )
    grokking.add_argument(
        "--history", required=True, help="history file written by `toyforge train modular-addition`"
    )
    grokking.add_argument("--title", default=None)
    grokking.add_argument("--out", required=True, help="image file (.png, .pdf, .svg)")
    grokking.set_defaults(func=run_grokking)
    for name, help_text, func in (
        ("fourier-spectrum", "Fourier power of W_in per frequency", run_spectrum),
        ("neuron-activations", "hidden activations over (a, b)", run_neurons),
        ("modular-weights", "trained W_in beside the construction", run_weights),
    ):
        parser = members.add_parser(name, help=help_text, description=help_text)
        parser.add_argument("--model", required=True, help="modular-addition weight file")
        parser.add_argument("--out", required=True, help="image file (.png, .pdf, .svg)")
        if name == "neuron-activations":
            parser.add_argument(
                "--neurons",
                type=int,
                default=8,
                help="how many neurons (strongest first; default 8)",
            )
        parser.set_defaults(func=func)


def _load_model(path: str) -> Any:
    from toyforge.constructions.io import load
    from toyforge.constructions.models import ModularAdditionMLP
    from toyforge.core.errors import IncompatibleWeights

    model = load(path)
    if not isinstance(model, ModularAdditionMLP):
        raise IncompatibleWeights(
            f"{path} holds a {model.architecture}, expected a modular-addition-mlp"
        )
    return model


def run_grokking(args: argparse.Namespace) -> int:
    from toyforge.figures._style import save_figure
    from toyforge.figures.modular import grokking_figure
    from toyforge.verify.experiments.modular_views import load_history

    out = figure_path(args.out)
    history = load_history(args.history)
    save_figure(
        grokking_figure(history, title=args.title),
        out,
        {"figure": "grokking", "history": args.history},
    )
    print(f"wrote {out}")
    return 0


def run_spectrum(args: argparse.Namespace) -> int:
    from toyforge.figures._style import save_figure
    from toyforge.figures.modular import fourier_spectrum_figure
    from toyforge.verify.experiments.fourier_analysis import fourier_spectrum, key_frequencies

    out = figure_path(args.out)
    model = _load_model(args.model)
    save_figure(
        fourier_spectrum_figure(fourier_spectrum(model.input_matrix()), key_frequencies(model)),
        out,
        {"figure": "fourier-spectrum", "model": args.model},
    )
    print(f"wrote {out}")
    return 0


def run_neurons(args: argparse.Namespace) -> int:
    from toyforge.figures._style import save_figure
    from toyforge.figures.modular import neuron_activation_figure
    from toyforge.verify.experiments.modular_views import strongest_neurons

    out = figure_path(args.out)
    model = _load_model(args.model)
    shown = strongest_neurons(model, max(1, args.neurons))
    save_figure(
        neuron_activation_figure(shown.activations, list(shown.neurons), list(shown.labels)),
        out,
        {"figure": "neuron-activations", "model": args.model},
    )
    print(f"wrote {out}")
    return 0


def run_weights(args: argparse.Namespace) -> int:
    from toyforge.figures._style import save_figure
    from toyforge.figures.modular import construction_vs_trained_figure
    from toyforge.verify.experiments.modular_views import weights_beside_construction

    out = figure_path(args.out)
    model = _load_model(args.model)
    view = weights_beside_construction(model)
    figure = construction_vs_trained_figure(
        view.constructed,
        view.trained,
        constructed_label=view.constructed_label,
        trained_label=view.trained_label,
    )
    save_figure(figure, out, {"figure": "modular-weights", "model": args.model})
    print(f"wrote {out}")
    return 0
