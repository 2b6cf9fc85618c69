"""The lower convex hull of solution points (neurons per feature, loss per feature).

docs/solution_families.md#the-envelope. Block-diagonal mixtures of solutions are always
constructible (each block uses its own neurons), so every point on a segment between two
solution points is achievable; the best loss at a given number of neurons per feature is the
lower convex hull of the points. One implementation, used by the identical-feature envelope
(:mod:`toyforge.theory.envelope`) and by the feature-class allocation
(:mod:`toyforge.theory.feature_classes`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["lower_hull"]


def lower_hull(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the lower convex hull's vertices, by increasing ``x``.

    Andrew's monotone chain: points sorted by ``x`` (ties: lowest ``y`` first, the others
    skipped); a point on the straight line between its neighbours is not a vertex.

    Parameters
    ----------
    x, y : ndarray
        1-D, same length, finite.

    Returns
    -------
    ndarray of int
        Vertex indices into ``x`` and ``y``; the first has the smallest ``x`` and the last the
        largest.
    """
    hull: list[int] = []
    for i in np.lexsort((y, x)):
        if hull and x[hull[-1]] == x[i]:
            continue
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            if (x[b] - x[a]) * (y[i] - y[a]) - (y[b] - y[a]) * (x[i] - x[a]) <= 0:
                hull.pop()
            else:
                break
        hull.append(int(i))
    return np.array(hull, dtype=int)
