"""Family builders and the envelope mixture (docs/solution_families.md#building-the-envelope)."""

from __future__ import annotations

import numpy as np
import pytest

from toyforge.constructions.families import (
    MAX_DENSE_FEATURES,
    build_envelope,
    build_family,
    tight_frame,
)
from toyforge.core.errors import InvalidParameter
from toyforge.theory import FAMILIES, family_optimum, predict


@pytest.mark.parametrize(("n", "m"), [(64, 16), (100, 30), (101, 17), (48, 48)])
def test_tight_frame(n, m):
    frame = tight_frame(n, m, np.random.default_rng(0))
    np.testing.assert_allclose(np.linalg.norm(frame, axis=0), 1.0, atol=1e-12)
    np.testing.assert_allclose(frame @ frame.T, (n / min(m, n)) * np.eye(frame.shape[0]), atol=1e-9)


@pytest.mark.parametrize("name", ["digon", "pentagon", "tetrahedron", "square-antiprism"])
def test_polytope_builder_has_block_gram(name):
    fam = FAMILIES[name]
    built = build_family(name, 4 * fam.k, 0.1)
    w = built.model.effective_matrix()
    opt = family_optimum(name, 0.1)
    block = float(opt.scale[0]) * fam.gram
    np.testing.assert_allclose(w[: fam.k, : fam.k], block, atol=1e-12)
    np.testing.assert_allclose(w[: fam.k, fam.k :], 0.0, atol=1e-12)
    np.testing.assert_allclose(built.model.b, float(opt.bias[0]), atol=1e-12)
    assert built.model.n_hidden == 4 * fam.d


def test_dropped_and_dedicated():
    dropped = build_family("dropped", 8, 0.3)
    np.testing.assert_allclose(dropped.model.forward(np.ones(8)), 0.15)
    dedicated = build_family("dedicated", 8, 0.3)
    x = np.linspace(0, 1, 8)
    np.testing.assert_allclose(dedicated.model.forward(x), x)


def test_pair_rug_builder_pairs_are_antipodal():
    built = build_family("pair-rug", 64, 0.05, ratio=0.25, seed=3)
    w = built.model.effective_matrix()
    scale = built.components[0].scale
    np.testing.assert_allclose(np.diag(w), scale, rtol=1e-12)
    np.testing.assert_allclose(w[0, 1], -scale, rtol=1e-12)
    assert built.model.n_hidden == 16


@pytest.mark.parametrize(("ratio", "p"), [(0.25, 0.05), (0.64, 0.16), (0.48, 0.16), (0.1, 0.05)])
def test_envelope_plan_uses_the_budget(ratio, p):
    built = build_envelope(512, ratio, p, seed=0)
    assert sum(c.n_features for c in built.components) == 512
    assert built.model.n_hidden <= int(np.floor(ratio * 512 + 1e-9))
    prediction = predict(built.model.n_hidden / 512, p)
    assert [c.family for c in built.components if c.family != "dropped"] == [
        c.family for c in prediction.structure if c.family != "dropped"
    ]
    # integer rounding moves the plan a little away from the continuous mixture
    assert built.planned_loss == pytest.approx(built.predicted_loss, rel=0.03)


def test_refusals():
    with pytest.raises(InvalidParameter, match="n_features"):
        build_envelope(MAX_DENSE_FEATURES + 1, 0.3, 0.1)
    with pytest.raises(InvalidParameter, match="multiple of 5"):
        build_family("pentagon", 12, 0.1)
    with pytest.raises(InvalidParameter, match="ratio"):
        build_family("pair-rug", 64, 0.1, ratio=0.7)
    with pytest.raises(InvalidParameter, match="family"):
        build_family("dodecahedron", 64, 0.1)


def test_asymmetric_digon_builder():
    from toyforge.theory.families import asymmetric_digon_optimum

    built = build_family("asymmetric-digon", 8, 0.16)
    opt = asymmetric_digon_optimum(0.16)
    lam = float(opt.asymmetry[0])
    w = built.model.effective_matrix()
    np.testing.assert_allclose(w[0, :2], [opt.scale_a[0], -lam * opt.scale_a[0]], rtol=1e-12)
    np.testing.assert_allclose(w[1, :2], [-opt.scale_b[0] / lam, opt.scale_b[0]], rtol=1e-12)
    assert built.model.n_hidden == 4
