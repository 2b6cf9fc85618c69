"""Adam / AdamW steps and schedules against hand-written formulas on tiny examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from toyforge.verify.train.optim import Adam, AdamConfig, Schedule, warmup_cosine_schedule


def test_adam_two_steps_by_hand():
    """Kingma & Ba (2015) Algorithm 1 with torch's epsilon placement, one scalar parameter."""
    config = AdamConfig(lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8)
    optimizer = Adam(config=config)
    theta = np.array([1.0])
    g1, g2 = 0.5, -2.0
    optimizer.step({"w": theta}, {"w": np.array([g1])})
    # step 1: m = 0.05, v = 0.00025, m_hat = 0.5, v_hat = 0.25
    expected = 1.0 - 0.1 * 0.5 / (0.5 + 1e-8)
    assert theta[0] == pytest.approx(expected, rel=1e-14)
    optimizer.step({"w": theta}, {"w": np.array([g2])})
    m = 0.9 * 0.05 + 0.1 * g2
    v = 0.999 * 0.00025 + 0.001 * g2**2
    expected -= 0.1 * (m / (1 - 0.9**2)) / (math.sqrt(v / (1 - 0.999**2)) + 1e-8)
    assert theta[0] == pytest.approx(expected, rel=1e-14)


def test_adamw_decays_before_the_step_and_adam_l2_adds_to_gradient():
    grad = np.array([0.3])
    decoupled = np.array([2.0])
    Adam(config=AdamConfig(lr=0.01, weight_decay=0.5)).step({"w": decoupled}, {"w": grad})
    # AdamW: θ ← θ(1 − lr·wd) − lr·m̂/(√v̂ + ε), m̂ = g, √v̂ = |g| at step 1
    assert decoupled[0] == pytest.approx(2.0 * (1 - 0.01 * 0.5) - 0.01 * 0.3 / (0.3 + 1e-8))
    coupled = np.array([2.0])
    Adam(config=AdamConfig(lr=0.01, weight_decay=0.5, decoupled=False)).step(
        {"w": coupled}, {"w": grad}
    )
    effective = 0.3 + 0.5 * 2.0  # g + wd·θ
    assert coupled[0] == pytest.approx(2.0 - 0.01 * effective / (effective + 1e-8))


def test_skip_decay_leaves_named_parameters_undecayed():
    weights, bias = np.array([1.0]), np.array([1.0])
    Adam(config=AdamConfig(lr=0.1, weight_decay=1.0)).step(
        {"w": weights, "b": bias},
        {"w": np.array([0.0]), "b": np.array([0.0])},
        skip_decay=frozenset({"b"}),
    )
    assert weights[0] == pytest.approx(0.9)
    assert bias[0] == 1.0


def test_warmup_cosine_schedule_values():
    schedule = warmup_cosine_schedule(total_steps=110, warmup_steps=10, final=0.1)
    assert schedule.factor(0) == pytest.approx(0.1)
    assert schedule.factor(9) == pytest.approx(1.0)
    assert schedule.factor(10) == pytest.approx(1.0)
    assert schedule.factor(60) == pytest.approx(0.1 + 0.9 * 0.5)
    assert schedule.factor(110) == pytest.approx(0.1)
    assert Schedule().factor(1234) == 1.0
