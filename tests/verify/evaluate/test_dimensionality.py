"""Feature and data-point dimensionalities against their sticky values and a brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from toyforge.core.errors import InvalidParameter
from toyforge.verify.evaluate.dimensionality import (
    data_dimensionality,
    dimensions_per_feature,
    feature_dimensionality,
    feature_interference,
    max_data_dimensionality,
)


def _polygon(n_vertices, radius=1.0):
    angles = 2 * math.pi * np.arange(n_vertices) / n_vertices
    return radius * np.stack([np.cos(angles), np.sin(angles)])


@pytest.mark.parametrize(("n_vertices", "expected"), [(2, 0.5), (3, 2 / 3), (5, 0.4)])
def test_regular_polygons_have_sticky_dimensionality(n_vertices, expected):
    # TMS: antipodal pair 1/2, triangle 2/3, pentagon 2/5 (docs/memorisation.md#dimensionality)
    W = np.concatenate([_polygon(n_vertices, 0.9), np.zeros((2, 3))], axis=1)
    dims = feature_dimensionality(W)
    np.testing.assert_allclose(dims[:n_vertices], expected, rtol=1e-12)
    np.testing.assert_array_equal(dims[n_vertices:], 0.0)
    # data-point dimensionality of a T-gon of hidden vectors is 2/T for T >= 3 (Henighan et
    # al. 2023); an antipodal pair spans one dimension: 1/2 each
    data_expected = 2 / n_vertices if n_vertices >= 3 else 0.5
    np.testing.assert_allclose(
        data_dimensionality(_polygon(n_vertices).T), data_expected, rtol=1e-12
    )
    np.testing.assert_allclose(
        max_data_dimensionality(_polygon(n_vertices).T), data_expected, rtol=1e-12
    )


def test_orthogonal_features_and_interference():
    W = np.eye(3, 4)
    np.testing.assert_allclose(feature_dimensionality(W), [1, 1, 1, 0])
    np.testing.assert_allclose(feature_interference(W), 0.0, atol=1e-15)
    assert dimensions_per_feature(W) == pytest.approx(1.0)
    W2 = np.array([[1.0, 1.0]])
    np.testing.assert_allclose(feature_interference(W2), [1.0, 1.0])


@given(st.integers(2, 30), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_max_data_dimensionality_is_the_sup_over_directions(n_points, n_hidden, seed):
    rng = np.random.default_rng(seed)
    H = rng.normal(size=(n_points, n_hidden))
    leverage = max_data_dimensionality(H)
    assert leverage.sum() == pytest.approx(np.linalg.matrix_rank(H), abs=1e-9)
    assert np.all(leverage >= data_dimensionality(H) - 1e-12)
    # brute force: the ratio at random directions never beats D*, and the maximiser hits it
    directions = rng.normal(size=(2000, n_hidden))
    ratios = (directions @ H.T) ** 2 / np.sum((directions @ H.T) ** 2, axis=1, keepdims=True)
    assert np.all(ratios.max(axis=0) <= leverage + 1e-9)
    best = np.linalg.solve(H.T @ H, H[0]) if np.linalg.matrix_rank(H) == n_hidden else None
    if best is not None:
        ratio = (best @ H[0]) ** 2 / np.sum((H @ best) ** 2)
        assert ratio == pytest.approx(leverage[0], rel=1e-9)


def test_dimensionality_refuses_bad_input():
    with pytest.raises(InvalidParameter, match="W"):
        feature_dimensionality(np.zeros(3))
    with pytest.raises(InvalidParameter, match="hidden"):
        max_data_dimensionality(np.array([[np.nan, 1.0]]))
