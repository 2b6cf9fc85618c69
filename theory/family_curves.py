"""Loss against ratio for every solution family at one feature probability (figure data).

docs/solution_families.md#figures. The envelope and the single-family curves it is made of:
the Persian rug ``L_sym(r)``, its time-sharing envelope, the pair rug (``r <= 1/2``) and the
polytope blocks as points ``(d / k, L)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toyforge.core.validate import check_probability
from toyforge.theory.families import EQUIVALENT, FAMILIES, dropped_loss, family_optimum
from toyforge.theory.predict import predict_grid
from toyforge.theory.structured_rug import pair_rug_optimum

__all__ = ["FamilyCurves", "family_curves"]


@dataclass(frozen=True, kw_only=True, slots=True)
class FamilyCurves:
    """Curves over ``ratios`` at one ``feature_prob`` (arrays of the length of ``ratios``).

    ``pair_rug`` is NaN above 1/2; ``polytopes`` maps a family name to
    ``(dims_per_feature, loss)``; ``dropped`` is ``p/3 - p^2/4``.
    """

    feature_prob: float
    ratios: np.ndarray
    envelope: np.ndarray
    symmetric: np.ndarray
    time_sharing: np.ndarray
    pair_rug: np.ndarray
    polytopes: dict[str, tuple[float, float]]
    dropped: float


def family_curves(ratios: np.ndarray, feature_prob: float) -> FamilyCurves:
    """Every family's loss against the ratio at ``feature_prob`` (see :class:`FamilyCurves`)."""
    p = check_probability("feature_prob", feature_prob)
    grid = predict_grid(ratios, [p], bounds=False)
    r = grid.ratios
    pair = np.full(r.size, np.nan)
    low = r <= 0.5
    if np.any(low):
        pair[low] = pair_rug_optimum(r[low], p).loss
    polytopes = {
        name: (fam.dims_per_feature, float(family_optimum(name, p).loss[0]))
        for name, fam in FAMILIES.items()
        if name not in EQUIVALENT
    }
    return FamilyCurves(
        feature_prob=p,
        ratios=r,
        envelope=grid.envelope_loss[:, 0],
        symmetric=grid.symmetric_loss[:, 0],
        time_sharing=grid.loss[:, 0],
        pair_rug=pair,
        polytopes=polytopes,
        dropped=float(dropped_loss(p)),
    )
