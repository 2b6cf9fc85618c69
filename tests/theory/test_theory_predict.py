"""predict / predict_grid: domain, extremes, consistency, serialisation."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

from toyforge.core.errors import InvalidParameter
from toyforge.theory import Prediction, PredictionGrid, predict, predict_grid

_KEYS = (
    "loss",
    "scale",
    "bias",
    "regime",
    "symmetric_loss",
    "time_sharing_loss",
    "linear_loss",
    "mmse_loss",
    "jumprelu_loss",
    "asymptotic_loss",
    "ratio",
    "feature_prob",
    "c",
    "sigma",
    "time_sharing_fraction",
)


@pytest.mark.parametrize(
    ("ratio", "p"),
    [
        (0.0, 0.1),
        (-0.1, 0.1),
        (1.01, 0.1),
        (0.5, 0.0),
        (0.5, 1.5),
        (math.nan, 0.1),
        (0.5, math.inf),
        ("0.5", 0.1),
        (True, 0.1),
    ],
)
def test_invalid_inputs_raise(ratio, p):
    with pytest.raises(InvalidParameter):
        predict(ratio, p)


def test_invalid_grid_inputs_raise():
    with pytest.raises(InvalidParameter, match="ratios"):
        predict_grid([0.1, 1.2], [0.1])
    with pytest.raises(InvalidParameter, match="feature_probs"):
        predict_grid([0.1], [])
    with pytest.raises(InvalidParameter, match="feature_probs"):
        predict_grid([0.1], [[0.1]])


@pytest.mark.parametrize(
    ("ratio", "p"),
    [
        (1e-4, 1e-8),
        (1e-4, 1.0),
        (1.0, 1e-8),
        (1.0, 1.0),
        (0.999999, 1e-8),
        (1e-4, 0.5),
        (0.5, 1e-300),
        (1 - 1e-15, 0.3),
    ],
)
def test_extreme_inputs_are_finite_without_warnings(ratio, p):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", divide="raise", invalid="raise"):
            prediction = predict(ratio, p)
    for value in prediction.to_dict().values():
        if isinstance(value, float):
            assert math.isfinite(value)
    assert prediction.loss >= 0


def test_ratio_one_is_exact():
    prediction = predict(1.0, 0.3)
    assert prediction.loss == 0.0 and prediction.scale == 1.0 and prediction.bias == 0.0


def test_prediction_is_frozen_and_serialisable():
    prediction = predict(0.25, 0.05)
    assert isinstance(prediction, Prediction)
    with pytest.raises(AttributeError):
        prediction.loss = 1.0  # type: ignore[misc]
    data = json.loads(json.dumps(prediction.to_dict()))
    for key in _KEYS:
        assert key in data
    assert prediction.bias == pytest.approx(prediction.scale * prediction.c)
    assert prediction.sigma == pytest.approx(math.sqrt(3 * (0.05 / 3 - 0.05**2 / 4)))


def test_grid_matches_pointwise_predictions():
    ratios = np.array([0.002001, 0.05, 0.3, 0.7, 1.0])
    probs = np.array([1e-4, 0.01, 0.2, 0.8])
    grid = predict_grid(ratios, probs)
    assert isinstance(grid, PredictionGrid)
    assert grid.loss.shape == (5, 4) and grid.regime.shape == (5, 4)
    for i, ratio in enumerate(ratios):
        for j, p in enumerate(probs):
            point = predict(ratio, p)
            assert grid.symmetric_loss[i, j] == pytest.approx(point.symmetric_loss, rel=1e-12)
            assert grid.scale[i, j] == pytest.approx(point.scale, rel=1e-6)
            assert grid.loss[i, j] == pytest.approx(point.loss, rel=1e-4)
            assert grid.mmse_loss[i, j] == pytest.approx(point.mmse_loss, rel=1e-12)
    rows = grid.to_rows()
    assert len(rows) == 20 and rows[4]["ratio"] == ratios[1] and rows[4]["feature_prob"] == 1e-4
