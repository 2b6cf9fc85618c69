"""The reproduction report behind ``toyforge report``: every gallery figure and a summary.

:func:`run_report` regenerates each figure of ``figures/gallery`` (same file names) and writes
``REPORT.md``: theory vs construction vs trained tables (with standard errors and relative
differences) for the Persian rug, the modular-addition constructions and the grokking run, the
double-descent curve, plus the config, the toyforge version and the timing of every item.

Caching: the expensive parts of an item run through the sweep machinery
(:func:`toyforge.verify.sweep.run_sweep`, content-hashed per-task records under
``OUT/.cache/<item>/<sweep>/tasks/``); the grokking run is cached as a weight file + history
keyed by the SHA-256 of its config, the double-descent curve by its resumable JSON file. A
second run with the same config recomputes nothing and only redraws.

It lives in the front-door layer because it uses every other layer, figures included.
Nothing here prints: :func:`run_report` reports each finished item to an optional callback.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from toyforge.core.errors import InvalidParameter
from toyforge.core.fileio import atomic_write_text
from toyforge.core.serde import to_jsonable

__all__ = [
    "FULL_REPORT",
    "ITEMS",
    "QUICK_REPORT",
    "ItemResult",
    "ReportConfig",
    "ReportResult",
    "Table",
    "convergence_point_task",
    "curve_point_task",
    "run_report",
]

_PAPER_AXIS = [0.002001, 0.8]


@dataclass(frozen=True, kw_only=True, slots=True)
class ReportConfig:
    """Sizes of every report item (defaults: the full report, i.e. the README's figures).

    The Persian-rug items follow the parameters stamped into the gallery PNGs; see
    :data:`QUICK_REPORT` for the small sizes of ``--quick``.
    """

    name: str = "full"
    seed: int = 0
    # Persian-rug images (toyforge figure rug)
    rug_features: int = 1024
    rug_ratio: float = 0.25
    rug_feature_prob: float = 0.01
    big_rug_features: int = 2**20
    big_rug_ratio: float = 0.1
    trained_rug_features: int = 256
    trained_rug_steps: int = 3000
    image_size: int = 256
    # loss curves (toyforge figure loss-curves)
    ratio_curve_features: int = 4096
    ratio_curve_fixed: float = 0.05
    ratio_curve_points: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2, 0.4, 0.7)
    prob_curve_features: int = 512
    prob_curve_fixed: float = 0.25
    prob_curve_points: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3, 0.6)
    prob_curve_train_steps: int = 2000
    curve_samples: int = 4000
    # convergence (toyforge figure convergence)
    convergence_ratio: float = 0.1
    convergence_feature_prob: float = 0.01
    convergence_sizes: tuple[int, ...] = (256, 1024, 4096, 16384, 65536, 262144)
    convergence_samples: int = 20_000
    # theory vs rug vs trained table
    compare_features: int = 1024
    compare_ratios: tuple[float, ...] = (0.1, 0.25)
    compare_feature_probs: tuple[float, ...] = (0.01, 0.05)
    compare_samples: int = 20_000
    compare_train_steps: int = 3000
    # phase diagrams (theory on the paper grid; rug and trained on a coarser sub-grid)
    phase_features: int = 1024
    phase_points: int = 20
    phase_compare_points: int = 6
    phase_compare_features: int = 512
    phase_compare_samples: int = 10_000
    phase_train_steps: int = 1500
    # modular addition
    moduli: tuple[int, ...] = (67, 113)
    grok: Mapping[str, Any] = field(default_factory=lambda: {"stop_after_grok": 5000})
    # double descent (toyforge double-descent)
    # one seed, one initialisation per size: the gallery figure (3 × 3 restarts take ~75 min)
    double_descent: Mapping[str, Any] = field(default_factory=lambda: {"seeds": 1, "restarts": 1})
    geometry_sizes: tuple[int, ...] = (5, 10, 100, 500, 2000)
    # reconstruction limits (toyforge figure reconstruction-limits; its defaults)
    reconstruction: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The config as JSON-ready data."""
        return to_jsonable({name: getattr(self, name) for name in self.__slots__})


FULL_REPORT = ReportConfig()

QUICK_REPORT = ReportConfig(
    name="quick",
    big_rug_features=2**16,
    trained_rug_steps=1000,
    ratio_curve_features=1024,
    prob_curve_features=256,
    prob_curve_train_steps=400,
    curve_samples=2000,
    convergence_sizes=(256, 1024, 4096, 16384),
    convergence_samples=5000,
    compare_samples=10_000,
    compare_train_steps=600,
    phase_compare_points=4,
    phase_compare_features=256,
    phase_compare_samples=4000,
    phase_train_steps=300,
    grok={"train_fraction": 0.7, "lr": 3e-3, "steps": 5000, "stop_after_grok": 500},
    reconstruction={
        "n_features": 20,
        "n_points": 300,
        "sparsities": (0.7, 0.9, 0.95),
        "sizes": (1, 4, 16),
        "steps": 400,
        "n_test": 300,
    },
    double_descent={
        "seeds": 1,
        "restarts": 1,
        "sizes": (3, 5, 10, 30, 100, 500, 1000, 2000),
        "steps": 5000,
        "warmup_steps": 250,
        "lr": 1e-2,
    },
)
"""``--quick``: rug at 2^16 instead of 2^20 for the crop, curves at n = 1024 / 256, the
convergence study up to n = 16384 with 5000 samples, 300–1000 training steps, a 4 × 4
comparison sub-grid at n = 256, grokking with 70 % of the pairs at lr 3e-3, double descent on 8
sizes with 5000 steps (lr 1e-2)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Table:
    """A Markdown table of the summary."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    def markdown(self) -> str:
        """The table as GitHub Markdown."""
        lines = [
            f"**{self.title}**",
            "",
            "| " + " | ".join(self.columns) + " |",
            "|" + "---|" * len(self.columns),
        ]
        lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in self.rows]
        return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool) or isinstance(value, (int, np.integer)):
        return str(value)
    if isinstance(value, (float, np.floating)):
        return "nan" if not math.isfinite(value) else f"{value:.5g}"
    return str(value)


def _relative(value: float | None, reference: float) -> str:
    if value is None or not math.isfinite(value) or reference <= 0:
        return "–"
    return f"{100.0 * (value / reference - 1.0):+.2f} %"


@dataclass(frozen=True, kw_only=True, slots=True)
class ItemResult:
    """One item: its figures, tables, config, wall time and how much it computed afresh."""

    name: str
    figures: tuple[Path, ...]
    tables: tuple[Table, ...]
    config: Mapping[str, Any]
    seconds: float
    computed: int
    """New cache entries written (task records, weight files, double-descent points)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ReportResult:
    """The whole report."""

    config: ReportConfig
    items: tuple[ItemResult, ...]
    summary_path: Path
    seconds: float


@dataclass(slots=True)
class _Context:
    out: Path
    config: ReportConfig
    executor: Any
    computed: int = 0

    def cache(self, item: str) -> Path:
        folder = self.out / ".cache" / item
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def sweep(
        self, item: str, spec: Mapping[str, Any], *, cheap: bool = False
    ) -> list[dict[str, Any]]:
        """Run (or resume) a sweep under the item's cache; its table rows."""
        from toyforge.verify.sweep import InProcessExecutor, read_table, run_sweep

        executor = InProcessExecutor() if cheap else self.executor
        summary = run_sweep(dict(spec), self.cache(item) / spec["name"], executor=executor)
        self.computed += summary.n_ran
        if summary.status.n_failed:
            failure = summary.status.failures[0]
            raise InvalidParameter(
                f"report item {item!r}", failure[1], f"a task that runs (it failed: {failure[2]})"
            )
        return read_table(summary.table_path)


# ------------------------------------------------------------------------- sweep tasks


def curve_point_task(params: dict[str, Any], seed: int) -> dict[str, Any]:
    """Sweep task: one point of :func:`toyforge.verify.compare.persian_rug.loss_curves`.

    Parameters ``axis``, ``fixed``, ``value``, ``n_features``, ``n_samples``, ``train_steps``
    and ``seed`` (the curve's seed, so the point is the same as in a whole-curve call).
    """
    from toyforge.verify.compare.persian_rug import loss_curves

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
    """Sweep task: one size of :func:`toyforge.verify.compare.persian_rug.convergence_study`."""
    from toyforge.verify.compare.persian_rug import convergence_study

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


# ------------------------------------------------------------------------- helpers


def _save(figure: Any, path: Path, config: Mapping[str, Any]) -> Path:
    from toyforge.figures._style import save_figure

    return save_figure(figure, path, {"report": True, **config})


def _config_key(data: Mapping[str, Any]) -> str:
    text = json.dumps(to_jsonable(dict(data)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ------------------------------------------------------------------------- items


def _item_rug(ctx: _Context) -> tuple[list[Path], list[Table], dict[str, Any]]:
    from toyforge.constructions.io import load
    from toyforge.constructions.persian_rug import persian_rug
    from toyforge.figures.rug import model_rug_figure

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
        _save(model_rug_figure(rug, size=c.image_size, histograms=True), ctx.out / "rug.png", conf)
    )
    big = persian_rug(c.big_rug_features, c.big_rug_ratio, c.rug_feature_prob, c.seed)
    big_conf = {**conf, "n_features": c.big_rug_features, "ratio": c.big_rug_ratio}
    paths.append(
        _save(model_rug_figure(big, size=c.image_size), ctx.out / "rug_2e20_crop.png", big_conf)
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
        _save(
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
    ctx: _Context,
    item: str,
    axis: str,
    fixed: float,
    points: Sequence[float],
    n_features: int,
    train_steps: int,
) -> Any:
    from toyforge.verify.compare.persian_rug import LossCurves, large_n_losses

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
    values = np.asarray(points, dtype=float)
    # the theory grid of verify.compare.loss_curves (cheap: recomputed at every run)
    low = min(values.min(), 1e-3) if axis == "feature_prob" else min(values.min(), 1e-2)
    grid = np.geomspace(low, 1.0 if axis == "ratio" else max(values.max(), 0.8), 120)
    theory = large_n_losses(*((grid, fixed) if axis == "ratio" else (fixed, grid)))

    def column(name: str) -> np.ndarray:
        return np.array(
            [np.nan if row.get(name) is None else row[name] for row in rows], dtype=float
        )

    curves = LossCurves(
        axis=axis,
        fixed=fixed,
        n_features=n_features,
        grid=grid,
        symmetric=theory["symmetric"],
        time_sharing=theory["time_sharing"],
        linear=theory["linear"],
        points=column("at"),
        rug_loss=column("rug_loss"),
        rug_stderr=column("rug_stderr"),
        finite_loss=column("finite_loss"),
        trained_loss=column("trained_loss"),
        trained_stderr=column("trained_stderr"),
    )
    return curves, spec


def _curve_table(curves: Any, title: str) -> Table:
    from toyforge.verify.compare.persian_rug import large_n_losses

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
                _relative(curves.rug_loss[k], theory),
                None if not math.isfinite(trained) else trained,
                None if not math.isfinite(trained) else curves.trained_stderr[k],
                _relative(trained, theory),
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


def _item_loss_curves(ctx: _Context) -> tuple[list[Path], list[Table], dict[str, Any]]:
    from toyforge.figures.rug import loss_curves_figure

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
        _save(loss_curves_figure(by_ratio), ctx.out / "loss_vs_ratio.png", spec_r),
        _save(loss_curves_figure(by_prob), ctx.out / "loss_vs_feature_prob.png", spec_p),
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


def _item_convergence(ctx: _Context) -> tuple[list[Path], list[Table], dict[str, Any]]:
    from toyforge.figures.rug import convergence_figure
    from toyforge.verify.compare.persian_rug import ConvergencePoint, ConvergenceStudy

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
    path = _save(convergence_figure(study), ctx.out / "convergence.png", spec)
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
                _relative(p.rug_loss, p.theory_loss),
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
                _relative(r["construction_loss"], theory),
                f"{r.get('construction_vs_finite_z', math.nan):+.2f}",
                r.get("trained_loss"),
                r.get("trained_stderr"),
                _relative(r.get("trained_loss"), theory),
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
        ),
        rows=tuple(out),
    )


def _item_compare(ctx: _Context) -> tuple[list[Path], list[Table], dict[str, Any]]:
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
        f"{c.compare_samples} MC samples, {c.compare_train_steps} training steps)"
    )
    return [], [_compare_table(rows, title)], spec


def _item_phase(ctx: _Context) -> tuple[list[Path], list[Table], dict[str, Any]]:
    from toyforge.figures.phase import phase_diagram
    from toyforge.figures.sweep_phase import sweep_phase_figure
    from toyforge.theory import predict_grid

    c = ctx.config
    axis = {"linspace": [*_PAPER_AXIS, c.phase_points]}
    coarse = {"linspace": [*_PAPER_AXIS, c.phase_compare_points]}
    grid_values = np.linspace(*_PAPER_AXIS, c.phase_points)
    scan = predict_grid(grid_values, grid_values)  # what `toyforge scan --plot` draws
    paths = [
        _save(
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
        f"(n = {c.phase_compare_features}, {c.phase_train_steps} steps) on "
        f"{c.phase_compare_points}²"
    )
    paths.append(
        _save(
            sweep_phase_figure(theory_rows, compare_rows, title=title),
            ctx.out / "sweep_phase.png",
            {"theory": theory_spec, "compare": compare_spec},
        )
    )
    table = _compare_table(
        compare_rows, f"Phase sub-grid: theory vs rug vs trained (n = {c.phase_compare_features})"
    )
    return paths, [table], {"theory": theory_spec, "compare": compare_spec}


def _grok_run(ctx: _Context) -> tuple[Any, Any, dict[str, Any], Mapping[str, Any]]:
    """The grokking run, cached as ``<key>.npz`` + ``<key>.history.npz`` + ``<key>.json``."""
    from toyforge.constructions.io import load, save
    from toyforge.core.fileio import atomic_write
    from toyforge.verify.experiments.grokking import (
        ModularTrainingConfig,
        TrainingHistory,
        train_modular_addition,
    )

    config = ModularTrainingConfig(**{"seed": ctx.config.seed, **ctx.config.grok})
    settings = to_jsonable({name: getattr(config, name) for name in config.__slots__})
    folder = ctx.cache("modular")
    key = _config_key(settings)
    weights, history_file = folder / f"{key}.npz", folder / f"{key}.history.npz"
    info_file = folder / f"{key}.json"
    if not info_file.exists():
        result = train_modular_addition(config)
        save(result.model, weights, metadata={"config": settings})
        atomic_write(history_file, lambda handle: np.savez(handle, **result.history.to_arrays()))
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
    with np.load(history_file, allow_pickle=False) as data:
        history = TrainingHistory.from_arrays({name: data[name] for name in data.files})
    return load(weights), history, json.loads(info_file.read_text()), settings


def _modular_figures(
    ctx: _Context, model: Any, history: Any, conf: Mapping[str, Any]
) -> tuple[list[Path], Any]:
    """The four figures of ``toyforge figure grokking|fourier-spectrum|neuron-activations|
    modular-weights`` (same data preparation as those commands)."""
    from toyforge.figures.modular import (
        construction_vs_trained_figure,
        fourier_spectrum_figure,
        grokking_figure,
        neuron_activation_figure,
    )
    from toyforge.verify.experiments.fourier_analysis import (
        compare_with_construction,
        fourier_spectrum,
        key_frequencies,
        neuron_frequencies,
    )

    out = ctx.out
    paths = [
        _save(grokking_figure(history), out / "modular_grokking.png", conf),
        _save(
            fourier_spectrum_figure(fourier_spectrum(model.input_matrix()), key_frequencies(model)),
            out / "modular_spectrum.png",
            conf,
        ),
    ]
    p = model.modulus
    a, b = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    activations = model.hidden(a.ravel(), b.ravel()).reshape(p, p, model.n_hidden)
    strength = np.linalg.norm(model.input_matrix(), axis=0) * np.linalg.norm(model.W_out, axis=1)
    neurons = list(np.argsort(strength)[::-1][:8])
    dominant = neuron_frequencies(model)
    labels = [f"neuron {n} (k = {dominant[n]})" for n in neurons]
    paths.append(
        _save(
            neuron_activation_figure(activations, neurons, labels),
            out / "modular_neurons.png",
            conf,
        )
    )
    comparison = compare_with_construction(model)
    trained = np.asarray(model.input_matrix(), dtype=np.float64)
    angles = 2 * np.pi * np.outer(np.arange(p), dominant) / p
    phase = np.angle(np.sum(np.exp(1j * angles) * trained, axis=0))
    order = np.lexsort((phase, dominant))
    frequencies = ", ".join(str(k) for k in comparison.key_frequencies)
    figure = construction_vs_trained_figure(
        comparison.construction_model.input_matrix(),
        trained[:, order],
        constructed_label=f"construction (k = {frequencies}, "
        f"{comparison.construction_n_hidden} neurons)",
        trained_label=f"trained ({model.n_hidden} neurons, sorted by frequency)",
    )
    paths.append(_save(figure, out / "modular_weights.png", conf))
    return paths, comparison


def _item_modular(ctx: _Context) -> tuple[list[Path], list[Table], dict[str, Any]]:
    from toyforge.constructions.modular_addition import recommended_design
    from toyforge.verify.experiments.fourier_analysis import fourier_gini, key_frequencies

    model, history, info, settings = _grok_run(ctx)
    paths, comparison = _modular_figures(ctx, model, history, {"grokking": settings})
    designs = []
    for modulus in ctx.config.moduli:
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
    constructions = Table(
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
    trained_report, built = comparison.trained, comparison.construction
    grok = Table(
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


def _item_memorization(ctx: _Context) -> tuple[list[Path], list[Table], dict[str, Any]]:
    from toyforge.figures.memorization import (
        dimensionality_figure,
        double_descent_figure,
        geometry_figure,
    )
    from toyforge.verify.experiments.double_descent import DoubleDescentConfig, run_double_descent

    config = DoubleDescentConfig(**ctx.config.double_descent)
    settings = to_jsonable({name: getattr(config, name) for name in config.__slots__})
    target = ctx.cache("memorization") / f"{_config_key(settings)}.json"
    result = run_double_descent(config, out=target, on_point=lambda _point: _count(ctx))
    sizes = [size for size in ctx.config.geometry_sizes if size in config.sizes]
    paths = [
        _save(double_descent_figure(result), ctx.out / "memorization_double_descent.png", settings),
        _save(geometry_figure(result, sizes), ctx.out / "memorization_geometry.png", settings),
        _save(dimensionality_figure(result), ctx.out / "memorization_dimensionality.png", settings),
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


def _item_reconstruction(ctx: _Context) -> tuple[list[Path], list[Table], dict[str, Any]]:
    from toyforge.figures.memorization import reconstruction_limits_titled
    from toyforge.verify.experiments.reconstruction import (
        load_reconstruction_grids,
        reconstruction_bound_curves,
        reconstruction_limit_panels,
        save_reconstruction_grids,
    )

    settings = to_jsonable(dict(ctx.config.reconstruction))
    target = ctx.cache("reconstruction") / f"{_config_key(settings)}.json"
    if target.is_file():
        panels = load_reconstruction_grids(target)
    else:
        panels = reconstruction_limit_panels(**ctx.config.reconstruction)
        first = panels[0][1]
        save_reconstruction_grids(
            target, panels, reconstruction_bound_curves(first.base.n_features, first.x_values)
        )
        _count(ctx)
    first = panels[0][1]
    curves = reconstruction_bound_curves(first.base.n_features, first.x_values)
    path = _save(
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


def _count(ctx: _Context) -> None:
    ctx.computed += 1


ITEMS: dict[str, Callable[[_Context], tuple[list[Path], list[Table], Any]]] = {
    "phase": _item_phase,
    "rug": _item_rug,
    "loss_curves": _item_loss_curves,
    "convergence": _item_convergence,
    "compare": _item_compare,
    "modular": _item_modular,
    "memorization": _item_memorization,
    "reconstruction": _item_reconstruction,
}
"""Report items by name, in report order. Figures per item: phase → phase_diagram.png,
sweep_phase.png; rug → rug.png, rug_2e20_crop.png, rug_vs_trained.png; loss_curves →
loss_vs_ratio.png, loss_vs_feature_prob.png; convergence → convergence.png; compare → (table
only); modular → modular_grokking/spectrum/neurons/weights.png; memorization →
memorization_double_descent/geometry/dimensionality.png; reconstruction →
memorization_reconstruction.png."""

ItemCallback = Callable[[str, "ItemResult"], None]


def _executor(workers: int | None) -> Any:
    from toyforge.verify.sweep import InProcessExecutor, ProcessPoolExecutor

    if workers is None:
        return None
    return InProcessExecutor() if workers <= 1 else ProcessPoolExecutor(workers=workers)


def run_report(
    out: str | Path,
    config: ReportConfig | None = None,
    *,
    only: Sequence[str] | None = None,
    workers: int | None = None,
    on_item: ItemCallback | None = None,
) -> ReportResult:
    """Regenerate the report's figures and write ``OUT/REPORT.md``.

    Parameters
    ----------
    out : path
        Output folder (created); the cache lives in ``out/.cache``.
    config : ReportConfig, optional
        :data:`FULL_REPORT` (default) or :data:`QUICK_REPORT`, or your own sizes.
    only : sequence of str, optional
        Item names (keys of :data:`ITEMS`); default all.
    workers : int, optional
        Sweep workers (1: in-process); default: the sweep's choice (a process pool with one
        worker per CPU for more than a few expensive tasks).
    on_item : callable, optional
        ``on_item(name, item_result)`` after each item.
    """
    config = config or FULL_REPORT
    names = list(ITEMS) if not only else list(only)
    unknown = [name for name in names if name not in ITEMS]
    if unknown:
        raise InvalidParameter("only", unknown, f"item names among {list(ITEMS)}")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results = []
    for name in names:
        ctx = _Context(out=folder, config=config, executor=_executor(workers))
        begin = time.perf_counter()
        paths, tables, item_config = ITEMS[name](ctx)
        item = ItemResult(
            name=name,
            figures=tuple(paths),
            tables=tuple(tables),
            config=to_jsonable(item_config),
            seconds=time.perf_counter() - begin,
            computed=ctx.computed,
        )
        results.append(item)
        if on_item is not None:
            on_item(name, item)
    result = ReportResult(
        config=config,
        items=tuple(results),
        summary_path=folder / "REPORT.md",
        seconds=time.perf_counter() - started,
    )
    atomic_write_text(result.summary_path, summary_markdown(result))
    return result


def summary_markdown(result: ReportResult) -> str:
    """``REPORT.md``: version, timing, then each item's figures, tables and config."""
    import platform

    from toyforge import __version__

    lines = [
        f"# toyforge reproduction report ({result.config.name})",
        "",
        f"toyforge {__version__}, Python {platform.python_version()}, "
        f"{platform.machine()}; total {result.seconds:.1f} s wall.",
        "",
        "| item | wall seconds | new cache entries | figures |",
        "|---|---|---|---|",
    ]
    for item in result.items:
        figures = ", ".join(path.name for path in item.figures) or "–"
        lines.append(f"| {item.name} | {item.seconds:.1f} | {item.computed} | {figures} |")
    lines.append("")
    for item in result.items:
        lines += [f"## {item.name}", ""]
        lines += [f"![{path.stem}]({path.name})" for path in item.figures]
        lines.append("")
        for table in item.tables:
            lines += [table.markdown(), ""]
        lines += [
            "<details><summary>config</summary>",
            "",
            "```json",
            json.dumps(item.config, indent=1, sort_keys=True),
            "```",
            "",
            "</details>",
            "",
        ]
    return "\n".join(lines)


def with_overrides(config: ReportConfig, **changes: Any) -> ReportConfig:
    """A copy of ``config`` with some sizes changed (``dataclasses.replace``)."""
    return replace(config, **changes)
