"""Sweeps of the limits of reconstruction over the toy settings of
:mod:`toyforge.verify.experiments.reconstruction`.

:func:`reconstruction_grid` trains the tms / mlp-block settings over two of hidden size,
feature count, sparsity and importance decay and records test loss (relative to the
zero-output baseline) and accuracy; :func:`reconstruction_limit_panels` builds the panels of
``toyforge figure reconstruction-limits`` (and of the report), with the bound curves of
:func:`reconstruction_bound_curves`; the grids are saved and read back as JSON
(docs/memorisation.md#limits-of-reconstruction).
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from toyforge.core.errors import CorruptFile, InvalidParameter
from toyforge.core.fileio import atomic_write_text
from toyforge.core.serde import from_dict, to_json
from toyforge.core.validate import check_choice
from toyforge.verify.experiments.reconstruction import (
    SWEEP_AXES,
    SettingResult,
    ToySettingConfig,
    sparse_recovery_bounds,
    train_setting,
)

__all__ = [
    "ReconstructionGrid",
    "load_reconstruction_grids",
    "reconstruction_bound_curves",
    "reconstruction_grid",
    "reconstruction_limit_panels",
    "save_reconstruction_grids",
]


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class ReconstructionGrid:
    """Test loss (relative to baseline) and accuracy over a 2-D grid of one setting.

    ``relative_loss``, ``relative_stderr``, ``accuracy`` and ``late_improvement`` have shape
    (len(y_values), len(x_values)). ``late_improvement`` is the convergence check: how much
    the training loss still fell over the last quarter of the steps, as a fraction of the
    zero-output baseline (≈ 0 when the run has plateaued).
    """

    base: ToySettingConfig
    x_axis: str
    x_values: tuple[float, ...]
    y_axis: str
    y_values: tuple[float, ...]
    relative_loss: np.ndarray
    relative_stderr: np.ndarray
    accuracy: np.ndarray
    late_improvement: np.ndarray | None = None


def _cell_config(base: ToySettingConfig, changes: dict[str, float]) -> ToySettingConfig:
    typed = {
        key: int(value) if key in ("n_hidden", "n_features", "embed_dim") else float(value)
        for key, value in changes.items()
    }
    return replace(base, **typed)


def reconstruction_grid(
    base: ToySettingConfig,
    x_axis: str,
    x_values: Sequence[float],
    y_axis: str,
    y_values: Sequence[float],
    progress: Callable[[int, int], None] | None = None,
) -> ReconstructionGrid:
    """Train ``base`` at every (x, y) of two axes among :data:`SWEEP_AXES`.

    ``progress(done, total)`` is called after every cell. The ``embed_dim`` axis only
    applies to the mlp-block setting (its d-dimensional "residual" is then the bottleneck).
    """
    check_choice("x_axis", x_axis, SWEEP_AXES)
    check_choice("y_axis", y_axis, SWEEP_AXES)
    if x_axis == y_axis:
        raise InvalidParameter("y_axis", y_axis, f"an axis other than x_axis={x_axis!r}")
    if base.setting == "unembed":
        raise InvalidParameter("base.setting", base.setting, "'tms' or 'mlp-block'")
    if "embed_dim" in (x_axis, y_axis) and base.setting != "mlp-block":
        raise InvalidParameter("base.setting", base.setting, "'mlp-block' for an embed_dim axis")
    shape = (len(y_values), len(x_values))
    loss, stderr, accuracy = np.empty(shape), np.empty(shape), np.empty(shape)
    late = np.empty(shape)
    for row, y_value in enumerate(y_values):
        for column, x_value in enumerate(x_values):
            result = train_setting(_cell_config(base, {x_axis: x_value, y_axis: y_value}))
            loss[row, column] = result.relative_loss
            stderr[row, column] = result.test_loss.stderr / result.baseline
            accuracy[row, column] = result.accuracy
            late[row, column] = _late_improvement(result)
            if progress is not None:
                progress(row * len(x_values) + column + 1, loss.size)
    return ReconstructionGrid(
        base=base,
        x_axis=x_axis,
        x_values=tuple(map(float, x_values)),
        y_axis=y_axis,
        y_values=tuple(map(float, y_values)),
        relative_loss=loss,
        relative_stderr=stderr,
        accuracy=accuracy,
        late_improvement=late,
    )


def _one_blas_thread() -> Any:
    """Limit BLAS to one thread with threadpoolctl when it is installed (a dev extra)."""
    try:
        from threadpoolctl import threadpool_limits  # optional dependency
    except ImportError:  # pragma: no cover - without it BLAS keeps its threads
        return contextlib.nullcontext()
    return threadpool_limits(1)


def _panel_bases(
    settings: str,
    common: Mapping[str, Any],
    n_features: int,
    mlp_hidden: int | None,
    decay: float,
) -> list[tuple[str, str, ToySettingConfig]]:
    """(title, size axis, base config) of each panel: setting × (uniform, decaying importance)."""
    width = mlp_hidden if mlp_hidden is not None else 2 * n_features
    chosen = []
    if settings in ("both", "tms"):
        chosen.append(("bottleneck", "n_hidden", ToySettingConfig(setting="tms", **common)))
    if settings in ("both", "mlp-block"):
        chosen.append(
            (
                f"MLP block (width {width})",
                "embed_dim",
                ToySettingConfig(setting="mlp-block", n_hidden=width, embed_dim=1, **common),
            )
        )
    return [
        (f"{label}, {name}", axis, replace(config, importance_decay=factor))
        for label, axis, config in chosen
        for name, factor in (("uniform importance", 1.0), (f"importance {decay:g}^i", decay))
    ]


def reconstruction_limit_panels(
    *,
    n_features: int = 40,
    n_points: int = 1000,
    sparsities: Sequence[float] = (0.5, 0.7, 0.8, 0.9, 0.95, 0.98),
    sizes: Sequence[int] = (1, 2, 4, 8, 16, 32),
    decay: float = 0.9,
    mlp_hidden: int | None = None,
    steps: int = 1000,
    lr: float = 1e-2,
    n_test: int = 1000,
    settings: str = "both",
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> list[tuple[str, ReconstructionGrid]]:
    """The panels of the reconstruction-limits figure: sparsity × width grids.

    Bottleneck (tied ReLU-output model, width = hidden size m) and MLP block (fixed random
    embedding into d dimensions, width = d, MLP of ``mlp_hidden`` = 2n units by default), each
    with uniform importance and with importance ``decay**i``
    (docs/memorisation.md#limits-of-reconstruction).
    ``progress(done, total)`` is called after every trained cell.
    """
    check_choice("settings", settings, ("both", "tms", "mlp-block"))
    common = dict(
        n_features=n_features,
        n_points=n_points,
        batch_size=None,
        steps=steps,
        lr=lr,
        n_test=n_test,
        seed=seed,
    )
    bases = _panel_bases(settings, common, n_features, mlp_hidden, decay)
    total = len(bases) * len(sparsities) * len(sizes)
    panels = []
    with _one_blas_thread():  # tiny matrices: BLAS threads only add overhead
        for index, (title, axis, base) in enumerate(bases):
            offset = index * len(sparsities) * len(sizes)
            report = (
                None
                if progress is None
                else (lambda done, _total, offset=offset: progress(offset + done, total))
            )
            panels.append(
                (
                    title,
                    reconstruction_grid(base, "sparsity", sparsities, axis, sizes, progress=report),
                )
            )
    return panels


def reconstruction_bound_curves(
    n_features: int, sparsities: Sequence[float]
) -> dict[str, list[float]]:
    """The compressed-sensing widths per sparsity (docs/memorisation.md#limits-of-reconstruction):
    m = 2k and the ℓ1 threshold."""
    bounds = [sparse_recovery_bounds(n_features, sparsity) for sparsity in sparsities]
    return {
        "m = 2k (any decoder)": [bound["uniqueness"] for bound in bounds],
        "ℓ1: m = 2k ln(n/m)": [bound["l1"] for bound in bounds],
    }


def save_reconstruction_grids(
    path: str | Path, panels: Sequence[tuple[str, Any]], curves: Mapping[str, Sequence[float]]
) -> None:
    """Write panels (and bound curves) as JSON atomically; read back with
    :func:`load_reconstruction_grids`."""

    atomic_write_text(
        path,
        to_json(
            {
                "panels": [{"title": title, "grid": grid} for title, grid in panels],
                "bounds": dict(curves),
            }
        ),
    )


def load_reconstruction_grids(path: str | Path) -> list[tuple[str, ReconstructionGrid]]:
    """The ``(title, grid)`` panels of a ``toyforge figure reconstruction-limits --data`` file.

    Raises CorruptFile when the file is not one.
    """

    target = Path(path)
    try:
        panels = []
        for panel in json.loads(target.read_text())["panels"]:
            values = dict(panel["grid"])
            values["base"] = from_dict(ToySettingConfig, values["base"])
            for name in ("x_values", "y_values"):
                values[name] = tuple(float(v) for v in values[name])
            for name in ("relative_loss", "relative_stderr", "accuracy", "late_improvement"):
                if values.get(name) is not None:
                    values[name] = np.asarray(values[name], dtype=np.float64)
            panels.append((str(panel["title"]), ReconstructionGrid(**values)))
    except (ValueError, KeyError, TypeError, InvalidParameter) as error:
        raise CorruptFile(f"{target}: {error}") from error
    return panels


def _late_improvement(result: SettingResult) -> float:
    """(train loss at 3/4 of the run − final train loss) / baseline."""
    losses = np.asarray(result.train.history.train_loss, dtype=np.float64)
    if losses.size < 4 or result.baseline <= 0:
        return math.nan
    return float((losses[(3 * losses.size) // 4] - losses[-1]) / result.baseline)
