"""Weights realising a class allocation: structure, and Monte Carlo against the plan's theory."""

from __future__ import annotations

import numpy as np
import pytest

from toyforge.core.errors import InvalidParameter
from toyforge.theory.families import asymmetric_digon_optimum, family_optimum
from toyforge.theory.feature_classes import FeatureClass, allocate_classes
from toyforge.verify.experiments.class_construction import build_allocation, construction_loss

CLASSES = [
    FeatureClass(fraction=0.5, feature_prob=0.2),
    FeatureClass(fraction=0.5, feature_prob=0.1),
]


@pytest.fixture(scope="module")
def allocation():
    return allocate_classes(CLASSES, 0.6)  # asymmetric digon + dedicated | asymmetric digon


def test_blocks_follow_the_allocation(allocation):
    build = build_allocation(allocation, 64)
    families = {family for _, family, _, _ in build.blocks}
    assert families <= {"asymmetric-digon", "dedicated", "dropped"}
    assert sum(count for _, _, count, _ in build.blocks) == 64
    assert build.model.n_hidden <= round(0.6 * 64) + 1
    np.testing.assert_array_equal(build.distribution.feature_probs, [0.2] * 32 + [0.1] * 32)
    # a dedicated feature alone is reproduced exactly
    offsets = np.cumsum([0] + [count for _, _, count, _ in build.blocks])
    for (_, family, _, _), start in zip(build.blocks, offsets, strict=False):
        if family == "dedicated":
            x = np.zeros((1, 64))
            x[0, start] = 0.7
            assert build.model.forward(x)[0, start] == pytest.approx(0.7, abs=1e-12)
    # the plan's loss is the count-weighted exact loss of its blocks (rounded to whole blocks)
    exact = {
        "dedicated": lambda p: 0.0,
        "dropped": lambda p: p / 3 - p * p / 4,
        "asymmetric-digon": lambda p: float(asymmetric_digon_optimum(p).loss[0]),
    }
    expected = sum(
        count
        / 64
        * (
            exact[family](CLASSES[k].feature_prob)
            if family in exact
            else float(family_optimum(family, CLASSES[k].feature_prob).loss[0])
        )
        for k, family, count, _ in build.blocks
    )
    assert build.planned_loss == pytest.approx(expected, rel=1e-9)


@pytest.mark.slow
def test_monte_carlo_of_the_built_allocation_within_3_se(allocation):
    """n = 4096: asymmetric digons, dedicated and dropped blocks have exact large-N losses, so
    the Monte Carlo mean must match the plan's loss within 3 standard errors."""
    build = build_allocation(allocation, 4096)
    estimate = construction_loss(build.model, build.distribution, 10_000, seed=1)
    assert abs(estimate.value - build.planned_loss) <= 3 * estimate.stderr


def test_refuses_too_many_features(allocation):
    with pytest.raises(InvalidParameter, match="n_features"):
        build_allocation(allocation, 10**6)
