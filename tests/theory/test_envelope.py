"""The solution-family envelope (docs/solution_families.md#the-envelope)."""

from __future__ import annotations

import numpy as np
import pytest

from toyforge.core.errors import InvalidParameter
from toyforge.theory import predict, predict_grid
from toyforge.theory.families import (
    FAMILIES,
    asymmetric_digon_optimum,
    family_loss,
    family_optimum,
)
from toyforge.theory.large_n_loss import interference_sigma, reduced_loss
from toyforge.theory.structured_rug import pair_rug_loss

POINTS = [(0.25, 0.05), (0.64, 0.16), (0.48, 0.16), (0.1, 0.01), (0.02, 0.3), (0.9, 0.6)]


def _component_loss(component, p):
    """Loss of one structure component recomputed from its own (scale, bias)."""
    name, s, b, dims = component.family, component.scale, component.bias, component.dims_per_feature
    if name == "dropped":
        assert b == pytest.approx(p / 2)
        return p / 3 - p * p / 4
    if name == "dedicated":
        return 0.0
    if name == "asymmetric-digon":
        opt = asymmetric_digon_optimum(p)
        assert (s, b) == (pytest.approx(opt.scale_a[0]), pytest.approx(opt.bias_a[0]))
        return float(opt.loss[0])
    if name == "pair-rug":
        return float(pair_rug_loss(s, b, dims, p))
    if name == "persian-rug":
        return float(reduced_loss(s, b / s, interference_sigma(dims, p), p))
    return family_loss(name, s, b, p)


@pytest.mark.parametrize(("ratio", "p"), POINTS)
def test_structure_reproduces_envelope_loss_and_budget(ratio, p):
    prediction = predict(ratio, p)
    shares = [c.feature_share for c in prediction.structure]
    assert sum(shares) == pytest.approx(1.0, abs=1e-12)
    neurons = sum(c.feature_share * c.dims_per_feature for c in prediction.structure)
    assert neurons <= ratio * (1 + 1e-9)
    mixture = sum(c.feature_share * _component_loss(c, p) for c in prediction.structure)
    assert mixture == pytest.approx(prediction.envelope_loss, rel=1e-9)
    assert prediction.envelope_loss <= prediction.loss


def test_envelope_is_below_every_family_point():
    probs = np.array([0.01, 0.16, 0.48])
    names = list(FAMILIES)
    dims = np.array([FAMILIES[name].dims_per_feature for name in names])
    grid = predict_grid(dims, probs, bounds=False)
    for i, name in enumerate(names):
        family_value = family_optimum(name, probs).loss
        assert np.all(grid.envelope_loss[i] <= family_value * (1 + 1e-12)), name


def test_trained_asymmetric_digon_point():
    # a model trained at n = 512 (converged, 2400 steps) reads as asymmetric digons + dedicated
    # and reaches 0.002946; the envelope names that structure and is below it
    prediction = predict(327 / 512, 0.1616)
    assert [c.family for c in prediction.structure] == ["asymmetric-digon", "dedicated"]
    assert prediction.envelope_loss < 0.002946


def test_digon_plus_dedicated_closed_form_bound():
    # unit-scale digons on the (1 - f) non-dedicated features, f = 2r - 1: (1 - f) p^2 / 6
    ratio, p = 0.64, 0.16
    assert predict(ratio, p).envelope_loss <= (1 - (2 * ratio - 1)) * p * p / 6


def test_pair_rug_wins_where_it_should():
    prediction = predict(0.25, 0.05)
    assert [c.family for c in prediction.structure] == ["pair-rug"]
    assert prediction.envelope_loss < 0.8 * prediction.symmetric_loss


def test_grid_matches_pointwise():
    ratios, probs = np.array([0.1, 0.3, 0.64]), np.array([0.01, 0.2])
    grid = predict_grid(ratios, probs, bounds=False)
    for i, r in enumerate(ratios):
        for j, p in enumerate(probs):
            point = predict(r, p)
            # the grid's time sharing is refined once per group (about 1e-4 relative)
            assert grid.envelope_loss[i, j] == pytest.approx(point.envelope_loss, rel=2e-4)
            assert grid.structure_family[i, j, 0] == point.structure[0].family
    rows = predict_grid([0.25], [0.05]).to_rows()
    assert {"envelope_loss", "structure", "structure_1_family", "structure_2_bias"} <= set(rows[0])


def test_tiny_ratio_refused_with_range():
    with pytest.raises(InvalidParameter, match="1e-12 <= ratio"):
        predict(1e-20, 0.1)
    with pytest.raises(InvalidParameter, match="ratios"):
        predict_grid([1e-20, 0.5], [0.1])


@pytest.mark.parametrize("p", [1e-6, 0.1, 1.0])
def test_smallest_ratio_is_the_dropped_limit(p):
    prediction = predict(1e-12, p)
    assert prediction.envelope_loss == pytest.approx(p / 3 - p * p / 4, rel=1e-9)
    assert prediction.loss == pytest.approx(p / 3 - p * p / 4, rel=1e-9)
