"""Report items of the Persian rug: images, loss curves, convergence, comparison, phase."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from toyforge.constructions.io import load
from toyforge.constructions.persian_rug import persian_rug
from toyforge.figures.phase import phase_diagram
from toyforge.figures.rug import convergence_figure, loss_curves_figure, model_rug_figure
from toyforge.figures.sweep_phase import sweep_phase_figure
from toyforge.report.context import ReportContext, save_report_figure
from toyforge.report.results import Table, relative_change
from toyforge.theory import predict_grid
from toyforge.verify.compare.curve_points import curves_from_points
from toyforge.verify.compare.persian_rug import large_n_losses
from toyforge.verify.compare.rug_curves import (
    ConvergencePoint,
    ConvergenceStudy,
    convergence_study,
    loss_curves,
)

__all__ = ["convergence_point_task", "curve_point_task"]

_PAPER_AXIS = [0.002001, 0.8]


def curve_point_task(params: dict[str, Any], seed: int) -> dict[str, Any]:
    """Sweep task: one point of :func:`toyforge.verify.compare.rug_curves.loss_curves`.

    Parameters ``axis``, ``fixed``, ``value``, ``n_features``, ``n_samples``, ``train_steps``
    and ``seed`` (the curve's seed, so the point is the same as in a whole-curve call).
    """

    curves = loss_curves(
        params["axis"],
        params["fixed"],
        [params["value"]],
        n_features=int(params["n_features"]),
        n_samples=int(params["n_samples"]),
        seed=int(params["seed"]),
        train_steps=int(params.get("train_steps", 0)),
    )
    trained = float(curves.trained_loss[0])
    return {
        "at": float(curves.points[0]),
        "rug_loss": float(curves.rug_loss[0]),
        "rug_stderr": float(curves.rug_stderr[0]),
        "finite_loss": float(curves.finite_loss[0]),
        "trained_loss": trained if math.isfinite(trained) else None,
        "trained_stderr": float(curves.trained_stderr[0]) if math.isfinite(trained) else None,
    }


def convergence_point_task(params: dict[str, Any], seed: int) -> dict[str, Any]:
    """Sweep task: one size of :func:`toyforge.verify.compare.rug_curves.convergence_study`."""
    study = convergence_study(
        params["ratio"],
        params["feature_prob"],
        [int(params["n_features"])],
        n_samples=int(params["n_samples"]),
        seed=int(params["seed"]),
    )
    point = study.points[0]
    return {
        "active_features": point.active_features,
        "theory_loss": point.theory_loss,
        "rug_loss": point.rug_loss,
        "rug_stderr": point.rug_stderr,
        "finite_loss": point.finite_loss,
    }


def item_rug(ctx: ReportContext) -> tuple[list[Path], list[Table], dict[str, Any]]:
    c = ctx.config
    paths = []
    rug = persian_rug(c.rug_features, c.rug_ratio, c.rug_feature_prob, c.seed)
    conf = {
        "figure": "rug",
        "n_features": c.rug_features,
        "ratio": c.rug_ratio,
        "feature_prob": c.rug_feature_prob,
        "seed": c.seed,
        "size": c.image_size,
    }
    paths.append(
        save_report_figure(
            model_rug_figure(rug, size=c.image_size, histograms=True), ctx.out / "rug.png", conf
        )
    )
    big = persian_rug(c.big_rug_features, c.big_rug_ratio, c.rug_feature_prob, c.seed)
    big_conf = {**conf, "n_features": c.big_rug_features, "ratio": c.big_rug_ratio}
    paths.append(
        save_report_figure(
            model_rug_figure(big, size=c.image_size), ctx.out / "rug_2e20_crop.png", big_conf
        )
    )
    spec = {
        "name": "trained",
        "task": "train+evaluate",
        "save_models": True,
        "grid": {"n_features": [c.trained_rug_features]},
        "fixed": {
            "ratio": c.rug_ratio,
            "feature_prob": c.rug_feature_prob,
            "steps": c.trained_rug_steps,
            "n_samples": 20_000,
            "seed": c.seed,
        },
    }
    row = ctx.sweep("rug", spec)[0]
    trained = load(ctx.cache("rug") / "trained" / row["model_file"])
    small = persian_rug(c.trained_rug_features, c.rug_ratio, c.rug_feature_prob, c.seed)
    paths.append(
        save_report_figure(
            model_rug_figure(
                small, size=c.image_size, histograms=True, trained_matrix=trained.effective_matrix()
            ),
            ctx.out / "rug_vs_trained.png",
            {**conf, "n_features": c.trained_rug_features, "trained_steps": c.trained_rug_steps},
        )
    )
    table = Table(
        title=f"Trained ReLU autoencoder beside the rug (n = {c.trained_rug_features},"
        f" r = {c.rug_ratio}, p = {c.rug_feature_prob}, "
        f"{c.trained_rug_steps} Adam steps)",
        columns=("model", "loss", "± SE"),
        rows=(("trained (held out)", row["loss"], row["loss_stderr"]),),
    )
    return paths, [table], {"images": conf, "big": big_conf, "trained_sweep": spec}


def _curves(
    ctx: ReportContext,
    item: str,
    axis: str,
    fixed: float,
    points: Sequence[float],
    n_features: int,
    train_steps: int,
) -> Any:
    """One loss curve: each point a cached sweep task, assembled with the theory curves."""
    c = ctx.config
    spec = {
        "name": item,
        "task": "toyforge.report:curve_point_task",
        "grid": {"value": list(points)},
        "fixed": {
            "axis": axis,
            "fixed": fixed,
            "n_features": n_features,
            "n_samples": c.curve_samples,
            "train_steps": train_steps,
            "seed": c.seed,
        },
    }
    rows = ctx.sweep(item, spec)
    # the theory curves are cheap: recomputed at every run on loss_curves' grid
    curves = curves_from_points(axis, fixed, n_features, points, rows)
    return curves, spec


def _curve_table(curves: Any, title: str) -> Table:

    rows = []
    for k, at in enumerate(curves.points):
        ratio, prob = (at, curves.fixed) if curves.axis == "ratio" else (curves.fixed, at)
        theory = float(large_n_losses(ratio, prob)["symmetric"])
        trained = curves.trained_loss[k]
        rows.append(
            (
                f"{at:.4g}",
                theory,
                curves.finite_loss[k],
                curves.rug_loss[k],
                curves.rug_stderr[k],
                relative_change(curves.rug_loss[k], theory),
                None if not math.isfinite(trained) else trained,
                None if not math.isfinite(trained) else curves.trained_stderr[k],
                relative_change(trained, theory),
            )
        )
    return Table(
        title=title,
        columns=(
            curves.axis,
            "large-N theory",
            "finite-N theory",
            "rug MC",
            "± SE",
            "rug vs theory",
            "trained",
            "± SE",
            "trained vs theory",
        ),
        rows=tuple(rows),
    )


def item_loss_curves(ctx: ReportContext) -> tuple[list[Path], list[Table], dict[str, Any]]:
    c = ctx.config
    by_ratio, spec_r = _curves(
        ctx,
        "loss_vs_ratio",
        "ratio",
        c.ratio_curve_fixed,
        c.ratio_curve_points,
        c.ratio_curve_features,
        0,
    )
    by_prob, spec_p = _curves(
        ctx,
        "loss_vs_feature_prob",
        "feature_prob",
        c.prob_curve_fixed,
        c.prob_curve_points,
        c.prob_curve_features,
        c.prob_curve_train_steps,
    )
    paths = [
        save_report_figure(loss_curves_figure(by_ratio), ctx.out / "loss_vs_ratio.png", spec_r),
        save_report_figure(
            loss_curves_figure(by_prob), ctx.out / "loss_vs_feature_prob.png", spec_p
        ),
    ]
    tables = [
        _curve_table(
            by_ratio, f"Loss vs ratio (p = {c.ratio_curve_fixed}, n = {c.ratio_curve_features})"
        ),
        _curve_table(
            by_prob,
            f"Loss vs feature probability (r = {c.prob_curve_fixed}, "
            f"n = {c.prob_curve_features}, trained "
            f"{c.prob_curve_train_steps} steps)",
        ),
    ]
    return paths, tables, {"loss_vs_ratio": spec_r, "loss_vs_feature_prob": spec_p}


def item_convergence(ctx: ReportContext) -> tuple[list[Path], list[Table], dict[str, Any]]:
    c = ctx.config
    spec = {
        "name": "convergence",
        "task": "toyforge.report:convergence_point_task",
        "grid": {"n_features": list(c.convergence_sizes)},
        "fixed": {
            "ratio": c.convergence_ratio,
            "feature_prob": c.convergence_feature_prob,
            "n_samples": c.convergence_samples,
            "seed": c.seed,
        },
    }
    rows = ctx.sweep("convergence", spec)
    points = tuple(
        ConvergencePoint(
            n_features=int(r["n_features"]),
            active_features=r["active_features"],
            theory_loss=r["theory_loss"],
            rug_loss=r["rug_loss"],
            rug_stderr=r["rug_stderr"],
            finite_loss=r["finite_loss"],
        )
        for r in rows
    )
    study = ConvergenceStudy(
        ratio=c.convergence_ratio,
        feature_prob=c.convergence_feature_prob,
        seed=c.seed,
        points=points,
    )
    path = save_report_figure(convergence_figure(study), ctx.out / "convergence.png", spec)
    table = Table(
        title=f"Convergence to the large-N theory (r = {c.convergence_ratio}, "
        f"p = {c.convergence_feature_prob})",
        columns=(
            "n_features",
            "p·n",
            "large-N theory",
            "finite-N theory",
            "rug MC",
            "± SE",
            "rug vs theory",
            "(rug − finite) / SE",
        ),
        rows=tuple(
            (
                p.n_features,
                p.active_features,
                p.theory_loss,
                p.finite_loss,
                p.rug_loss,
                p.rug_stderr,
                relative_change(p.rug_loss, p.theory_loss),
                f"{(p.rug_loss - p.finite_loss) / p.rug_stderr:+.2f}",
            )
            for p in points
        ),
    )
    return [path], [table], spec


def _compare_table(rows: Sequence[Mapping[str, Any]], title: str) -> Table:
    out = []
    for r in rows:
        theory = r["theory_loss"]
        out.append(
            (
                r["ratio"],
                r["feature_prob"],
                r.get("theory_regime"),
                theory,
                r["finite_theory_loss"],
                r["construction_loss"],
                r["construction_stderr"],
                relative_change(r["construction_loss"], theory),
                f"{r.get('construction_vs_finite_z', math.nan):+.2f}",
                r.get("trained_loss"),
                r.get("trained_stderr"),
                relative_change(r.get("trained_loss"), theory),
                _converged_cell(r),
            )
        )
    return Table(
        title=title,
        columns=(
            "r",
            "p",
            "regime",
            "large-N theory",
            "finite-N theory",
            "rug MC",
            "± SE",
            "rug vs theory",
            "(rug − finite) / SE",
            "trained",
            "± SE",
            "trained vs theory",
            "trained converged",
        ),
        rows=tuple(out),
    )


def _converged_cell(row: Mapping[str, Any]) -> str:
    """Whether the trained number is final (docs/training.md#the-convergence-rule)."""
    if row.get("trained_loss") is None:
        return ""
    converged, steps = row.get("trained_converged"), row.get("trained_steps")
    if converged is None:
        return "unknown"
    cell = f"yes ({steps} steps" if converged else f"NO (budget, {steps} steps"
    silent = row.get("trained_silent_features")
    return cell + (f", {silent} features silent)" if silent else ")")


def item_compare(ctx: ReportContext) -> tuple[list[Path], list[Table], dict[str, Any]]:
    c = ctx.config
    spec = {
        "name": "compare",
        "task": "compare",
        "grid": {"ratio": list(c.compare_ratios), "feature_prob": list(c.compare_feature_probs)},
        "fixed": {
            "n_features": c.compare_features,
            "n_samples": c.compare_samples,
            "train": True,
            "train_steps": c.compare_train_steps,
        },
    }
    rows = ctx.sweep("compare", spec)
    title = (
        f"Theory vs Persian rug vs trained (n = {c.compare_features}, "
        f"{c.compare_samples} MC samples, trained until converged, "
        f"at most {c.compare_train_steps} steps)"
    )
    return [], [_compare_table(rows, title)], spec


def item_phase(ctx: ReportContext) -> tuple[list[Path], list[Table], dict[str, Any]]:
    c = ctx.config
    axis = {"linspace": [*_PAPER_AXIS, c.phase_points]}
    coarse = {"linspace": [*_PAPER_AXIS, c.phase_compare_points]}
    grid_values = np.linspace(*_PAPER_AXIS, c.phase_points)
    scan = predict_grid(grid_values, grid_values)  # what `toyforge scan --plot` draws
    paths = [
        save_report_figure(
            phase_diagram(scan),
            ctx.out / "phase_diagram.png",
            {
                "command": "scan",
                "ratios": [*_PAPER_AXIS, c.phase_points],
                "feature_probs": [*_PAPER_AXIS, c.phase_points],
                "log": False,
            },
        )
    ]
    theory_spec = {
        "name": "theory",
        "task": "predict",
        "grid": {"ratio": axis, "feature_prob": axis},
        "fixed": {"n_features": c.phase_features},
    }
    compare_spec = {
        "name": "compare",
        "task": "compare",
        "grid": {"ratio": coarse, "feature_prob": coarse},
        "fixed": {
            "n_features": c.phase_compare_features,
            "n_samples": c.phase_compare_samples,
            "train": True,
            "train_steps": c.phase_train_steps,
        },
    }
    theory_rows = ctx.sweep("phase", theory_spec, cheap=True)
    compare_rows = ctx.sweep("phase", compare_spec)
    title = (
        f"theory at n = {c.phase_features} ({c.phase_points}² paper grid); rug and trained "
        f"(n = {c.phase_compare_features}, at most {c.phase_train_steps} steps) on "
        f"{c.phase_compare_points}²"
    )
    paths.append(
        save_report_figure(
            sweep_phase_figure(theory_rows, compare_rows, title=title),
            ctx.out / "sweep_phase.png",
            {"theory": theory_spec, "compare": compare_spec},
        )
    )
    table = _compare_table(
        compare_rows, f"Phase sub-grid: theory vs rug vs trained (n = {c.phase_compare_features})"
    )
    return paths, [table], {"theory": theory_spec, "compare": compare_spec}
