"""TMS importance sweep and loss-vs-width experiment on tiny configs (shapes, determinism,
geometry recomputed by plain numpy, slopes of exact power laws)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from toyforge.core.errors import InvalidParameter
from toyforge.theory.feature_classes import binned_allocation
from toyforge.verify.experiments.tms_importance import (
    STICKY_VALUES,
    TmsImportanceConfig,
    run_tms_importance,
    sticky_fractions,
)
from toyforge.verify.experiments.width_scaling import (
    WidthScalingConfig,
    log_log_slope,
    run_width_scaling,
    theory_curve,
)


@pytest.fixture(scope="module")
def tiny_tms():
    config = TmsImportanceConfig(
        n_features=6, n_hidden=2, feature_probs=(0.5, 0.1), steps=40, restarts=2, n_test=200
    )
    return config, run_tms_importance(config)


@pytest.mark.slow
def test_tms_geometry_matches_plain_numpy(tiny_tms):
    config, result = tiny_tms
    assert result.weights.shape == (2, 2, 6)
    for k, W in enumerate(result.weights):
        norms = np.sqrt((W**2).sum(axis=0))
        np.testing.assert_allclose(result.norms[k], norms, rtol=1e-12)
        unit = W / norms
        overlaps = (unit.T @ W) ** 2  # (W^_i . W_j)^2, row i
        np.testing.assert_allclose(
            result.dimensionality[k], norms**2 / overlaps.sum(axis=1), rtol=1e-10
        )
        np.testing.assert_allclose(
            result.interference[k], overlaps.sum(axis=1) - norms**2, rtol=1e-9, atol=1e-12
        )
        assert result.dims_per_feature[k] == pytest.approx(2 / (W**2).sum(), rel=1e-12)
    assert len(result.test_loss) == 2 and all(e.stderr > 0 for e in result.test_loss)
    assert result.seeds[0] in (0, 1) and result.seeds[1] in (1000, 1001)


@pytest.mark.slow
def test_tms_same_config_same_bits(tiny_tms):
    config, result = tiny_tms
    again = run_tms_importance(config)
    np.testing.assert_array_equal(again.weights, result.weights)


def test_sticky_fractions_by_hand():
    got = sticky_fractions(np.array([1.0, 0.51, 0.4, 0.2, 0.0]))
    assert got[1.0] == 0.2 and got[0.5] == 0.2 and got[0.4] == 0.2 and got[0.0] == 0.2
    nan_key = next(k for k in got if isinstance(k, float) and math.isnan(k))
    assert got[nan_key] == 0.2
    assert sum(got.values()) == pytest.approx(1.0)
    assert len(STICKY_VALUES) == 7
    with pytest.raises(InvalidParameter):
        sticky_fractions(np.array([]))


def test_log_log_slope_of_exact_power_laws():
    m = np.array([4, 8, 16, 32])
    assert log_log_slope(m, 3.0 / m) == pytest.approx(-1.0, abs=1e-12)
    assert log_log_slope(m, 0.2 * m**-0.7) == pytest.approx(-0.7, abs=1e-12)
    with pytest.raises(InvalidParameter):
        log_log_slope(m, np.array([1.0, 0.0, 1.0, 1.0]))


def test_width_scaling_tiny_run_and_theory_curve():
    config = WidthScalingConfig(
        n_features=32,
        feature_probs="zipf:1.2:0.4:0.01",
        widths=(2, 8),
        steps=20,
        batch_size=64,
        n_bins=4,
        eval_samples=256,
    )
    result = run_width_scaling(config)
    assert len(result.trained) == 2 and all(e.value > 0 for e in result.trained)
    law = lambda t: 0.4 * (1 + t * ((0.4 / 0.01) ** (1 / 1.2) - 1)) ** -1.2  # noqa: E731
    direct = binned_allocation(law, np.ones_like, np.array([2, 8]) / 32, n_bins=4)
    np.testing.assert_allclose(result.theory, [d.loss for d in direct], rtol=1e-12)
    theory, error = theory_curve(config)
    assert np.all(error >= 0) and theory[1] < theory[0]
    assert result.theory_slope == pytest.approx(log_log_slope(np.array([2, 8]), theory), rel=1e-12)


@pytest.mark.parametrize(
    "kwargs",
    [{"feature_probs": "zipf:1.2:2:0.1"}, {"widths": (4,)}, {"widths": (4, 1024)}, {"steps": 0}],
)
def test_width_scaling_config_refuses(kwargs):
    with pytest.raises(InvalidParameter):
        WidthScalingConfig(**kwargs)


@pytest.mark.parametrize(
    "kwargs", [{"feature_probs": (0.0,)}, {"feature_probs": ()}, {"restarts": 0}]
)
def test_tms_config_refuses(kwargs):
    with pytest.raises(InvalidParameter):
        TmsImportanceConfig(**kwargs)


def test_pair_geometry_refuses_an_impossible_joint_law_before_training():
    from toyforge.verify.experiments.correlated_pairs import PairGeometryConfig

    with pytest.raises(InvalidParameter, match="pair correlation"):
        PairGeometryConfig(correlation=-1.0, feature_prob=0.05)


def test_pair_geometry_tiny_run_cosines_by_numpy():
    from toyforge.verify.experiments.correlated_pairs import PairGeometryConfig, train_pair_geometry

    result = train_pair_geometry(
        PairGeometryConfig(correlation=0.5, feature_prob=0.2, steps=10, restarts=2, batch_size=64)
    )
    W = result.weights
    assert W.shape == (2, 4)
    for k in range(2):
        a, b = W[:, 2 * k], W[:, 2 * k + 1]
        expected = a @ b / np.linalg.norm(a) / np.linalg.norm(b)
        assert result.pair_cosines[k] == pytest.approx(expected, rel=1e-12)
    assert result.seed in (0, 1) and result.loss.stderr > 0
