"""Report item of the grokking phase diagram: train fraction × weight decay and learning rate ×
weight decay of the modular-addition MLP, every cell trained in one batch, as
``toyforge grok-phase`` does (docs/grokking.md#the-phase-diagram)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from toyforge.core.fileio import atomic_write_text
from toyforge.core.serde import to_jsonable
from toyforge.figures.grok_phase import phase_diagram_figure
from toyforge.report.context import ReportContext, config_key, save_report_figure
from toyforge.report.results import Table
from toyforge.verify.experiments.grok_phase import PHASES, GrokRun, phase_diagram
from toyforge.verify.experiments.grokking import ModularTrainingConfig

__all__: list[str] = []

GROK_PHASE_DEFAULTS: Mapping[str, Any] = {
    "grid": 10,
    "seeds": 2,
    "modulus": 31,
    "embed": 64,
    "hidden": 24,
    "steps": 10_000,
    "log_every": 100,
    "lr": 3e-3,
    "train_fraction": 0.5,
    "threshold": 0.9,
    "delay": 1000,
}
"""The recipe of ``toyforge grok-phase`` (its defaults; the gallery's ``grok_phase.png``)."""


def _grids(recipe: Mapping[str, Any], seed: int) -> list[tuple[Any, Any, GrokRun]]:
    """Train fraction 0.1–0.9 and learning rate 1e-4–3e-2 (log) against weight decay
    0.01–30 (log)."""
    n = recipe["grid"]
    wd = ("weight_decay", np.logspace(-2, np.log10(30.0), n))
    fractions = ("train_fraction", np.linspace(0.1, 0.9, n))
    rates = ("lr", np.logspace(-4, np.log10(3e-2), n))
    return [
        (fractions, wd, GrokRun(lr=recipe["lr"], seed=seed)),
        (rates, wd, GrokRun(train_fraction=recipe["train_fraction"], seed=seed)),
    ]


def _compute(base: ModularTrainingConfig, recipe: Mapping[str, Any], seed: int) -> dict[str, Any]:
    diagrams = []
    for x, y, defaults in _grids(recipe, seed):
        diagram = phase_diagram(
            base,
            x,
            y,
            n_seeds=recipe["seeds"],
            threshold=recipe["threshold"],
            delay=recipe["delay"],
            defaults=defaults,
        )
        diagrams.append(diagram.to_json() | {"defaults": to_jsonable(defaults)})
    return {"config": to_jsonable(base), "diagrams": diagrams}


def item_grok_phase(ctx: ReportContext) -> tuple[list[Path], list[Table], dict[str, Any]]:
    recipe = {**GROK_PHASE_DEFAULTS, **ctx.config.grok_phase}
    base = ModularTrainingConfig(
        modulus=recipe["modulus"],
        d_embed=recipe["embed"],
        n_hidden=recipe["hidden"],
        steps=recipe["steps"],
        eval_every=recipe["log_every"],
    )
    settings = {"recipe": recipe, "seed": ctx.config.seed}
    path = ctx.cache("grok_phase") / f"{config_key(settings)}.json"
    if not path.exists():
        payload = _compute(base, recipe, ctx.config.seed)
        atomic_write_text(path, json.dumps(payload, indent=1, allow_nan=False))
        ctx.computed += 1
    payload = json.loads(path.read_text())
    figure = phase_diagram_figure(payload["diagrams"])
    image = save_report_figure(figure, ctx.out / "grok_phase.png", payload["config"])
    rows = []
    for diagram in payload["diagrams"]:
        phase = np.asarray(diagram["phase"])
        counts = [int(np.sum(phase == k)) for k in range(len(PHASES))]
        name = f"{diagram['x']['name']} x {diagram['y']['name']}"
        rows.append((name, *counts, diagram["cpu_seconds"]))
    table = Table(
        title=f"Grokking phases (p = {recipe['modulus']}, {recipe['grid']} x {recipe['grid']} "
        f"cells x {recipe['seeds']} seeds, {recipe['steps']} steps; runs per phase)",
        columns=("diagram", *PHASES, "CPU s (first run)"),
        rows=tuple(rows),
    )
    return [image], [table], to_jsonable(settings)
