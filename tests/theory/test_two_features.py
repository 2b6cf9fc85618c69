"""Two features in one dimension: closed forms against independent quadrature of the model."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate

from toyforge.core.errors import InvalidParameter
from toyforge.theory.two_features import (
    TWO_FEATURE_LAYOUTS,
    antipodal_boundary,
    two_feature_diagram,
    two_feature_layout,
    two_feature_losses,
)

TOL = dict(epsabs=1e-14, epsrel=1e-13)


def _model_loss(w_in, w_out, bias, s, r):
    """E sum_i I_i (ReLU(W_out W_in x + b)_i - x_i)^2 by enumerating activity patterns and
    integrating the active uniforms (2-D domain split on the diagonal, where ReLU kinks lie)."""
    weights = np.array([1.0, r])
    product = w_out @ w_in

    def error(x1, x2):
        x = np.array([x1, x2])
        y = np.maximum(product @ x + bias, 0.0)
        return float(weights @ (y - x) ** 2)

    none = error(0.0, 0.0)
    first = integrate.quad(lambda u: error(u, 0.0), 0, 1, **TOL)[0]
    second = integrate.quad(lambda u: error(0.0, u), 0, 1, **TOL)[0]
    below = integrate.dblquad(lambda x2, x1: error(x1, x2), 0, 1, 0, lambda x1: x1, **TOL)[0]
    above = integrate.dblquad(lambda x2, x1: error(x1, x2), 0, 1, lambda x1: x1, 1, **TOL)[0]
    return (1 - s) ** 2 * none + s * (1 - s) * (first + second) + s**2 * (below + above)


@pytest.mark.parametrize("s", [0.01, 0.1, 0.37, 0.8, 1.0])
@pytest.mark.parametrize("r", [0.0, 0.2, 1.0, 3.5])
def test_closed_forms_match_quadrature_of_the_layouts(s, r):
    closed = two_feature_losses(s, r)
    for k, name in enumerate(TWO_FEATURE_LAYOUTS):
        w_in, w_out, bias = two_feature_layout(name, s)
        assert closed[k] == pytest.approx(_model_loss(w_in, w_out, bias, s, r), abs=1e-9, rel=0)


def test_wattenberg_forms_at_one_point():
    s, r = 0.3, 0.5
    np.testing.assert_allclose(
        two_feature_losses(s, r),
        [r * (s / 3 - s**2 / 4), s / 3 - s**2 / 4, (1 + r) * s**2 / 6],
        rtol=1e-15,
    )


@pytest.mark.parametrize("s", [0.02, 0.2, 0.5, 0.56])
def test_boundary_is_a_tie_and_separates_the_phases(s):
    r = float(antipodal_boundary(s))
    losses = two_feature_losses(s, r)
    assert losses[0] == pytest.approx(losses[2], rel=1e-12)
    assert np.argmin(two_feature_losses(s, r * 0.9)) == 0
    if r < 0.95:
        assert np.argmin(two_feature_losses(s, min(r * 1.1, 1.0))) == 2
        assert np.argmin(two_feature_losses(s, 1.0 / r * 1.1)) == 1


def test_no_antipodal_phase_from_four_sevenths():
    assert np.isinf(antipodal_boundary(0.85))
    assert float(antipodal_boundary(4 / 7)) == pytest.approx(1.0, rel=1e-12)
    for s in (4 / 7 + 1e-9, 0.6, 0.85, 1.0):
        for r in np.geomspace(0.01, 100, 41):
            assert np.argmin(two_feature_losses(s, r)) != 2


def test_diagram_shapes_and_minimum():
    diagram = two_feature_diagram(np.linspace(0.01, 1, 7), np.geomspace(0.1, 10, 5))
    assert diagram.losses.shape == (5, 7, 3)
    np.testing.assert_array_equal(diagram.loss, diagram.losses.min(axis=-1))
    # sparse and equally important: antipodal; dense: drop the less important one
    assert diagram.phase[2, 0] == 2
    assert diagram.phase[0, -1] == 0 and diagram.phase[-1, -1] == 1


@pytest.mark.parametrize(("s", "r"), [(0.0, 1.0), (1.5, 1.0), (0.5, -1.0), (0.5, np.inf)])
def test_bad_inputs(s, r):
    with pytest.raises(InvalidParameter):
        two_feature_losses(s, r)


def test_unknown_layout():
    with pytest.raises(InvalidParameter, match="layout"):
        two_feature_layout("pentagon", 0.1)
