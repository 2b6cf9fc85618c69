"""Fast grid paths: JumpReLU threshold search vs brute force, grouped time-sharing refinement."""

from __future__ import annotations

import numpy as np
import pytest

from toyforge.theory import (
    interference_sigma,
    jumprelu_loss,
    predict,
    predict_grid,
    symmetric_optimum,
)
from toyforge.theory.baselines import _jump_objective
from toyforge.theory.timesharing import best_on_grid


@pytest.mark.parametrize(
    ("ratio", "p"),
    [(0.0192342, 0.00146374), (0.3399161, 0.0441893), (0.1, 1e-3), (0.9969, 2.8e-8), (0.5, 0.3)],
)
def test_jumprelu_matches_brute_force_threshold_scan(ratio, p):
    """Parabolic search == the minimum of J over 200001 thresholds (incl. two-minima points)."""
    sigma = float(interference_sigma(ratio, p))
    theta = np.linspace(-1.0 - 6 * sigma, 1.0 + 12 * sigma, 200_001)
    brute = float(
        np.min(_jump_objective(theta, np.full_like(theta, sigma), np.full_like(theta, p)))
    )
    brute = min(brute, (1 - ratio) * (p / 3 - p * p / 4))
    found = float(jumprelu_loss(ratio, p))
    assert found <= brute * (1 + 1e-9)
    assert found == pytest.approx(brute, rel=1e-6)


def test_grid_jumprelu_equals_pointwise():
    ratios, probs = np.array([0.01, 0.2, 0.75]), np.array([1e-5, 0.003, 0.1, 0.6])
    grid = predict_grid(ratios, probs)
    for i, ratio in enumerate(ratios):
        for j, p in enumerate(probs):
            assert grid.jumprelu_loss[i, j] == pytest.approx(
                predict(ratio, p).jumprelu_loss, rel=1e-12
            )


def test_grouped_time_sharing_refinement_equals_per_point():
    """best_on_grid with shared p columns (one exact refinement per group) == per point."""
    r_axis = np.geomspace(0.003, 0.9, 23)
    p_axis = np.array([1e-4, 0.004, 0.03, 0.1, 0.35, 0.8])
    served_axis = np.geomspace(r_axis.min(), 1.0, 40)
    served_loss = symmetric_optimum(served_axis[:, None], p_axis[None, :]).loss
    ratio, p = (a.reshape(-1) for a in np.meshgrid(r_axis, p_axis, indexing="ij"))
    own = symmetric_optimum(ratio, p).loss
    columns = np.tile(np.arange(p_axis.size), r_axis.size)
    served = np.concatenate(
        [ratio[:, None], np.broadcast_to(served_axis, (ratio.size, 40))], axis=1
    )
    values = np.concatenate([own[:, None], served_loss.T[columns]], axis=1)
    variance = p / 3 - p * p / 4
    objective = variance[:, None] + ratio[:, None] * (values - variance[:, None]) / served
    objective = np.where(served >= ratio[:, None], objective, np.inf)
    single = best_on_grid(served, objective, ratio, p, own)
    grouped = best_on_grid(served, objective, ratio, p, own, columns)
    assert np.any(single.served_fraction < 1)  # time sharing happens somewhere
    np.testing.assert_allclose(grouped.loss, single.loss, rtol=1e-12, atol=0)
    np.testing.assert_allclose(grouped.served_ratio, single.served_ratio, rtol=1e-9)
    # the reported loss is the exact loss of the reported (feasible) served ratio
    gained = grouped.served_fraction < 1
    exact = (
        variance
        + ratio
        * (symmetric_optimum(grouped.served_ratio, p).loss - variance)
        / grouped.served_ratio
    )
    np.testing.assert_allclose(grouped.loss[gained], exact[gained], rtol=1e-12)
    assert np.all(grouped.served_ratio >= ratio)


def test_grid_without_bounds_changes_nothing_else():
    from toyforge.theory import predict_grid

    ratios, probs = [0.05, 0.3, 0.9], [1e-4, 0.02, 0.5]
    full = predict_grid(ratios, probs)
    lean = predict_grid(ratios, probs, bounds=False)
    assert np.isnan(lean.mmse_loss).all() and np.isnan(lean.jumprelu_loss).all()
    for name in (
        "loss",
        "symmetric_loss",
        "time_sharing_loss",
        "scale",
        "bias",
        "c",
        "sigma",
        "linear_loss",
        "asymptotic_loss",
    ):
        np.testing.assert_array_equal(getattr(lean, name), getattr(full, name), err_msg=name)
    assert lean.regime.tolist() == full.regime.tolist()
