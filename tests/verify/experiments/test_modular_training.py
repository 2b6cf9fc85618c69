"""The grokking trainer: analytic gradients, reproducibility, and a short grokking run."""

from __future__ import annotations

from dataclasses import replace

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
    with pytest.raises(InvalidParameter, match="modulus"):
        ModularTrainingConfig(modulus=65)


def test_two_steps_match_reference_gradients_and_adam():
    # the trainer's steps = reference gradients (explicit one-hots) + optim.Adam, by hand
    from toyforge.verify.data.sampling import modular_addition_pairs
    from toyforge.verify.train.optim import Adam, AdamConfig

    config = ModularTrainingConfig(
        modulus=7, d_embed=6, n_hidden=5, dtype="float64", lr=1e-2, weight_decay=0.5,
        steps=2, seed=5, train_fraction=0.5,
    )  # fmt: skip
    params = init_parameters(config, np.random.default_rng(5))
    train_pairs, _ = modular_addition_pairs(7, 0.5, seed=5, unordered=True)
    adam = Adam(config=AdamConfig(lr=1e-2, beta1=0.9, beta2=0.98, weight_decay=0.5))
    for _ in range(2):
        _, grads = grads_reference(params, train_pairs, 7)
        adam.step(params, grads)
    result = train_modular_addition(config)
    np.testing.assert_allclose(result.model.embedding, params["embedding"], rtol=1e-12)
    np.testing.assert_allclose(result.model.projection, params["projection"], rtol=1e-12)
    np.testing.assert_allclose(result.model.readout, params["readout"], rtol=1e-12)


def test_mixed_precision_is_pairs_layout():
    config = ModularTrainingConfig(modulus=7, d_embed=6, n_hidden=5, dtype="mixed")
    params = init_parameters(config, np.random.default_rng(0))
    assert params["embedding"].dtype == np.float32
    assert params["projection"].dtype == params["readout"].dtype == np.float64
    as64 = init_parameters(replace(config, dtype="float64"), np.random.default_rng(0))
    np.testing.assert_array_equal(params["embedding"], as64["embedding"].astype(np.float32))


def test_float32_gradient_keeps_the_target_term():
    # a pair fitted below float32's rounding unit: the naive p_t − 1 cancels to 0, the stable
    # form keeps −Σ_{c≠t} p_c, so the float32 gradient stays close to the float64 one
    params = _params("direct", 5, 0)
    params["W_in"] = np.zeros((5, 5))
    params["W_in"][:, 0] = 1.0
    params["W_out"] = np.zeros((5, 5))
    params["W_out"][0, 2] = 17.0  # pair (1, 1) -> target 2 with logit margin 34
    pairs = np.array([[1, 1]])
    _, ref = grads_reference(params, pairs, 5)
    as32 = {k: v.astype(np.float32) for k, v in params.items()}
    _, _, grads = _loss_and_grads(as32, _make_batch(pairs, 5, np.dtype(np.float32)))
    target_column = grads["W_out"][0, 2]
    assert target_column != 0.0
    assert target_column == pytest.approx(ref["W_out"][0, 2], rel=1e-5)


def test_result_follows_trainer_protocol():
    from toyforge.verify.train.protocol import protocol_violations

    config = ModularTrainingConfig(modulus=7, d_embed=6, n_hidden=5, steps=20, eval_every=10)
    assert protocol_violations(train_modular_addition(config)) == []
