"""The grokking trainer: analytic gradients, reproducibility, and a short grokking run."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toyforge.verify.experiments.grokking import (
    ModularTrainingConfig,
    _loss_and_grads,
    _make_batch,
    grads_reference,
    init_parameters,
    train_modular_addition,
)


def _params(architecture: str, modulus: int, seed: int) -> dict[str, np.ndarray]:
    config = ModularTrainingConfig(
        modulus=modulus, d_embed=6, n_hidden=5, architecture=architecture, dtype="float64"
    )
    return init_parameters(config, np.random.default_rng(seed))


def _pairs(modulus: int, seed: int, n_pairs: int = 20) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, modulus, size=(n_pairs, 2))


@pytest.mark.parametrize("architecture", ["factored", "direct"])
def test_reference_gradients_match_finite_differences(architecture):
    modulus, params = 7, _params(architecture, 7, 0)
    pairs = _pairs(modulus, 1)
    _, grads = grads_reference(params, pairs, modulus)
    step = 1e-6
    rng = np.random.default_rng(2)
    for name, value in params.items():
        for _ in range(4):
            index = tuple(rng.integers(0, n) for n in value.shape)
            shifted = {k: v.copy() for k, v in params.items()}
            shifted[name][index] += step
            up, _ = grads_reference(shifted, pairs, modulus)
            shifted[name][index] -= 2 * step
            down, _ = grads_reference(shifted, pairs, modulus)
            assert grads[name][index] == pytest.approx((up - down) / (2 * step), abs=1e-7)


@settings(max_examples=15)
@given(st.sampled_from(["factored", "direct"]), st.sampled_from([5, 7, 11]), st.integers(0, 1000))
def test_fast_gradients_match_reference(architecture, modulus, seed):
    params = _params(architecture, modulus, seed)
    pairs = _pairs(modulus, seed + 1)
    loss_ref, grads_ref = grads_reference(params, pairs, modulus)
    batch = _make_batch(pairs, modulus, np.dtype(np.float64))
    loss, _, grads = _loss_and_grads({k: v.copy() for k, v in params.items()}, batch)
    assert loss / modulus == pytest.approx(loss_ref, rel=1e-10)  # reference is CE / p
    for name in params:
        np.testing.assert_allclose(grads[name], grads_ref[name], rtol=1e-8, atol=1e-14)


def test_same_seed_same_history():
    config = ModularTrainingConfig(
        modulus=23, d_embed=32, n_hidden=8, steps=300, eval_every=50, seed=3
    )
    first = train_modular_addition(config)
    second = train_modular_addition(config)
    for name, values in first.history.to_arrays().items():
        np.testing.assert_array_equal(values, second.history.to_arrays()[name], err_msg=name)
    np.testing.assert_array_equal(first.model.input_matrix(), second.model.input_matrix())
    other = train_modular_addition(
        ModularTrainingConfig(modulus=23, d_embed=32, n_hidden=8, steps=300, eval_every=50, seed=4)
    )
    assert not np.array_equal(other.history.train_loss, first.history.train_loss)


def test_config_validation():
    from toyforge.core.errors import InvalidParameter

    with pytest.raises(InvalidParameter, match="train_fraction"):
        ModularTrainingConfig(train_fraction=1.0)
    with pytest.raises(InvalidParameter, match="dtype"):
        ModularTrainingConfig(dtype="float16")


def test_fused_adamw_matches_reference_optimiser():
    from toyforge.verify.experiments.grokking import _AdamW
    from toyforge.verify.train.optim import Adam, AdamConfig

    config = ModularTrainingConfig(
        modulus=7, d_embed=6, n_hidden=5, dtype="float64", lr=1e-2, weight_decay=0.5
    )
    params = _params("factored", 7, 5)
    reference = {k: v.copy() for k, v in params.items()}
    fused = _AdamW(config, params)
    slow = Adam(
        config=AdamConfig(
            lr=1e-2, beta1=0.9, beta2=0.98, eps=1e-8, weight_decay=0.5, decoupled=True
        )
    )
    rng = np.random.default_rng(9)
    for _ in range(5):
        grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
        fused.step(params, grads)
        slow.step(reference, grads)
    for name in params:
        np.testing.assert_allclose(params[name], reference[name], rtol=1e-12, atol=1e-14)
