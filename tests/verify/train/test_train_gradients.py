"""Reference gradients (verify/gradients.py) against central finite differences (float64)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from toyforge.constructions.models import MLP, ReluAutoencoder
from toyforge.core.errors import InvalidParameter
from toyforge.verify.train.gradients import (
    cross_entropy_loss,
    loss_and_gradients,
    model_loss,
    mse_loss,
    per_sample_losses,
)

STEP = 1e-6
# Central differences of a piecewise-smooth loss in float64: truncation O(STEP²·curvature) and
# rounding O(eps·loss/STEP) ~ 1e-10, far below this tolerance unless a ReLU kink lies within
# STEP of the point (probability ~1e-6 with continuous random weights).
RTOL, ATOL = 1e-5, 1e-8


def _finite_difference(loss_of, array: np.ndarray) -> np.ndarray:
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        saved = array[index]
        array[index] = saved + STEP
        plus = loss_of()
        array[index] = saved - STEP
        minus = loss_of()
        array[index] = saved
        grad[index] = (plus - minus) / (2 * STEP)
    return grad


def _rebuild(model, arrays):
    if isinstance(model, ReluAutoencoder):
        if model.tied:
            return ReluAutoencoder.tied_from(arrays["W_in"], arrays["b"])
        return ReluAutoencoder(W_in=arrays["W_in"], W_out=arrays["W_out"], b=arrays["b"])
    return MLP(
        **arrays,
        activation=model.activation,
        output_relu=model.output_relu,
        embedding=model.embedding,
    )


def _check_against_fd(model, inputs, targets, **kwargs) -> None:
    result = loss_and_gradients(model, inputs, targets, **kwargs)
    names = list(result.gradients)
    arrays = {
        name: np.array(value) for name, value in model.to_arrays().items() if name != "embedding"
    }
    if isinstance(model, ReluAutoencoder) and model.tied:
        arrays.pop("W_out")

    def loss_of() -> float:
        return model_loss(_rebuild(model, arrays), inputs, targets, **kwargs)

    assert result.loss == pytest.approx(loss_of(), rel=1e-12, abs=1e-15)
    for name in names:
        numeric = _finite_difference(loss_of, arrays[name])
        np.testing.assert_allclose(
            result.gradients[name], numeric, rtol=RTOL, atol=ATOL, err_msg=name
        )


dims = st.integers(1, 5)


@given(
    seed=st.integers(0, 2**31),
    n_features=dims,
    n_hidden=dims,
    batch=st.integers(1, 4),
    tied=st.booleans(),
    reduction=st.sampled_from(["mean", "sum_features"]),
    weighted=st.booleans(),
)
def test_autoencoder_gradients_match_finite_differences(
    seed, n_features, n_hidden, batch, tied, reduction, weighted
):
    rng = np.random.default_rng(seed)
    W_in = rng.normal(size=(n_hidden, n_features))
    b = rng.normal(scale=0.5, size=n_features)
    model = (
        ReluAutoencoder.tied_from(W_in, b)
        if tied
        else ReluAutoencoder(W_in=W_in, W_out=rng.normal(size=(n_features, n_hidden)), b=b)
    )
    inputs = np.where(rng.random((batch, n_features)) < 0.5, rng.random((batch, n_features)), 0)
    importance = rng.uniform(0.1, 2.0, n_features) if weighted else None
    _check_against_fd(model, inputs, None, importance=importance, reduction=reduction)


@given(
    seed=st.integers(0, 2**31),
    n_inputs=dims,
    n_hidden=dims,
    n_outputs=st.integers(2, 5),
    batch=st.integers(1, 4),
    activation=st.sampled_from(["relu", "identity", "quadratic"]),
    output_relu=st.booleans(),
    embedded=st.booleans(),
    loss=st.sampled_from(["mse", "cross_entropy_hard", "cross_entropy_soft"]),
)
def test_mlp_gradients_match_finite_differences(
    seed, n_inputs, n_hidden, n_outputs, batch, activation, output_relu, embedded, loss
):
    rng = np.random.default_rng(seed)
    embedding = rng.normal(size=(n_inputs, 3)) if embedded else None
    model = MLP(
        W1=rng.normal(size=(n_hidden, n_inputs)),
        b1=rng.normal(size=n_hidden),
        W2=rng.normal(size=(n_outputs, n_hidden)),
        b2=rng.normal(size=n_outputs),
        activation=activation,
        output_relu=output_relu,
        embedding=embedding,
    )
    inputs = rng.normal(size=(batch, model.n_features))
    if loss == "mse":
        targets = rng.normal(size=(batch, n_outputs))
        _check_against_fd(model, inputs, targets, loss="mse")
    elif loss == "cross_entropy_hard":
        _check_against_fd(model, inputs, rng.integers(0, n_outputs, batch), loss="cross_entropy")
    else:
        soft = rng.dirichlet(np.ones(n_outputs), size=batch)
        _check_against_fd(model, inputs, soft, loss="cross_entropy")


def test_mse_loss_by_hand():
    outputs = np.array([[1.0, 2.0], [0.0, 0.5]])
    targets = np.array([[0.0, 2.0], [1.0, 0.0]])
    importance = np.array([2.0, 1.0])
    loss, grad = mse_loss(outputs, targets, importance, reduction="mean")
    # (2·1 + 0 + 2·1 + 0.25) / 4
    assert loss == pytest.approx(4.25 / 4)
    np.testing.assert_allclose(grad, 2 / 4 * np.array([[2.0, 0.0], [-2.0, 0.5]]))
    loss_sum, _ = mse_loss(outputs, targets, importance, reduction="sum_features")
    assert loss_sum == pytest.approx(4.25 / 2)


def test_cross_entropy_by_hand():
    logits = np.array([[0.0, np.log(3.0)]])  # softmax = (1/4, 3/4)
    loss, grad = cross_entropy_loss(logits, np.array([1]))
    assert loss == pytest.approx(-np.log(0.75))
    np.testing.assert_allclose(grad, [[0.25, -0.25]])
    soft_loss, _ = cross_entropy_loss(logits, np.array([[0.5, 0.5]]))
    assert soft_loss == pytest.approx(-0.5 * np.log(0.25) - 0.5 * np.log(0.75))


def test_per_sample_losses_average_to_the_loss():
    rng = np.random.default_rng(3)
    model = ReluAutoencoder(
        W_in=rng.normal(size=(2, 6)), W_out=rng.normal(size=(6, 2)), b=rng.normal(size=6)
    )
    inputs = rng.random((5, 6))
    for reduction in ("mean", "sum_features"):
        values = per_sample_losses(model, inputs, reduction=reduction)
        assert values.shape == (5,)
        assert values.mean() == pytest.approx(model_loss(model, inputs, reduction=reduction))


def test_bad_inputs_are_refused():
    model = MLP(W1=np.ones((2, 3)), b1=np.zeros(2), W2=np.ones((4, 2)), b2=np.zeros(4))
    with pytest.raises(InvalidParameter, match="targets"):
        loss_and_gradients(model, np.ones((1, 3)))
    with pytest.raises(InvalidParameter, match="importance"):
        loss_and_gradients(
            model, np.ones((1, 3)), np.array([1]), loss="cross_entropy", importance=np.ones(4)
        )
    with pytest.raises(InvalidParameter, match="loss"):
        loss_and_gradients(model, np.ones((1, 3)), np.ones((1, 4)), loss="hinge")
    with pytest.raises(InvalidParameter, match="targets"):
        loss_and_gradients(model, np.ones((1, 3)), np.array([7]), loss="cross_entropy")
