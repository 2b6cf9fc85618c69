"""Monte Carlo of every built family against its large-N / exact prediction.

Polytope blocks have no finite-N effect (their loss is exact at any n): agreement within
3 standard errors. Rugs carry a finite-N excess that the large-N theory leaves out; measured
(40 000 samples, seeds 1/2): pair rug at (r, p) = (0.25, 0.05): +1.7 % at n = 1024, +0.8 % at
n = 2048; Persian rug +1.3 % at n = 1024. The tests allow 3 SE plus that stated excess and
check that it shrinks with n.
"""

from __future__ import annotations

import pytest

from toyforge.constructions.families import build_family
from toyforge.verify.evaluate import SparseDataSpec, evaluate

SAMPLES = 20_000


def _mc(built, p, seed=2):
    return evaluate(built.model, SparseDataSpec(feature_prob=p), n_samples=SAMPLES, seed=seed)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "n", "p"),
    [
        ("digon", 1024, 0.1),
        ("pentagon", 1025, 0.1),
        ("tetrahedron", 1024, 0.2),
        ("square-antiprism", 1024, 0.05),
        ("hexagon", 1026, 0.3),
        ("asymmetric-digon", 1024, 0.1616),
    ],
)
def test_polytope_blocks_match_exact_loss(name, n, p):
    built = build_family(name, n, p)
    estimate = _mc(built, p)
    assert abs(estimate.value - built.planned_loss) <= 3 * estimate.stderr


@pytest.mark.slow
def test_pair_rug_converges_to_large_n():
    p = 0.05
    excess = []
    for n, allowance in ((1024, 0.025), (2048, 0.012)):
        built = build_family("pair-rug", n, p, ratio=0.25, seed=1)
        estimate = _mc(built, p)
        gap = estimate.value - built.planned_loss
        assert -3 * estimate.stderr <= gap <= 3 * estimate.stderr + allowance * built.planned_loss
        excess.append(gap / built.planned_loss)
    assert excess[1] < excess[0]


@pytest.mark.slow
def test_persian_rug_builder_matches_theory():
    p = 0.05
    built = build_family("persian-rug", 1024, p, ratio=0.25, seed=1)
    estimate = _mc(built, p)
    gap = estimate.value - built.planned_loss
    assert -3 * estimate.stderr <= gap <= 3 * estimate.stderr + 0.02 * built.planned_loss


@pytest.mark.slow
def test_built_envelope_mixture_matches_its_plan():
    # asymmetric digons + dedicated: exact families, so no finite-N allowance
    from toyforge.constructions.families import build_envelope

    p = 0.16
    built = build_envelope(1024, 0.64, p, seed=0)
    assert {c.family for c in built.components} == {"asymmetric-digon", "dedicated"}
    estimate = _mc(built, p)
    assert abs(estimate.value - built.planned_loss) <= 3 * estimate.stderr
