"""Finite-N theory: exact against brute force, against Monte Carlo, and → large N."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import hadamard

from toyforge.constructions.persian_rug import persian_rug
from toyforge.core.errors import InvalidParameter
from toyforge.theory.finite_n import (
    finite_n_loss,
    interference_law,
    offdiagonal_weights,
    predict_finite,
)
from toyforge.theory.large_n_loss import symmetric_optimum
from toyforge.verify.evaluate.rug_monte_carlo import rug_monte_carlo


def _dense_monte_carlo(
    rows: np.ndarray, n: int, p: float, scale: float, bias: float, n_samples: int, seed: int
) -> tuple[float, float]:
    """Independent brute force: dense scipy Hadamard W, dense samples."""
    w_in = hadamard(n)[rows].astype(float)
    matrix = w_in.T @ w_in / rows.size
    rng = np.random.default_rng(seed)
    x = (rng.random((n_samples, n)) < p) * rng.random((n_samples, n))
    per_sample = np.mean((np.maximum(scale * (x @ matrix) + bias, 0) - x) ** 2, axis=1)
    return float(per_sample.mean()), float(per_sample.std(ddof=1) / np.sqrt(n_samples))


@pytest.mark.parametrize(
    ("n", "n_hidden", "p", "scale", "bias"),
    [(16, 4, 0.3, 1.0, -0.2), (32, 8, 0.1, 1.3, -0.35), (8, 2, 0.6, 0.8, 0.05)],
)
def test_exact_method_matches_brute_force_on_tiny_n(
    n: int, n_hidden: int, p: float, scale: float, bias: float
) -> None:
    rows = np.sort(np.random.default_rng(n).choice(n, n_hidden, replace=False))
    exact = finite_n_loss(offdiagonal_weights(rows, n), p, scale, bias)
    value, stderr = _dense_monte_carlo(rows, n, p, scale, bias, 200_000, seed=1)
    assert abs(value - exact) < 4 * stderr  # 4 SE
    gaussian = finite_n_loss(offdiagonal_weights(rows, n), p, scale, bias, method="gaussian")
    assert abs(value - gaussian) > 4 * stderr  # the tiny-n law is far from Gaussian


def test_lattice_refinement_converges() -> None:
    rows = np.sort(np.random.default_rng(0).choice(1024, 102, replace=False))
    weights = offdiagonal_weights(rows, 1024)
    coarse = finite_n_loss(weights, 0.01, 1.5, -0.6, n_points=2**13)
    fine = finite_n_loss(weights, 0.01, 1.5, -0.6, n_points=2**17)
    assert coarse == pytest.approx(fine, rel=1e-6)


def test_interference_law_has_the_exact_moments() -> None:
    model = persian_rug(1024, 0.25, 0.05, 0)
    law = interference_law(model.offdiagonal_weights(), 0.05)
    variance = 0.05 / 3 - 0.05**2 / 4
    assert law.variance == pytest.approx(variance * (1 / model.ratio - 1), rel=1e-9)
    assert law.mean == pytest.approx(model.mean_interference(0.05), abs=1e-12)
    # docs/finite_n.md#why-the-large-n-formula-runs-low: excess kurtosis of nu is about 5.4 / (p n)
    # for Hadamard rows
    assert law.excess_kurtosis == pytest.approx(5.4 / (0.05 * 1024), rel=0.15)


def test_gaussian_limit_reproduces_the_large_n_formula() -> None:
    model = persian_rug(1024, 0.1, 0.01, 0)
    prediction = predict_finite(model, 0.01)
    optimum = symmetric_optimum(model.ratio, 0.01)
    assert prediction.gaussian_loss == pytest.approx(float(optimum.loss), rel=1e-5)


@pytest.mark.slow
def test_finite_n_matches_construction_monte_carlo_at_1024() -> None:
    """n = 1024, p = 0.01: within 3 SE, while the Gaussian formula is off by > 10 %."""
    model = persian_rug(1024, 0.1, 0.01, 0)
    prediction = predict_finite(model, 0.01)
    mc = rug_monte_carlo(model, 0.01, 100_000, seed=2024)
    assert abs(mc.loss - prediction.loss) < 3 * mc.stderr  # 3 SE (SE ≈ 0.2 % of the loss)
    assert prediction.gaussian_loss < 0.9 * mc.loss
    assert abs(mc.loss / prediction.edgeworth_loss - 1) < 0.03
    assert prediction.optimal_loss <= prediction.loss


def test_finite_n_approaches_large_n_as_n_grows() -> None:
    gaps = []
    for exponent in (8, 10, 12, 14):
        model = persian_rug(2**exponent, 0.1, 0.01, 0)
        prediction = predict_finite(model, 0.01, optimize=False)
        gaps.append(prediction.loss / prediction.gaussian_loss - 1)
    assert all(a > b for a, b in zip(gaps, gaps[1:], strict=False))
    assert gaps[0] > 0.2
    assert abs(gaps[-1]) < 0.03


def test_predict_finite_accepts_rows_and_validates() -> None:
    rows = np.array([0, 3, 5, 6])
    prediction = predict_finite(rows, 0.1, n_features=16, optimize=False)
    assert prediction.n_hidden == 4 and prediction.ratio == 0.25
    with pytest.raises(InvalidParameter, match="n_features"):
        predict_finite(rows, 0.1)
    with pytest.raises(InvalidParameter, match="scale"):
        finite_n_loss(offdiagonal_weights(rows, 16), 0.1, -1.0, 0.0)
    with pytest.raises(InvalidParameter, match="rows"):
        predict_finite(np.array([1, 1]), 0.1, n_features=16)
