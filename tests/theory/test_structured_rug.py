"""Structured rugs against independent quadratures (docs/solution_families.md#structured-rugs)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate

from toyforge.core.errors import InvalidParameter
from toyforge.theory.families import family_optimum
from toyforge.theory.large_n_loss import reduced_loss
from toyforge.theory.structured_rug import (
    pair_rug_loss,
    pair_rug_optimum,
    rug_sigma,
    structured_rug_loss,
    structured_rug_optimum,
)

QUAD = {"epsabs": 1e-15, "epsrel": 1e-12, "limit": 200}


def _pair_reference(scale, bias, ratio, p):
    """Partner off: the Persian-rug reduced model at c; partner on with value v: at c - v."""
    sigma = np.sqrt((1 / (2 * ratio) - 1) * (2 * p / 3 - p * p / 2))
    c = bias / scale
    on = integrate.quad(lambda v: float(reduced_loss(scale, c - v, sigma, p)), 0, 1, **QUAD)[0]
    return (1 - p) * float(reduced_loss(scale, c, sigma, p)) + p * on


@pytest.mark.parametrize(
    ("scale", "bias", "ratio", "p"),
    [
        (1.3, -0.375, 0.25, 0.05),
        (1.0, 0.0, 0.1, 0.3),
        (1.5, -0.6, 0.45, 0.01),
        (0.8, 0.2, 0.2, 0.9),
    ],
)
def test_pair_rug_matches_quadrature_over_partner(scale, bias, ratio, p):
    expected = _pair_reference(scale, bias, ratio, p)
    assert float(pair_rug_loss(scale, bias, ratio, p)) == pytest.approx(expected, rel=1e-9)
    # the generic block quadrature is a different decomposition of the same loss
    assert structured_rug_loss("digon", scale, bias, ratio, p) == pytest.approx(expected, rel=1e-9)


def test_pair_sigma_formula():
    r, p = 0.2, 0.3
    assert float(rug_sigma("digon", r, p)) == pytest.approx(
        np.sqrt((1 / (2 * r) - 1) * (2 * p / 3 - p * p / 2)), rel=1e-14
    )


def test_pair_rug_at_half_is_digon():
    p = np.array([0.02, 0.2, 0.6])
    np.testing.assert_allclose(
        pair_rug_optimum(0.5, p).loss, family_optimum("digon", p).loss, rtol=1e-8
    )


def test_pair_rug_optimum_is_minimum_and_matches_generic():
    r, p = np.array([0.1, 0.25, 0.4]), np.array([0.01, 0.05, 0.16])
    opt = pair_rug_optimum(r, p)
    for i in range(3):
        s, b = opt.scale[i], opt.bias[i]
        for ds, db in [(0, 0), (1e-3, 0), (-1e-3, 0), (0, 1e-3), (0, -1e-3)]:
            assert float(pair_rug_loss(s + ds, b + db, r[i], p[i])) >= opt.loss[i] * (1 - 1e-12)
        generic = structured_rug_optimum("digon", r[i], p[i])
        assert generic.loss[0] == pytest.approx(opt.loss[i], rel=1e-8)


def test_triangle_rug_matches_double_quadrature():
    scale, bias, ratio, p = 1.2, -0.3, 0.3, 0.2
    sigma = float(rug_sigma("triangle", ratio, p))
    assert sigma**2 == pytest.approx((1 / (1.5 * ratio) - 1) * 1.5 * (p / 3 - p * p / 4))
    c = bias / scale

    def at(t):
        return float(reduced_loss(scale, c + t, sigma, p))

    one = integrate.quad(lambda u: at(-0.5 * u), 0, 1, **QUAD)[0]
    two = integrate.dblquad(lambda u, v: at(-0.5 * (u + v)), 0, 1, 0, 1, epsabs=1e-13)[0]
    expected = (1 - p) ** 2 * at(0.0) + 2 * p * (1 - p) * one + p * p * two
    got = structured_rug_loss("triangle", scale, bias, ratio, p)
    assert got == pytest.approx(expected, rel=1e-7)


def test_block_ratio_range_refused():
    with pytest.raises(InvalidParameter, match="ratio"):
        structured_rug_optimum("triangle", 0.7, 0.1)
    with pytest.raises(InvalidParameter, match="ratio"):
        pair_rug_optimum(0.6, 0.1)
