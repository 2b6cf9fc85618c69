"""Report items of memorisation: data double descent and reconstruction limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from toyforge.core.serde import to_jsonable
from toyforge.figures.memorization import (
    dimensionality_figure,
    double_descent_figure,
    geometry_figure,
    reconstruction_limits_titled,
)
from toyforge.report.context import ReportContext, config_key, save_report_figure
from toyforge.report.results import Table
from toyforge.verify.experiments.double_descent import DoubleDescentConfig, run_double_descent
from toyforge.verify.experiments.reconstruction_grids import (
    load_reconstruction_grids,
    reconstruction_bound_curves,
    reconstruction_limit_panels,
    save_reconstruction_grids,
)

__all__: list[str] = []


def item_memorization(ctx: ReportContext) -> tuple[list[Path], list[Table], dict[str, Any]]:
    config = DoubleDescentConfig(**ctx.config.double_descent)
    settings = to_jsonable({name: getattr(config, name) for name in config.__slots__})
    target = ctx.cache("memorization") / f"{config_key(settings)}.json"
    result = run_double_descent(config, out=target, on_point=lambda _point: ctx.count())
    sizes = [size for size in ctx.config.geometry_sizes if size in config.sizes]
    paths = [
        save_report_figure(
            double_descent_figure(result), ctx.out / "memorization_double_descent.png", settings
        ),
        save_report_figure(
            geometry_figure(result, sizes), ctx.out / "memorization_geometry.png", settings
        ),
        save_report_figure(
            dimensionality_figure(result), ctx.out / "memorization_dimensionality.png", settings
        ),
    ]
    rows = tuple(
        (
            p.n_points,
            p.seed,
            p.train_loss,
            p.test_loss.value,
            p.test_loss.stderr,
            p.weight_norm,
            p.n_represented,
        )
        for p in result.points
    )
    table = Table(
        title=f"Data double descent (n = {config.n_features}, m = 2, "
        f"S = {config.sparsity}, {config.steps} AdamW steps; losses per point, "
        "zero output = 1)",
        columns=("T", "seed", "train loss", "test loss", "± SE", "|W|_F", "features |W_i| > 0.5"),
        rows=rows,
    )
    return paths, [table], settings


def item_reconstruction(ctx: ReportContext) -> tuple[list[Path], list[Table], dict[str, Any]]:
    settings = to_jsonable(dict(ctx.config.reconstruction))
    target = ctx.cache("reconstruction") / f"{config_key(settings)}.json"
    if target.is_file():
        panels = load_reconstruction_grids(target)
    else:
        panels = reconstruction_limit_panels(**ctx.config.reconstruction)
        first = panels[0][1]
        save_reconstruction_grids(
            target, panels, reconstruction_bound_curves(first.base.n_features, first.x_values)
        )
        ctx.count()
    first = panels[0][1]
    curves = reconstruction_bound_curves(first.base.n_features, first.x_values)
    path = save_report_figure(
        reconstruction_limits_titled(panels, curves),
        ctx.out / "memorization_reconstruction.png",
        settings,
    )
    rows = tuple(
        (
            title,
            float(grid.relative_loss.min()),
            float(grid.relative_loss.max()),
            float(grid.accuracy.min()),
            float(grid.accuracy.max()),
        )
        for title, grid in panels
    )
    table = Table(
        title="Reconstruction limits (test loss / zero-output loss; accuracy)",
        columns=("panel", "min loss", "max loss", "min accuracy", "max accuracy"),
        rows=rows,
    )
    return [path], [table], settings
