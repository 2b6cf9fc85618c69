"""The convergence rule's bookkeeping and the trainer protocol checker."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from toyforge.core.errors import InvalidParameter
from toyforge.verify.train.convergence import (
    ConvergenceMonitor,
    ConvergenceRule,
    default_learning_rate,
)
from toyforge.verify.train.protocol import protocol_violations


def _decisions(rule, losses):
    monitor = ConvergenceMonitor(rule=rule)
    return [monitor.update(loss) for loss in losses]


def test_steady_improvement_never_stops():
    rule = ConvergenceRule(tol=1e-3, patience=1, max_decays=0)
    # 1 % better every check: far above the 0.1 % tolerance.
    losses = [0.99**k for k in range(50)]
    assert set(_decisions(rule, losses)) == {"continue"}


def test_plateau_decays_then_converges():
    rule = ConvergenceRule(tol=1e-2, patience=2, max_decays=1)
    # improvements of 0.5 % (< 1 % tolerance) are flat: two in a row -> decay, two more -> stop
    losses = [1.0, 0.995, 0.990, 0.985, 0.980]
    assert _decisions(rule, losses) == ["continue", "continue", "decay", "continue", "converged"]


def test_a_noisy_bump_does_not_count_as_progress():
    rule = ConvergenceRule(tol=1e-3, patience=2, max_decays=0)
    # The loss rises then comes back to (not below) the best: both checks are flat.
    assert _decisions(rule, [1.0, 1.2, 1.0]) == ["continue", "continue", "converged"]


def test_tolerance_zero_is_the_strict_rule():
    rule = ConvergenceRule(tol=0.0, patience=1, max_decays=0)
    assert _decisions(rule, [1.0, 0.9, 0.9]) == ["continue", "continue", "converged"]


def test_lr_factor_follows_decays():
    monitor = ConvergenceMonitor(rule=ConvergenceRule(tol=0.5, patience=1, lr_decay=0.25))
    monitor.update(1.0)
    assert monitor.update(0.9) == "decay"
    assert monitor.lr_factor == pytest.approx(0.25)


@pytest.mark.parametrize(
    "field, value",
    [
        ("window", 0),
        ("tol", -0.1),
        ("tol", 1.0),
        ("patience", 0),
        ("lr_decay", 0.0),
        ("lr_decay", 1.5),
        ("max_decays", -1),
        ("eval_samples", 1),
        ("tol", math.nan),
    ],
)
def test_rule_refuses_bad_values(field, value):
    with pytest.raises(InvalidParameter, match=field):
        ConvergenceRule(**{field: value})


def test_monitor_refuses_non_finite_loss():
    with pytest.raises(InvalidParameter):
        ConvergenceMonitor(rule=ConvergenceRule()).update(math.nan)


def test_default_learning_rate_scales_as_inverse_sqrt_n():
    assert default_learning_rate(400) == pytest.approx(0.03 / 20)
    assert default_learning_rate(1600) * 2 == pytest.approx(default_learning_rate(400))


@dataclass
class _History:
    steps: np.ndarray
    train_loss: np.ndarray


@dataclass
class _Result:
    model: object
    history: _History
    converged: bool
    steps: int
    config: object


def test_protocol_violations_accepts_a_conforming_result():
    history = _History(steps=np.array([10, 20]), train_loss=np.array([1.0, 0.5]))
    assert protocol_violations(_Result(None, history, True, 20, None)) == []


def test_protocol_violations_names_each_problem():
    history = _History(steps=np.array([10, 30]), train_loss=np.array([1.0, 0.5]))
    problems = protocol_violations(_Result(None, history, "yes", 20, None))
    assert any("converged" in p for p in problems)
    assert any("ends at step 30" in p for p in problems)
    assert protocol_violations(object()) == [
        "missing 'model'",
        "missing 'history'",
        "missing 'converged'",
        "missing 'steps'",
        "missing 'config'",
    ]
