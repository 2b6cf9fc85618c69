"""Every check of toyforge.verify.testing.checks passes when it should and fails when it
should."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from toyforge.constructions.dictionary import circle_unembedding, lookup_table
from toyforge.constructions.modular_addition import exactness, modular_addition
from toyforge.constructions.persian_rug import persian_rug
from toyforge.core.errors import InvalidParameter
from toyforge.theory import predict, symmetric_optimum
from toyforge.verify.evaluate import SparseDataSpec, evaluate
from toyforge.verify.evaluate.estimate import Estimate
from toyforge.verify.testing import (
    CheckResult,
    KeyValueTable,
    assert_exact_on_all_inputs,
    assert_loss_at_most,
    assert_theory_matches_monte_carlo,
    check_exact_on_all_inputs,
    check_loss_at_most,
    check_theory_matches_monte_carlo,
)

CONSTRUCTION = Estimate(value=1.0, stderr=0.03, n_samples=100)
BASELINE = Estimate(value=0.9, stderr=0.04, n_samples=100)  # combined SE 0.05: 2 SE apart


def test_check_result_is_frozen_and_truthy():
    good = CheckResult(passed=True, statistic=0.0, threshold=1.0, message="fine")
    bad = CheckResult(passed=False, statistic=2.0, threshold=1.0, message="too big")
    assert good and not bad
    assert good.raise_if_failed() is good
    with pytest.raises(AssertionError, match="too big"):
        bad.raise_if_failed()
    with pytest.raises(dataclasses.FrozenInstanceError):
        good.passed = False  # type: ignore[misc]


# --------------------------------------------------------------------------- loss at most


def test_loss_at_most_uses_the_combined_standard_error():
    result = check_loss_at_most(CONSTRUCTION, BASELINE, n_se=3)
    assert result.passed
    assert result.statistic == pytest.approx(0.1, rel=1e-12)
    assert result.threshold == pytest.approx(3 * 0.05, rel=1e-12)
    failed = check_loss_at_most(CONSTRUCTION, BASELINE, n_se=1.9)
    assert not failed and failed.threshold == pytest.approx(0.095, rel=1e-12)
    assert "exceeds" in failed.message and "+2.00 SE" in failed.message
    with pytest.raises(AssertionError, match="exceeds baseline loss"):
        assert_loss_at_most(CONSTRUCTION, BASELINE, n_se=1)
    assert assert_loss_at_most(CONSTRUCTION, BASELINE, n_se=2.1).passed


def test_loss_at_most_with_exact_numbers_and_relative_tolerance():
    assert check_loss_at_most(1.0, 1.0, n_se=0)  # equality passes
    assert not check_loss_at_most(1.0 + 1e-12, 1.0)  # exact: no SE to hide behind
    assert not check_loss_at_most(CONSTRUCTION, BASELINE, n_se=0, rel_tol=0.1)
    assert check_loss_at_most(CONSTRUCTION, BASELINE, n_se=0, rel_tol=0.12)
    assert check_loss_at_most(0.5, BASELINE, n_se=0)  # one-sided: lower is always fine


def test_loss_at_most_accepts_result_objects():
    @dataclasses.dataclass(frozen=True)
    class Trained:  # the shape of verify.compare.TrainedPoint
        loss: float
        stderr: float
        n_samples: int

    @dataclasses.dataclass(frozen=True)
    class Evaluation:  # the shape of verify.evaluate.AutoencoderEvaluation
        estimate: Estimate

    trained = Trained(loss=0.9, stderr=0.04, n_samples=100)
    assert check_loss_at_most(Evaluation(estimate=CONSTRUCTION), trained, n_se=2.01)
    assert not check_loss_at_most(Evaluation(estimate=CONSTRUCTION), trained, n_se=1.99)


def test_loss_at_most_refuses_bad_input():
    with pytest.raises(InvalidParameter, match="construction_estimate"):
        check_loss_at_most("0.1", BASELINE)
    with pytest.raises(InvalidParameter, match="baseline_estimate"):
        check_loss_at_most(CONSTRUCTION, math.nan)
    with pytest.raises(InvalidParameter, match="n_se"):
        check_loss_at_most(CONSTRUCTION, BASELINE, n_se=-1)
    with pytest.raises(InvalidParameter, match="rel_tol"):
        check_loss_at_most(CONSTRUCTION, BASELINE, rel_tol=math.inf)


@pytest.mark.slow  # ~1 s warm; the first call compiles the matrix-free rug kernel
def test_persian_rug_against_real_baselines():
    """n = 256, r = 0.25, p = 0.05: beats the linear loss, loses to the MMSE bound."""
    rug = persian_rug(256, 0.25, 0.05, seed=0)
    estimate = evaluate(rug, SparseDataSpec(feature_prob=0.05), n_samples=4000, seed=1)
    prediction = predict(0.25, 0.05)
    passed = assert_loss_at_most(estimate, prediction.linear_loss, n_se=3)
    assert passed.statistic < -10 * estimate.stderr  # far below, not marginal
    failed = check_loss_at_most(estimate, prediction.mmse_loss, n_se=3)
    assert not failed and failed.statistic > 10 * estimate.stderr


# --------------------------------------------------------------------------- theory vs MC


def test_theory_matches_monte_carlo_is_two_sided():
    theory = 0.9
    assert check_theory_matches_monte_carlo(
        theory, Estimate(value=1.0, stderr=0.05, n_samples=9), n_se=2.1
    )
    for value in (1.0, 0.8):
        estimate = Estimate(value=value, stderr=0.05, n_samples=9)
        result = check_theory_matches_monte_carlo(theory, estimate, n_se=1.9)
        assert not result and "does not match" in result.message
        assert result.statistic == pytest.approx(0.1, rel=1e-9)
        assert result.threshold == pytest.approx(0.095, rel=1e-12)
    with pytest.raises(AssertionError, match="does not match theory"):
        assert_theory_matches_monte_carlo(
            theory, Estimate(value=1.0, stderr=0.05, n_samples=9), n_se=1
        )


def test_theory_tolerances_and_estimated_theory():
    estimate = Estimate(value=1.0, stderr=0.0, n_samples=4)
    assert check_theory_matches_monte_carlo(1.0, estimate)
    assert not check_theory_matches_monte_carlo(0.99, estimate)
    assert check_theory_matches_monte_carlo(0.99, estimate, rel_tol=0.0102)
    assert check_theory_matches_monte_carlo(np.asarray(1.0), estimate)  # 0-d array
    theory = Estimate(value=0.9, stderr=0.04, n_samples=50)  # combined SE 0.05
    assert check_theory_matches_monte_carlo(theory, CONSTRUCTION, n_se=2.01)
    assert not check_theory_matches_monte_carlo(theory, CONSTRUCTION, n_se=1.99)
    with pytest.raises(InvalidParameter, match="estimate"):
        check_theory_matches_monte_carlo(1.0, [1.0, 2.0])


def _reduced_model_errors(ratio: float, feature_prob: float, n_samples: int) -> np.ndarray:
    """Independent Monte Carlo of (a ReLU(x + c + σz) − x)² at the symmetric optimum."""
    optimum = symmetric_optimum(ratio, feature_prob)
    rng = np.random.default_rng(2024)
    x = (rng.random(n_samples) < feature_prob) * rng.random(n_samples)
    pre = x + float(optimum.c) + float(optimum.sigma) * rng.standard_normal(n_samples)
    return (float(optimum.scale) * np.maximum(pre, 0.0) - x) ** 2


def test_theory_check_accepts_the_closed_form_and_rejects_a_biased_one():
    estimate = Estimate.from_samples(_reduced_model_errors(0.25, 0.05, 200_000))
    loss = symmetric_optimum(0.25, 0.05).loss
    assert_theory_matches_monte_carlo(loss, estimate, n_se=4)
    assert estimate.stderr < 0.02 * float(loss)  # so a 10 % bias is > 5 SE
    assert not check_theory_matches_monte_carlo(1.1 * loss, estimate, n_se=4)


# --------------------------------------------------------------------------- exactness


def test_modular_construction_is_exact_and_margin_matches_enumeration():
    model = modular_addition(31, (1, 3), 3, "quadratic")
    result = assert_exact_on_all_inputs(model)
    assert result.statistic == pytest.approx(exactness(model).margin, rel=1e-9)
    assert "0 of 961 pairs wrong" in result.message
    assert not check_exact_on_all_inputs(model, min_margin=2 * result.statistic)


def test_inexact_modular_model_fails():
    with pytest.warns(UserWarning, match="not exact"):
        model = modular_addition(31, 1, 4, "quadratic", strict=False)  # N = 4 aliases
    report = exactness(model)
    result = check_exact_on_all_inputs(model)
    assert not result and result.statistic == pytest.approx(report.margin, abs=1e-12)
    assert f"{report.n_wrong} of 961 pairs wrong" in result.message
    with pytest.raises(AssertionError, match="NOT exact"):
        assert_exact_on_all_inputs(model)
    with pytest.raises(InvalidParameter, match="inputs"):
        check_exact_on_all_inputs(model, np.zeros((2, 2)))


def test_lookup_table_exact_on_its_keys_and_wrong_values_fail():
    rng = np.random.default_rng(5)
    keys = rng.standard_normal((6, 4))
    keys /= np.linalg.norm(keys, axis=1, keepdims=True)
    table = KeyValueTable(keys=keys, values=rng.uniform(-3, 3, (6, 2)))
    model = lookup_table(table.keys, table.values)
    result = assert_exact_on_all_inputs(model, table)
    assert result.statistic <= 1e-12
    assert assert_exact_on_all_inputs(model, table.keys, table.values).passed
    wrong = table.values.copy()
    wrong[3, 1] += 1e-6
    failed = check_exact_on_all_inputs(model, table.keys, wrong)
    assert not failed and failed.statistic == pytest.approx(1e-6, rel=1e-6)
    assert "1 of 6 inputs off" in failed.message and "(input 3)" in failed.message
    single = lookup_table(keys, table.values[:, 0])  # one output column, 1-D targets
    assert check_exact_on_all_inputs(single, keys, table.values[:, 0])


def test_label_exactness_has_the_closed_form_margin():
    """circle_unembedding: the logit gap is s(1 − cos 2π/C)
    (docs/memorisation.md#circle-unembedding)."""
    n_classes, scale = 7, 3.0
    model = circle_unembedding(n_classes, scale)
    one_hot, labels = np.eye(n_classes), np.arange(n_classes)
    gap = scale * (1 - math.cos(2 * math.pi / n_classes))
    result = assert_exact_on_all_inputs(model, one_hot, labels=labels)
    assert result.statistic == pytest.approx(gap, rel=1e-9)
    assert not check_exact_on_all_inputs(model, one_hot, labels=labels, min_margin=1.01 * gap)
    shifted = check_exact_on_all_inputs(model, one_hot, labels=np.roll(labels, 1))
    assert not shifted and "7 of 7 inputs misclassified" in shifted.message


@pytest.mark.parametrize(
    "call",
    [
        lambda m, t: check_exact_on_all_inputs(m),  # no inputs
        lambda m, t: check_exact_on_all_inputs(m, t.keys),  # no targets
        lambda m, t: check_exact_on_all_inputs(m, t.keys, t.values, labels=[0, 1]),
        lambda m, t: check_exact_on_all_inputs(m, t, t.values),  # table + targets
        lambda m, t: check_exact_on_all_inputs(m, t.keys, t.values[:, :1]),  # wrong shape
        lambda m, t: check_exact_on_all_inputs(m, t.keys, labels=[0.0, 1.0]),  # float labels
        lambda m, t: check_exact_on_all_inputs(m, t.keys, labels=[0, 2]),  # out of range
        lambda m, t: check_exact_on_all_inputs(m, np.zeros((0, 2)), t.values),  # no rows
        lambda m, t: check_exact_on_all_inputs(object(), t),  # no forward
        lambda m, t: check_exact_on_all_inputs(m, t, rtol=-1.0),
    ],
)
def test_exactness_refuses_bad_input(call):
    table = KeyValueTable(keys=np.eye(2), values=np.eye(2))
    with pytest.raises(InvalidParameter):
        call(lookup_table(table.keys, table.values), table)
