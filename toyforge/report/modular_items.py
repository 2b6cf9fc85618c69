"""Report item of modular addition: the constructions and the cached grokking run."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from toyforge.constructions.io import load, save
from toyforge.constructions.modular_addition import recommended_design
from toyforge.core.fileio import atomic_write_text
from toyforge.core.serde import to_jsonable
from toyforge.figures.modular import (
    construction_vs_trained_figure,
    fourier_spectrum_figure,
    grokking_figure,
    neuron_activation_figure,
)
from toyforge.report.context import ReportContext, config_key, save_report_figure
from toyforge.report.results import Table
from toyforge.verify.experiments.fourier_analysis import (
    fourier_gini,
    fourier_spectrum,
    key_frequencies,
)
from toyforge.verify.experiments.grokking import ModularTrainingConfig, train_modular_addition
from toyforge.verify.experiments.modular_views import (
    load_history,
    save_history,
    strongest_neurons,
    weights_beside_construction,
)

__all__: list[str] = []


def _grok_run(ctx: ReportContext) -> tuple[Any, Any, dict[str, Any], Mapping[str, Any]]:
    """The grokking run, cached as ``<key>.npz`` + ``<key>.history.npz`` + ``<key>.json``."""
    config = ModularTrainingConfig(**{"seed": ctx.config.seed, **ctx.config.grok})
    settings = to_jsonable({name: getattr(config, name) for name in config.__slots__})
    folder = ctx.cache("modular")
    key = config_key(settings)
    weights, history_file = folder / f"{key}.npz", folder / f"{key}.history.npz"
    info_file = folder / f"{key}.json"
    if not info_file.exists():
        result = train_modular_addition(config)
        save(result.model, weights, metadata={"config": settings})
        save_history(history_file, result.history)
        info = {
            "config": settings,
            "memorize_step": result.memorize_step,
            "grok_step": result.grok_step,
            "cpu_seconds": getattr(result, "cpu_seconds", None),
            "steps_run": int(result.history.step[-1]),
            "train_accuracy": float(result.history.train_accuracy[-1]),
            "test_accuracy": float(result.history.test_accuracy[-1]),
        }
        atomic_write_text(info_file, json.dumps(to_jsonable(info), indent=1))
        ctx.computed += 1
    history = load_history(history_file)
    return load(weights), history, json.loads(info_file.read_text()), settings


def _modular_figures(
    ctx: ReportContext, model: Any, history: Any, conf: Mapping[str, Any]
) -> tuple[list[Path], Any]:
    """The four figures of ``toyforge figure grokking|fourier-spectrum|neuron-activations|
    modular-weights`` (the same data, prepared by
    :mod:`toyforge.verify.experiments.modular_views`)."""
    out = ctx.out
    paths = [
        save_report_figure(grokking_figure(history), out / "modular_grokking.png", conf),
        save_report_figure(
            fourier_spectrum_figure(fourier_spectrum(model.input_matrix()), key_frequencies(model)),
            out / "modular_spectrum.png",
            conf,
        ),
    ]
    shown = strongest_neurons(model, 8)
    paths.append(
        save_report_figure(
            neuron_activation_figure(shown.activations, list(shown.neurons), list(shown.labels)),
            out / "modular_neurons.png",
            conf,
        )
    )
    view = weights_beside_construction(model)
    figure = construction_vs_trained_figure(
        view.constructed,
        view.trained,
        constructed_label=view.constructed_label,
        trained_label=view.trained_label,
    )
    paths.append(save_report_figure(figure, out / "modular_weights.png", conf))
    return paths, view.comparison


def _constructions_table(moduli: Sequence[int]) -> Table:
    """The recommended construction of each modulus and its exact check."""
    designs = []
    for modulus in moduli:
        design = recommended_design(modulus)
        report = design.report
        designs.append(
            (
                modulus,
                str(list(design.frequencies)),
                design.neurons_per_frequency,
                design.n_hidden,
                report.accuracy,
                report.margin,
                report.relative_margin,
            )
        )
    return Table(
        title="Modular-addition constructions (exact check on all p² pairs, float64)",
        columns=(
            "p",
            "frequencies",
            "neurons / frequency",
            "n_hidden",
            "accuracy",
            "margin",
            "margin / max |logit|",
        ),
        rows=tuple(designs),
    )


def _grok_table(
    model: Any, comparison: Any, info: Mapping[str, Any], settings: Mapping[str, Any]
) -> Table:
    """The grokking run beside the construction at its key frequencies."""
    trained_report, built = comparison.trained, comparison.construction
    return Table(
        title=f"Grokking run (p = {settings['modulus']}, train fraction "
        f"{settings['train_fraction']}, lr {settings['lr']}, "
        f"{settings['dtype']}) vs the construction at its key frequencies",
        columns=(
            "model",
            "n_hidden",
            "accuracy (all pairs)",
            "margin",
            "memorise step",
            "grok step (test ≥ 99 %)",
            "key frequencies",
        ),
        rows=(
            (
                "trained",
                comparison.trained_n_hidden,
                trained_report.accuracy,
                trained_report.margin,
                info["memorize_step"],
                info["grok_step"],
                str(list(key_frequencies(model))),
            ),
            (
                "construction",
                comparison.construction_n_hidden,
                built.accuracy,
                built.margin,
                None,
                None,
                str(list(comparison.key_frequencies)),
            ),
        ),
    )


def item_modular(ctx: ReportContext) -> tuple[list[Path], list[Table], dict[str, Any]]:
    model, history, info, settings = _grok_run(ctx)
    paths, comparison = _modular_figures(ctx, model, history, {"grokking": settings})
    constructions = _constructions_table(ctx.config.moduli)
    grok = _grok_table(model, comparison, info, settings)
    extra = Table(
        title="Grokking run: Fourier measures",
        columns=("quantity", "value"),
        rows=(
            ("Fourier Gini of W_in", fourier_gini(model)),
            ("power-spectrum cosine, trained vs construction", comparison.spectrum_cosine),
            ("trained neurons per key frequency", str(list(comparison.neurons_per_key_frequency))),
            ("training CPU seconds (first run)", info["cpu_seconds"]),
            ("steps run", info["steps_run"]),
        ),
    )
    return (
        paths,
        [constructions, grok, extra],
        {"grokking": settings, "moduli": list(ctx.config.moduli)},
    )
