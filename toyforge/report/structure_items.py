"""Report item of the solution families (theory only): the winning-family map over
(log p, r) and loss against the ratio per family, as ``toyforge figure structure`` and
``toyforge figure families`` draw them (docs/solution_families.md#figures)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from toyforge.figures.structure import (
    family_curves_figure,
    structure_phase_diagram,
    winning_family,
)
from toyforge.report.context import ReportContext, save_report_figure
from toyforge.report.results import Table
from toyforge.theory import predict_grid
from toyforge.theory.family_curves import family_curves

__all__: list[str] = []


def _share_table(grid: Any) -> Table:
    """How much of the (log p, r) grid each family wins."""
    codes, names = winning_family(grid)
    total = codes.size
    rows = tuple(
        (name, int(np.sum(codes == k)), float(np.sum(codes == k)) / total)
        for k, name in enumerate(names)
        if np.any(codes == k)
    )
    return Table(
        title=f"Winning family over a {grid.ratios.size} × {grid.feature_probs.size} grid "
        "(r linear in (0, 1], p geometric up to 1)",
        columns=("family", "grid points", "share of the grid"),
        rows=rows,
    )


def _curves_table(curves: list[Any]) -> Table:
    """Per panel: the envelope at a few ratios beside the Persian rug and time sharing."""
    rows = []
    for curve in curves:
        for target in (0.1, 0.25, 0.45):
            i = int(np.argmin(np.abs(curve.ratios - target)))
            rows.append(
                (
                    curve.feature_prob,
                    float(curve.ratios[i]),
                    float(curve.envelope[i]),
                    float(curve.symmetric[i]),
                    float(curve.time_sharing[i]),
                    float(curve.pair_rug[i]),
                    curve.dropped,
                )
            )
    return Table(
        title="Loss per feature by family near r = 0.1, 0.25, 0.45 (dropped: p/3 - p²/4)",
        columns=("p", "r", "envelope", "Persian rug", "time sharing", "pair rug", "dropped"),
        rows=tuple(rows),
    )


def item_structure(ctx: ReportContext) -> tuple[list[Path], list[Table], dict[str, Any]]:
    cfg = ctx.config
    n = cfg.structure_resolution
    grid = predict_grid(
        np.linspace(1.0 / n, 1.0, n), np.geomspace(cfg.structure_p_min, 1.0, n), bounds=False
    )
    phase_conf = {"figure": "structure", "resolution": n, "p_min": cfg.structure_p_min}
    ratios = np.linspace(0.01, 1.0, cfg.families_resolution)
    curves = [family_curves(ratios, p) for p in cfg.families_feature_probs]
    curves_conf = {
        "figure": "families",
        "feature_probs": list(cfg.families_feature_probs),
        "resolution": cfg.families_resolution,
    }
    paths = [
        save_report_figure(
            structure_phase_diagram(grid), ctx.out / "structure_phase.png", phase_conf
        ),
        save_report_figure(
            family_curves_figure(curves), ctx.out / "structure_families.png", curves_conf
        ),
    ]
    return (
        paths,
        [_share_table(grid), _curves_table(curves)],
        {**phase_conf, "families": curves_conf},
    )
