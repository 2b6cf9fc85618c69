"""The one lower convex hull (toyforge.theory.solution_hull.lower_hull) against brute force."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from toyforge.theory.solution_hull import lower_hull


def _two_point_minimum(x: np.ndarray, y: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Minimum over every pair ``x_a <= t <= x_b`` of the mixture of the two points (a
    single point when ``x_a = t``): the lower convex hull's value at ``t``, by O(N^2) numpy."""
    t = at[:, None, None]
    xa, xb = x[None, :, None], x[None, None, :]
    ya, yb = y[None, :, None], y[None, None, :]
    width = np.where(xb > xa, xb - xa, 1.0)
    share = (xb - t) / width
    mixture = share * ya + (1 - share) * yb
    valid = (xa <= t) & (t <= xb) & (xb > xa)
    best = np.where(valid, mixture, np.inf).min(axis=(1, 2))
    alone = np.where(x[None, :] == at[:, None], y[None, :], np.inf).min(axis=1)
    return np.minimum(best, alone)


# x on a coarse lattice so that ties and collinear triples occur
_points = st.lists(
    st.tuples(st.integers(0, 24), st.floats(-1.0, 1.0, allow_subnormal=False)),
    min_size=1,
    max_size=40,
)


@given(_points, st.lists(st.floats(0.0, 1.0), min_size=1, max_size=20))
def test_hull_value_is_the_best_two_point_mixture(points, where):
    x = np.array([a / 24 for a, _ in points])
    y = np.array([b for _, b in points])
    hull = lower_hull(x, y)
    hx, hy = x[hull], y[hull]
    assert np.all(np.diff(hx) > 0)
    assert hx[0] == x.min() and hx[-1] == x.max()
    at = np.concatenate([x, x.min() + np.array(where) * (x.max() - x.min())])
    expected = _two_point_minimum(x, y, at)
    np.testing.assert_allclose(np.interp(at, hx, hy), expected, rtol=0, atol=1e-12)


def test_collinear_points_are_not_vertices():
    x = np.array([0.0, 0.25, 0.5, 1.0, 0.5])
    y = np.array([1.0, 0.75, 0.5, 0.0, 0.9])
    np.testing.assert_array_equal(lower_hull(x, y), [0, 3])
