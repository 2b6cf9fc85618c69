"""Report items of non-identical features: the two-feature phase diagram (theory), the TMS
importance sweep, loss against width and the geometry of correlated pairs (trained, cached),
drawn as ``toyforge features two | tms | width | pairs`` draw them
(docs/non_uniform_features.md#figures)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from toyforge.core.fileio import atomic_write_text
from toyforge.core.serde import to_jsonable
from toyforge.figures.features import (
    dimensionality_figure,
    loss_vs_width_figure,
    pair_geometry_figure,
    tms_importance_figure,
    two_feature_phase_figure,
)
from toyforge.report.context import ReportContext, config_key, save_report_figure
from toyforge.report.results import Table
from toyforge.theory.families import dropped_loss
from toyforge.theory.feature_classes import binned_allocation
from toyforge.theory.two_features import (
    TWO_FEATURE_LAYOUTS,
    antipodal_boundary,
    two_feature_diagram,
)
from toyforge.verify.data.laws import parse_law
from toyforge.verify.experiments.correlated_pairs import PairGeometryConfig, train_pair_geometry
from toyforge.verify.experiments.tms_importance import TmsImportanceConfig, run_tms_importance
from toyforge.verify.experiments.width_scaling import WidthScalingConfig, run_width_scaling

__all__: list[str] = []


def _settings(config: Any) -> dict[str, Any]:
    return to_jsonable({name: getattr(config, name) for name in config.__slots__})


def _cached(
    ctx: ReportContext, kind: str, settings: Any, compute: Callable[[], Any]
) -> dict[str, Any]:
    """``compute()`` once per settings, kept as ``.cache/features/<kind>-<key>.json``."""
    path = ctx.cache("features") / f"{kind}-{config_key({'settings': settings})}.json"
    if not path.exists():
        payload = to_jsonable(compute())
        atomic_write_text(path, json.dumps(payload, indent=1, allow_nan=False))
        ctx.computed += 1
    return json.loads(path.read_text())


def item_two_features(ctx: ReportContext) -> tuple[list[Path], list[Table], dict[str, Any]]:
    n = ctx.config.two_feature_resolution
    s, r = np.geomspace(0.01, 1.0, n), np.geomspace(0.1, 10.0, n)
    diagram = two_feature_diagram(s, r)
    figure = two_feature_phase_figure(diagram, boundary=antipodal_boundary(s))
    conf = {"command": "features two", "resolution": n}
    path = save_report_figure(figure, ctx.out / "nonuniform_two_feature_phase.png", conf)
    rows = tuple(
        (name, float(np.mean(diagram.phase == k))) for k, name in enumerate(TWO_FEATURE_LAYOUTS)
    )
    probe = (0.01, 0.1, 0.3, 0.5)
    boundary = Table(
        title="Antipodal boundary r_b = 2s / (4 - 5s): the antipodal layout wins for r between "
        "r_b and 1 / r_b (an antipodal phase exists for s < 4/7)",
        columns=("density s", "r_b"),
        rows=tuple((value, float(antipodal_boundary(value))) for value in probe),
    )
    share = Table(
        title=f"Best layout over s in [0.01, 1] x r in [0.1, 10] (log, {n} x {n})",
        columns=("layout", "share of the grid"),
        rows=rows,
    )
    return [path], [share, boundary], conf


def _tms_payload(config: TmsImportanceConfig) -> dict[str, Any]:
    result = run_tms_importance(config)
    return {
        "norms": result.norms,
        "interference": result.interference,
        "dimensionality": result.dimensionality,
        "dims_per_feature": result.dims_per_feature,
        "test_loss": [(e.value, e.stderr) for e in result.test_loss],
    }


def item_tms(ctx: ReportContext) -> tuple[list[Path], list[Table], dict[str, Any]]:
    config = TmsImportanceConfig(**{"seed": ctx.config.seed, **ctx.config.tms})
    settings = _settings(config)
    data = _cached(ctx, "tms", settings, lambda: _tms_payload(config))
    norms = np.asarray(data["norms"])
    dims = np.asarray(data["dimensionality"])
    represented = norms > 0.5
    paths = [
        save_report_figure(
            tms_importance_figure(config.feature_probs, norms, np.asarray(data["interference"])),
            ctx.out / "nonuniform_tms_norms.png",
            settings,
        ),
        save_report_figure(
            dimensionality_figure(
                config.feature_probs,
                dims,
                np.asarray(data["dims_per_feature"]),
                represented=represented,
            ),
            ctx.out / "nonuniform_tms_dimensionality.png",
            settings,
        ),
    ]
    rows = tuple(
        (p, loss[0], loss[1], int(r.sum()), d)
        for p, loss, r, d in zip(
            config.feature_probs,
            data["test_loss"],
            represented,
            data["dims_per_feature"],
            strict=True,
        )
    )
    table = Table(
        title=f"TMS importance sweep (n = {config.n_features}, m = {config.n_hidden}, "
        f"I_i = {config.importance_decay}^i, {config.steps} steps, best of "
        f"{config.restarts}); represented: ‖W_i‖ > 0.5",
        columns=("1 - S", "test loss", "± SE", "represented", "D* = m / ‖W‖_F²"),
        rows=rows,
    )
    return paths, [table], settings


def _width_payload(config: WidthScalingConfig) -> dict[str, Any]:
    result = run_width_scaling(config)
    widths = config.widths
    dense = np.unique(np.geomspace(min(widths) / 2, min(2 * max(widths), config.n_features), 16))
    law = parse_law(config.feature_probs).continuous(config.n_features)
    curve = binned_allocation(law, np.ones_like, dense / config.n_features, n_bins=config.n_bins)
    return {
        "widths": result.widths,
        "trained": [(e.value, e.stderr) for e in result.trained],
        "theory": result.theory,
        "trained_slope": result.trained_slope,
        "theory_slope": result.theory_slope,
        "theory_widths": dense,
        "theory_curve": [c.loss for c in curve],
        "theory_error": [c.error for c in curve],
    }


def item_width(ctx: ReportContext) -> tuple[list[Path], list[Table], dict[str, Any]]:
    config = WidthScalingConfig(**{"seed": ctx.config.seed, **ctx.config.width})
    settings = _settings(config)
    data = _cached(ctx, "width", settings, lambda: _width_payload(config))
    trained = np.asarray(data["trained"])
    figure = loss_vs_width_figure(
        data["widths"],
        trained[:, 0],
        trained[:, 1],
        data["theory_widths"],
        data["theory_curve"],
        theory_error=data["theory_error"],
        baseline=float(np.mean(dropped_loss(config.distribution().feature_probs))),
        title=f"n = {config.n_features}, firing rates {config.feature_probs}",
    )
    path = save_report_figure(figure, ctx.out / "nonuniform_loss_vs_width.png", settings)
    rows = tuple(
        (m, t[0], t[1], th)
        for m, t, th in zip(data["widths"], trained, data["theory"], strict=True)
    )
    table = Table(
        title=f"Loss against width (n = {config.n_features}, firing rates "
        f"{config.feature_probs}, {config.steps} steps); log-log slopes: trained "
        f"{data['trained_slope']:.3f}, theory {data['theory_slope']:.3f}",
        columns=("m", "trained", "± SE", "class theory"),
        rows=rows,
    )
    return [path], [table], settings


def _pairs_payload(config: PairGeometryConfig) -> dict[str, Any]:
    result = train_pair_geometry(config)
    return {
        "weights": result.weights,
        "pair_cosines": result.pair_cosines,
        "loss": (result.loss.value, result.loss.stderr),
    }


def item_pairs(ctx: ReportContext) -> tuple[list[Path], list[Table], dict[str, Any]]:
    base: Mapping[str, Any] = {"seed": ctx.config.seed, **ctx.config.pairs}
    configs = [PairGeometryConfig(correlation=rho, **base) for rho in ctx.config.pair_correlations]
    settings = [_settings(config) for config in configs]
    data = [
        _cached(ctx, "pairs", s, lambda c=c: _pairs_payload(c))
        for s, c in zip(settings, configs, strict=True)
    ]
    labels = [
        f"rho = {c.correlation:.3g}: cos = " + ", ".join(f"{x:.2f}" for x in d["pair_cosines"])
        for c, d in zip(configs, data, strict=True)
    ]
    figure = pair_geometry_figure([np.asarray(d["weights"]) for d in data], labels)
    path = save_report_figure(
        figure, ctx.out / "nonuniform_pair_geometry.png", {"configs": settings}
    )
    rows = tuple(
        (c.correlation, ", ".join(f"{x:.3f}" for x in d["pair_cosines"]), *d["loss"])
        for c, d in zip(configs, data, strict=True)
    )
    table = Table(
        title=f"Correlated pairs in m = {configs[0].n_hidden} (p = {configs[0].feature_prob}, "
        f"{configs[0].steps} steps, best of {configs[0].restarts}): cosine within each pair",
        columns=("correlation", "pair cosines", "loss", "± SE"),
        rows=rows,
    )
    return [path], [table], {"configs": settings}
