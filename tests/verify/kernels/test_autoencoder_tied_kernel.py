"""The fused tied-autoencoder kernel against the numpy reference gradients (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from toyforge.verify.kernels.autoencoder_train_tied import tied_loss_gradients, warmup
from toyforge.verify.train.gradients import relu_autoencoder_loss_gradients

TOLERANCE = {np.float64: dict(rtol=1e-10, atol=1e-13), np.float32: dict(rtol=1e-4, atol=1e-6)}


@settings(max_examples=60)
@given(
    seed=st.integers(0, 2**31),
    n_features=st.integers(1, 12),
    n_hidden=st.integers(1, 5),
    batch=st.integers(1, 20),
    density=st.floats(0.0, 1.0),
    reduction=st.sampled_from(["mean", "sum_features"]),
    with_targets=st.booleans(),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_tied_kernel_matches_reference(
    seed, n_features, n_hidden, batch, density, reduction, with_targets, dtype
):
    rng = np.random.default_rng(seed)
    x = np.where(rng.random((batch, n_features)) < density, rng.random((batch, n_features)), 0.0)
    targets = rng.random((batch, n_features)) if with_targets else x
    W = rng.normal(size=(n_hidden, n_features))
    b = rng.normal(scale=0.3, size=n_features)
    importance = rng.random(n_features) + 0.1
    reference = relu_autoencoder_loss_gradients(
        W, None, b, x, targets, tied=True, importance=importance, reduction=reduction
    )
    cast = [np.ascontiguousarray(a, dtype=dtype) for a in (x, targets, W, b, importance)]
    grad_W, grad_b = np.empty_like(cast[2]), np.empty_like(cast[3])
    scale = 1.0 / (batch * n_features) if reduction == "mean" else 1.0 / batch
    loss = tied_loss_gradients(*cast, scale, grad_W, grad_b)
    tol = TOLERANCE[dtype]
    assert np.isclose(loss, reference.loss, rtol=tol["rtol"] * 10, atol=tol["atol"])
    np.testing.assert_allclose(grad_W, reference.gradients["W_in"], **tol)
    np.testing.assert_allclose(grad_b, reference.gradients["b"], **tol)


def test_warmup_compiles_both_dtypes():
    assert len(warmup()) == 2
