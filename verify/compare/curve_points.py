"""Loss curves assembled from points computed one at a time (e.g. by a resumable sweep).

:func:`toyforge.verify.compare.rug_curves.loss_curves` computes the theory curves and every
Monte Carlo point in one call. A caller that computes the points separately (the report runs
each point as a cached sweep task) assembles the same :class:`LossCurves` with
:func:`curves_from_points`: the theory curves on the grid of :func:`loss_curve_grid` plus the
given points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from toyforge.core.validate import check_choice
from toyforge.verify.compare.persian_rug import large_n_losses
from toyforge.verify.compare.rug_curves import LossCurves

__all__ = ["POINT_FIELDS", "curves_from_points", "loss_curve_grid"]

POINT_FIELDS = (
    "at",
    "rug_loss",
    "rug_stderr",
    "finite_loss",
    "trained_loss",
    "trained_stderr",
)
"""What each point carries: its axis value, rug MC loss ± SE, finite-N theory, trained ± SE."""


def loss_curve_grid(axis: str, points: Sequence[float], grid_size: int = 120) -> np.ndarray:
    """The dense axis values of the theory curves that ``loss_curves`` draws at ``points``.

    Geometric from ``min(points, 1e-3)`` (feature_prob) or ``min(points, 1e-2)`` (ratio) up to
    1 (ratio) or ``max(points, 0.8)`` (feature_prob).
    """
    axis = check_choice("axis", axis, ("ratio", "feature_prob"))
    values = np.asarray(points, dtype=float)
    low = min(values.min(), 1e-3) if axis == "feature_prob" else min(values.min(), 1e-2)
    return np.geomspace(low, 1.0 if axis == "ratio" else max(values.max(), 0.8), grid_size)


def curves_from_points(
    axis: str,
    fixed: float,
    n_features: int,
    points: Sequence[float],
    rows: Sequence[Mapping[str, Any]],
    grid_size: int = 120,
) -> LossCurves:
    """:class:`LossCurves` from separately computed points and the large-N theory.

    Parameters
    ----------
    axis : {"ratio", "feature_prob"}
    fixed : float
        The other parameter.
    n_features : int
        Size of the rugs the points were computed at.
    points : sequence of float
        The requested axis values (they set the theory grid, as in ``loss_curves``).
    rows : sequence of mappings
        One per point with the keys of :data:`POINT_FIELDS`; ``None`` for a missing value
        (e.g. untrained) becomes nan.
    """
    grid = loss_curve_grid(axis, points, grid_size)
    theory = large_n_losses(*((grid, fixed) if axis == "ratio" else (fixed, grid)))

    def column(name: str) -> np.ndarray:
        return np.array(
            [np.nan if row.get(name) is None else row[name] for row in rows], dtype=float
        )

    return LossCurves(
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
