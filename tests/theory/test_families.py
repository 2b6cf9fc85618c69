"""Exact block-family losses against independent references (docs/solution_families.md)."""

from __future__ import annotations

import itertools

import mpmath as mp
import numpy as np
import pytest
from scipy import integrate

from toyforge.core.errors import InvalidParameter
from toyforge.theory.families import (
    FAMILIES,
    asymmetric_digon_optimum,
    dropped_loss,
    family,
    family_loss,
    family_optimum,
)

# Independent reference: the finite-difference formula for truncated powers of a weighted sum
# of uniforms, E[(c + sum_j a_j u_j)_+^n] = n!/(n+m)! sum_eps (-1)^(m-|eps|) (c + eps.a)_+^(n+m)
# / prod a_j, in 40-digit mpmath (a different decomposition from the library's piecewise
# densities), summed over every activity pattern of the block.
mp.mp.dps = 40


def truncated_moment(c, weights, n):
    a = [mp.mpf(float(w)) for w in weights]
    m = len(a)
    c = mp.mpf(c)
    if m == 0:
        return max(c, 0) ** n
    total = mp.mpf(0)
    for eps in itertools.product((0, 1), repeat=m):
        x = c + sum(e * w for e, w in zip(eps, a, strict=True))
        total += (-1) ** (m - sum(eps)) * (x if x > 0 else 0) ** (n + m)
    product = mp.mpf(1)
    for w in a:
        product *= w
    return total * mp.factorial(n) / mp.factorial(n + m) / product


def block_loss(weights, scale, bias, p):
    """Per-feature loss of one block feature whose interference weights are ``weights``."""
    s, p = mp.mpf(scale), mp.mpf(p)
    c = mp.mpf(bias) / s
    k = len(weights)
    total = mp.mpf(0)
    for active in itertools.product((0, 1), repeat=k):
        on = [w for w, a in zip(weights, active, strict=True) if a and abs(w) > 1e-12]
        prob = p ** sum(active) * (1 - p) ** (k - sum(active))
        square = truncated_moment(c, [*on, 1.0], 2)  # E[(u + T + c)_+^2]
        cube1 = truncated_moment(c + 1, on, 3)
        cube0 = truncated_moment(c, on, 3)
        square1 = truncated_moment(c + 1, on, 2)
        cross = -cube1 / 6 + square1 / 2 + cube0 / 6  # E[u (u + T + c)_+]
        active_loss = s * s * square - 2 * s * cross + mp.mpf(1) / 3
        inactive_loss = s * s * truncated_moment(c, on, 2)
        total += prob * (p * active_loss + (1 - p) * inactive_loss)
    return float(total)


CHEAP = ["digon", "triangle", "square", "pentagon", "hexagon", "tetrahedron", "5-cell"]
POINTS = [(1.1, -0.2, 0.3), (0.9, 0.05, 0.9), (1.3, -0.45, 0.02)]


@pytest.mark.parametrize("p", [1e-4, 0.01, 0.2, 0.7, 1.0])
def test_digon_unit_scale_no_bias_is_p_squared_over_six(p):
    # error only when both are active: 2 E[min(u, v)^2] = 1/3 per pair -> p^2/6 per feature
    assert family_loss("digon", 1.0, 0.0, p) == pytest.approx(p * p / 6, rel=1e-12)


@pytest.mark.parametrize("name", CHEAP)
@pytest.mark.parametrize(("scale", "bias", "p"), POINTS)
def test_family_loss_matches_finite_difference_reference(name, scale, bias, p):
    weights = FAMILIES[name].interference_weights
    assert family_loss(name, scale, bias, p) == pytest.approx(
        block_loss(weights, scale, bias, p), rel=1e-9
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", ["square-antiprism", "octagon", "octahedron"])
def test_larger_blocks_match_reference(name):
    weights = FAMILIES[name].interference_weights
    assert family_loss(name, 1.05, -0.15, 0.4) == pytest.approx(
        block_loss(weights, 1.05, -0.15, 0.4), rel=1e-9
    )


def test_digon_matches_nested_quad_of_the_network():
    scale, bias, p = 1.2, -0.1, 0.35

    def error(v, u):  # feature a = u, partner b = v, out_a = ReLU(s (x_a - x_b) + b)
        return (max(scale * (u - v) + bias, 0.0) - u) ** 2

    def inner(u):  # over the partner, split at the ReLU kink v = u + b / s
        kink = [u + bias / scale] if 0 < u + bias / scale < 1 else None
        return integrate.quad(error, 0, 1, args=(u,), points=kink, epsabs=1e-15, epsrel=1e-13)[0]

    both = integrate.quad(inner, 0, 1, points=[-bias / scale], epsabs=1e-15, epsrel=1e-13)[0]
    alone = integrate.quad(lambda u: error(0.0, u), 0, 1, epsabs=1e-14, epsrel=1e-12)[0]
    partner = integrate.quad(lambda v: error(v, 0.0), 0, 1, epsabs=1e-14, epsrel=1e-12)[0]
    expected = p * p * both + p * (1 - p) * alone + (1 - p) * p * partner
    expected += (1 - p) ** 2 * error(0.0, 0.0)
    assert family_loss("digon", scale, bias, p) == pytest.approx(expected, rel=1e-9)


def test_dropped_is_variance():
    p = np.array([0.1, 0.5, 1.0])
    np.testing.assert_allclose(dropped_loss(p), p / 3 - p * p / 4, rtol=1e-15)


def test_geometry():
    for name, fam in FAMILIES.items():
        np.testing.assert_allclose(np.diag(fam.gram), 1.0, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(fam.vectors.sum(axis=0), 0.0, atol=1e-12, err_msg=name)
    assert family("tetrahedron").dims_per_feature == 0.75
    np.testing.assert_allclose(family("tetrahedron").interference_weights, -1 / 3, atol=1e-12)
    assert family("square-antiprism").dims_per_feature == 0.375
    antiprism = family("square-antiprism").vectors
    distances = np.linalg.norm(antiprism[:, None] - antiprism[None], axis=2)
    nearest = np.sort(distances, axis=1)[:, 1:5]
    np.testing.assert_allclose(nearest, nearest[0, 0], rtol=1e-12)  # equal edges


@pytest.mark.parametrize("name", ["digon", "triangle", "pentagon", "tetrahedron"])
def test_optimum_is_a_minimum(name):
    p = np.array([0.01, 0.16, 0.5])
    opt = family_optimum(name, p)
    for i, prob in enumerate(p):
        s, b = opt.scale[i], opt.bias[i]
        at = family_loss(name, s, b, prob)
        assert at == pytest.approx(opt.loss[i], rel=1e-12)
        for ds, db in [(1e-3, 0), (-1e-3, 0), (0, 1e-3), (0, -1e-3)]:
            assert family_loss(name, s + ds, b + db, prob) >= at * (1 - 1e-12)


def test_optimum_beats_unit_scale_digon():
    p = np.array([0.05, 0.16])
    assert np.all(family_optimum("digon", p).loss <= p * p / 6)


def test_unknown_family_refused():
    with pytest.raises(InvalidParameter, match="family"):
        family("dodecahedron")


@pytest.mark.parametrize("p", [0.05, 0.1616, 0.32])
def test_asymmetric_digon_matches_reference_and_beats_digon(p):
    opt = asymmetric_digon_optimum(p)
    lam = float(opt.asymmetry[0])
    side_a = block_loss([-lam], float(opt.scale_a[0]), float(opt.bias_a[0]), p)
    side_b = block_loss([-1 / lam], float(opt.scale_b[0]), float(opt.bias_b[0]), p)
    assert float(opt.loss[0]) == pytest.approx(0.5 * (side_a + side_b), rel=1e-9)
    assert opt.loss[0] < 0.95 * family_optimum("digon", p).loss[0]  # measured: 7 % lower
