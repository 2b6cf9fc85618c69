"""Dictionary constructions: exact under their conditions (hypothesis), refused outside them."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from toyforge.constructions.dictionary import (
    TwoHiddenLayerMLP,
    circle_unembedding,
    circle_unembedding_loss,
    lookup_table,
    polygon_memorizer,
    polygon_weight_norm,
    read_dictionary,
    slab_memorizer,
    sqrt_memorizer,
)
from toyforge.constructions.models import ARCHITECTURES, MLP
from toyforge.core.errors import InvalidParameter

seeds = st.integers(0, 2**32 - 1)


def _sparse_unit_points(rng, n_points, n_features, active=4):
    points = np.zeros((n_points, n_features))
    for row in points:
        chosen = rng.choice(n_features, size=active, replace=False)
        row[chosen] = rng.random(active) + 0.05
    return points / np.linalg.norm(points, axis=1, keepdims=True)


def _disjoint_unit_points(rng, n_points, per_point=3):
    points = np.zeros((n_points, n_points * per_point))
    order = rng.permutation(n_points * per_point)
    for k in range(n_points):
        values = rng.random(per_point) + 0.01
        points[k, order[k * per_point : (k + 1) * per_point]] = values / np.linalg.norm(values)
    return points


# --------------------------------------------------------------------------- lookup table


@given(st.integers(1, 60), st.integers(1, 5), st.floats(0.0, 0.95), seeds)
def test_lookup_table_recalls_every_value(n_keys, n_outputs, margin, seed):
    rng = np.random.default_rng(seed)
    keys = _sparse_unit_points(rng, n_keys, 40)
    values = rng.normal(size=(n_keys, n_outputs))
    model = lookup_table(keys, values, margin=margin)
    assert model.n_hidden == n_keys
    recalled = model.forward(keys)
    # exactness up to rounding: each output is one product a_k * v_k
    scale = 1.0 + np.abs(values).max() / (1.0 - margin)
    np.testing.assert_allclose(recalled, values, rtol=0, atol=1e-12 * scale)


@given(st.integers(2, 30), seeds)
def test_lookup_table_arbitrary_norm_keys(n_keys, seed):
    rng = np.random.default_rng(seed)
    keys = rng.normal(size=(n_keys, 50)) * rng.uniform(0.5, 2.0, size=(n_keys, 1))
    values = rng.normal(size=n_keys)
    norms = np.linalg.norm(keys, axis=1)
    overlap = (keys / norms[:, None]) @ keys.T
    np.fill_diagonal(overlap, -np.inf)
    if np.any(overlap.max(axis=1) >= norms):
        with pytest.raises(InvalidParameter, match="keys"):
            lookup_table(keys, values)
    else:
        np.testing.assert_allclose(
            lookup_table(keys, values).forward(keys)[:, 0], values, atol=1e-11
        )


def test_lookup_table_refuses_parallel_keys_naming_them():
    keys = np.eye(4)
    keys[3] = 2.0 * keys[1]  # key 3 parallel to key 1
    keys = keys / np.linalg.norm(keys, axis=1, keepdims=True)
    with pytest.raises(InvalidParameter, match=r"keys 1 and 3"):
        lookup_table(keys, np.arange(4.0))
    with pytest.raises(InvalidParameter, match="zero"):
        lookup_table(np.zeros((2, 3)), np.ones(2))
    with pytest.raises(InvalidParameter, match="margin"):
        lookup_table(np.eye(3), np.ones(3), margin=1.0)


@given(st.integers(1, 40), st.integers(1, 4), seeds)
def test_read_dictionary_recovers_built_table(n_keys, n_outputs, seed):
    rng = np.random.default_rng(seed)
    keys = _sparse_unit_points(rng, n_keys, 30)
    values = rng.normal(size=(n_keys, n_outputs))
    table = read_dictionary(lookup_table(keys, values), keys)
    assert table.coverage == 1.0
    assert table.explained == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_array_equal(table.inputs, np.arange(n_keys))
    np.testing.assert_array_equal(table.neurons, np.arange(n_keys))
    np.testing.assert_allclose(table.keys, keys, atol=1e-14)
    np.testing.assert_allclose(table.values, values, atol=1e-11 * (1 + np.abs(values).max()))


def test_read_dictionary_on_a_non_table_reports_low_explanation():
    # identity through ReLU: every input uses several neurons, so nothing is a table entry
    model = MLP(W1=np.eye(5), b1=np.zeros(5), W2=np.eye(5), b2=np.zeros(5))
    inputs = np.full((3, 5), 0.2) + np.eye(3, 5) * 0.1
    table = read_dictionary(model, inputs)
    assert table.coverage == 0.0
    assert table.explained == pytest.approx(0.0)


# --------------------------------------------------------------------------- polygon memoriser


@given(st.integers(1, 100), seeds)
def test_polygon_memorizer_exact_with_formula_norm(n_points, seed):
    rng = np.random.default_rng(seed)
    points = _disjoint_unit_points(rng, n_points)
    model = polygon_memorizer(points.shape[1], points)
    loss = np.mean(np.sum((model.forward(points) - points) ** 2, axis=1))
    assert loss <= 1e-20
    assert np.linalg.norm(model.W_in) == pytest.approx(polygon_weight_norm(n_points), rel=1e-12)
    # the hidden vectors form a regular T-gon of radius (1 - tau)^(-1/2)
    hidden = points @ model.W_in.T
    radius = np.linalg.norm(hidden, axis=1)
    np.testing.assert_allclose(radius, radius[0], rtol=1e-12)


def test_polygon_weight_norm_spec_values():
    # docs/memorisation.md#t-gon-memoriser
    for n_points, expected in ((3, 1.732), (5, 2.690), (6, 3.464), (10, 7.236), (20, 20.21)):
        assert polygon_weight_norm(n_points) == pytest.approx(expected, abs=6e-3)
    assert polygon_weight_norm(200) == pytest.approx(200**1.5 / (math.sqrt(2) * math.pi), rel=1e-3)


def test_polygon_memorizer_refuses_shared_features():
    points = np.array([[0.6, 0.8, 0.0], [0.0, 0.6, 0.8]])
    with pytest.raises(InvalidParameter, match="points 0 and 1 share feature 1"):
        polygon_memorizer(3, points)
    with pytest.raises(InvalidParameter, match="norm"):
        polygon_memorizer(3, np.array([[1.0, 1.0, 0.0]]))
    with pytest.raises(InvalidParameter, match="negative"):
        polygon_memorizer(2, np.array([[-1.0, 0.0]]))


# --------------------------------------------------------------------------- few-neuron nets


@given(st.integers(1, 80), st.integers(1, 12), seeds)
def test_slab_memorizer_fits_real_labels(n_points, dim, seed):
    rng = np.random.default_rng(seed)
    points = rng.normal(size=(n_points, dim))
    labels = rng.normal(size=n_points)
    try:
        model = slab_memorizer(points, labels)
    except InvalidParameter:  # margin underflow: refused, never silently wrong
        return
    assert model.n_hidden == 4 * math.ceil(n_points / dim)
    np.testing.assert_allclose(model.forward(points)[:, 0], labels, atol=1e-6)


def test_slab_memorizer_refuses_degenerate_groups():
    points = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])  # first group rank 1
    with pytest.raises(InvalidParameter, match="general position"):
        slab_memorizer(points, np.ones(3))
    # point 2 lies on group 0's hyperplane w.x = 1 (w = (1, 1))
    points = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    with pytest.raises(InvalidParameter, match="point 2 lies on the hyperplane"):
        slab_memorizer(points, np.ones(3))


@given(st.integers(1, 150), st.integers(1, 6), seeds)
def test_sqrt_memorizer_fits_real_labels(n_points, dim, seed):
    rng = np.random.default_rng(seed)
    points = rng.normal(size=(n_points, dim))
    labels = rng.normal(size=n_points)
    model = sqrt_memorizer(points, labels, seed=seed)
    side = math.ceil(math.sqrt(n_points))
    groups = math.ceil(n_points / side)
    assert model.n_hidden == (2 * groups - 1, 2 * side)
    np.testing.assert_allclose(model.forward(points)[:, 0], labels, atol=1e-6)
    assert ARCHITECTURES["two-hidden-layer-mlp"] is TwoHiddenLayerMLP
    rebuilt = TwoHiddenLayerMLP.from_arrays(model.to_arrays(), model.hyperparameters())
    np.testing.assert_array_equal(rebuilt.forward(points), model.forward(points))


def test_sqrt_memorizer_refuses_duplicate_points():
    points = np.array([[0.0, 1.0], [1.0, 2.0], [0.0, 1.0]])
    with pytest.raises(InvalidParameter, match="points 0 and 2 are equal"):
        sqrt_memorizer(points, np.arange(3.0))


# --------------------------------------------------------------------------- CE circle


@given(st.integers(1, 400), st.floats(0.1, 1e4))
def test_circle_unembedding_argmax_and_loss(n_classes, scale):
    model = circle_unembedding(n_classes, scale)
    logits = model.forward(np.eye(n_classes))
    top = np.max(logits, axis=1, keepdims=True)
    log_partition = np.log(np.sum(np.exp(logits - top), axis=1)) + top[:, 0]
    cross_entropy = log_partition - np.diag(logits)
    # the diagonal logit is the unique maximum (gap s(1 - cos 2pi/C) > 0 for C >= 2)
    assert np.all(np.argmax(logits, axis=1) == np.arange(n_classes))
    expected = np.log1p(
        sum(
            math.exp(-scale * (1 - math.cos(2 * math.pi * k / n_classes)))
            for k in range(1, n_classes)
        )
    )
    np.testing.assert_allclose(cross_entropy, expected, rtol=1e-9, atol=1e-12)
    assert circle_unembedding_loss(n_classes, scale) == pytest.approx(
        expected, rel=1e-12, abs=1e-300
    )


def test_circle_unembedding_spec_values():
    # docs/memorisation.md#circle-unembedding (the values quoted there)
    assert circle_unembedding_loss(100, 1000) == pytest.approx(0.24589, abs=1e-5)
    assert circle_unembedding_loss(4, 10) == pytest.approx(9.08e-5, rel=1e-3)
    assert circle_unembedding_loss(16, 10) == pytest.approx(0.716, abs=1e-3)
    assert circle_unembedding_loss(1000, 1e5) == pytest.approx(0.2457, abs=1e-4)
    with pytest.raises(InvalidParameter, match="scale"):
        circle_unembedding(10, 0.0)
