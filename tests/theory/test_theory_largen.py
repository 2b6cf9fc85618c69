"""Closed-form large-N loss (docs/large_n_theory.md#the-closed-form-loss): quadrature, Monte Carlo,
reference numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate
from scipy.stats import norm

from toyforge.theory import (
    interference_sigma,
    optimal_scale,
    predict,
    profile_loss,
    reduced_expectations,
    reduced_loss,
    symmetric_optimum,
)
from toyforge.verify.evaluate.estimate import Estimate
from toyforge.verify.testing import assert_theory_matches_monte_carlo


def _relu_integrals(t: float) -> tuple[float, float]:
    """MATS functions G(t) = int_0^1 x ReLU(x + t) dx and H(t) = int_0^1 ReLU(x + t)^2 dx,
    written out piecewise by hand (independent of the library's moment formulas)."""
    low = min(max(-t, 0.0), 1.0)
    g = (1 - low**3) / 3 + t * (1 - low**2) / 2
    h = ((1 + t) ** 3 - (low + t) ** 3) / 3
    return g, h


def _quad_expectations(c: float, sigma: float, p: float) -> tuple[float, float, float]:
    """E[xR], E[R^2] and E[(aR - x)^2] at a = 1.3 by 1-D quadrature over the interference."""
    scale = 1.3

    def over_z(function):
        lo, hi = c - 14 * sigma, c + 14 * sigma
        points = [v for v in (-1.0, 0.0) if lo < v < hi]
        value, _ = integrate.quad(
            lambda nu: function(nu) * norm.pdf(nu, c, sigma),
            lo,
            hi,
            points=points or None,
            limit=400,
            epsabs=0,
            epsrel=1e-13,
        )
        return value

    cross = p * over_z(lambda nu: _relu_integrals(nu)[0])
    active_sq = over_z(lambda nu: _relu_integrals(nu)[1])
    inactive_sq = over_z(lambda nu: max(nu, 0.0) ** 2)
    square = p * active_sq + (1 - p) * inactive_sq
    loss = p / 3 - 2 * scale * cross + scale**2 * square
    return cross, square, loss


@given(c=st.floats(-1.2, 3.0), sigma=st.floats(0.02, 5.0), p=st.floats(1e-3, 1.0))
def test_closed_form_matches_quadrature(c, sigma, p):
    cross, square, loss = _quad_expectations(c, sigma, p)
    cross_cf, square_cf = reduced_expectations(c, sigma, p)
    assert float(cross_cf) == pytest.approx(cross, rel=1e-9, abs=1e-300)
    assert float(square_cf) == pytest.approx(square, rel=1e-9, abs=1e-300)
    # the loss at fixed a is a difference; compare on the scale of its largest term
    largest = max(p / 3, 2 * 1.3 * cross, 1.3**2 * square)
    assert abs(float(reduced_loss(1.3, c, sigma, p)) - loss) <= 1e-9 * largest


@pytest.mark.parametrize(
    ("ratio", "p", "scale", "c", "bias", "sigma", "loss"),
    [
        (0.25, 0.05, 1.255, -0.3514, -0.4409, 0.2194, 5.789e-3),
        (0.1, 0.01, 1.525, -0.3919, -0.5976, 0.1726, 9.963e-4),
        (0.5, 0.3, 0.839, -0.1255, -0.1053, 0.2784, 3.027e-2),
        (0.8, 0.8, 0.861, 0.0487, 0.0420, 0.1633, 1.999e-2),
        (0.25, 0.045, 1.289, -0.3458, -0.4458, 0.2085, 4.856e-3),
    ],
)
def test_spec_section_2_3_table(ratio, p, scale, c, bias, sigma, loss):
    optimum = symmetric_optimum(ratio, p)
    for got, want in (
        (optimum.scale, scale),
        (optimum.c, c),
        (optimum.bias, bias),
        (optimum.sigma, sigma),
        (optimum.loss, loss),
    ):
        digits = len(f"{want:.4g}".replace("-", "").replace(".", "").lstrip("0"))
        assert float(got) == pytest.approx(want, rel=0.6 * 10 ** (1 - digits)), (got, want)


def test_linear_branch_is_found():
    """docs/large_n_theory.md#the-linear-branch: at (0.002, 0.8) the optimum is at large c, loss
    0.1065 (not 0.205)."""
    optimum = symmetric_optimum(0.002, 0.8)
    assert float(optimum.loss) == pytest.approx(0.1065, abs=5e-5)
    assert float(optimum.c) > 100


# docs/large_n_theory.md#model-data-and-loss: n_s = 8192, r_eff = floor(8192 r) / 8192; symmetric
# optimum and linear loss
_GRID_6B = {
    0.002001: (
        [6.636e-4, 1.416e-2, 2.677e-2, 9.039e-2, 1.094e-1],
        [6.647e-4, 1.415e-2, 2.676e-2, 9.039e-2, 1.094e-1],
    ),
    0.086001: (
        [5.343e-5, 1.117e-2, 2.339e-2, 8.270e-2, 1.002e-1],
        [6.087e-4, 1.296e-2, 2.451e-2, 8.278e-2, 1.002e-1],
    ),
    0.296001: (
        [1.082e-5, 3.727e-3, 1.115e-2, 6.073e-2, 7.627e-2],
        [4.689e-4, 9.985e-3, 1.888e-2, 6.376e-2, 7.719e-2],
    ),
    0.506001: (
        [4.297e-6, 1.471e-3, 4.830e-3, 3.786e-2, 5.118e-2],
        [3.290e-4, 7.006e-3, 1.325e-2, 4.474e-2, 5.416e-2],
    ),
    0.800001: (
        [1.069e-6, 3.481e-4, 1.167e-3, 1.200e-2, 1.832e-2],
        [1.332e-4, 2.837e-3, 5.364e-3, 1.811e-2, 2.193e-2],
    ),
}
_PROBS_6B = [0.002001, 0.044001, 0.086001, 0.380001, 0.590001]


@pytest.mark.parametrize("ratio", sorted(_GRID_6B))
def test_spec_section_6b_grid(ratio):
    r_eff = math.floor(8192 * ratio) / 8192
    symmetric, linear = _GRID_6B[ratio]
    for p, want_sym, want_lin in zip(_PROBS_6B, symmetric, linear, strict=True):
        prediction = predict(r_eff, p)
        assert prediction.symmetric_loss == pytest.approx(want_sym, rel=6e-4), (ratio, p)
        assert prediction.linear_loss == pytest.approx(want_lin, rel=6e-4), (ratio, p)


def test_spec_other_points():
    assert predict(0.8, 0.8).symmetric_loss == pytest.approx(1.999e-2, rel=3e-4)
    model = predict(130 / 512, 0.044001)
    assert model.symmetric_loss == pytest.approx(4.583e-3, rel=2e-4)
    assert model.scale == pytest.approx(1.299, abs=6e-4)
    assert model.c == pytest.approx(-0.341, abs=6e-4)
    # MATS n_s = 128, n_d = 102, p = 0.8 -> 0.02032
    assert predict(102 / 128, 0.8).symmetric_loss == pytest.approx(0.02032, rel=3e-4)


def test_dense_scan_never_beats_the_optimum():
    """Brute force over a very fine c grid cannot find a lower L*(c) than the optimiser."""
    rng = np.random.default_rng(0)
    ratios = 10 ** rng.uniform(-3.5, 0, 40)
    probs = 10 ** rng.uniform(-4, 0, 40)
    optimum = symmetric_optimum(ratios, probs)
    sigma = interference_sigma(ratios, probs)
    c_max = 4 + 12 * sigma + 3 * (1 - ratios) * probs / (2 * ratios)
    fine = np.concatenate(
        [
            np.linspace(-1.5, 1.5, 3001)[None, :].repeat(40, 0),
            np.geomspace(1e-3, c_max, 3000, axis=1),
        ],
        axis=1,
    )
    values = profile_loss(fine, sigma[:, None], probs[:, None])
    assert np.all(optimum.loss <= values.min(axis=1) * (1 + 1e-10) + 1e-300)


def test_scale_is_the_argmin_of_the_quadratic():
    c, sigma, p = -0.3, 0.2, 0.05
    scale = float(optimal_scale(c, sigma, p))
    for delta in (-1e-3, 1e-3):
        assert reduced_loss(scale + delta, c, sigma, p) > reduced_loss(scale, c, sigma, p)
    assert float(profile_loss(c, sigma, p)) == pytest.approx(
        float(reduced_loss(scale, c, sigma, p)), rel=1e-13
    )


@pytest.mark.parametrize(("ratio", "p"), [(0.25, 0.05), (0.1, 0.01), (0.5, 0.3), (0.05, 0.6)])
def test_theory_matches_monte_carlo_of_reduced_model(ratio, p):
    """Independent MC of E[(a ReLU(x + c + sigma z) - x)^2] at the optimum: within 4 s.e."""
    optimum = symmetric_optimum(ratio, p)
    rng = np.random.default_rng(12345)
    n = 400_000
    x = (rng.random(n) < p) * rng.random(n)
    pre = x + float(optimum.c) + float(optimum.sigma) * rng.standard_normal(n)
    errors = (float(optimum.scale) * np.maximum(pre, 0.0) - x) ** 2
    assert_theory_matches_monte_carlo(optimum.loss, Estimate.from_samples(errors), n_se=4)


def test_loss_decreases_in_ratio_and_vanishes_as_p_goes_to_zero():
    ratios = np.linspace(0.01, 1.0, 60)
    for p in (1e-5, 0.01, 0.3, 0.9):
        loss = symmetric_optimum(ratios, p).loss
        assert np.all(np.diff(loss) <= 1e-15), p
        assert loss[-1] == 0.0
    probs = np.geomspace(1e-8, 1e-2, 30)[::-1]
    for ratio in (0.01, 0.2, 0.9):
        loss = symmetric_optimum(ratio, probs).loss
        assert np.all(np.diff(loss) < 0)
        assert loss[-1] < 1e-13
