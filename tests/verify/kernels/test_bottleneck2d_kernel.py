"""The m = 2 double-descent kernel against its numpy references (and a finite difference)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from toyforge.verify.kernels import bottleneck2d as kernel

seeds = st.integers(0, 2**32 - 1)


def _problem(seed, n_points, n_features, density):
    rng = np.random.default_rng(seed)
    dense = rng.random((n_points, n_features)) * (rng.random((n_points, n_features)) < density)
    rows, cols = np.nonzero(dense)
    indptr = np.zeros(n_points + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_points), out=indptr[1:])
    W = rng.normal(size=(2, n_features))
    b = rng.normal(scale=0.5, size=n_features)
    return W, b, indptr, cols.astype(np.int64), dense[rows, cols].copy()


@given(seeds, st.integers(1, 25), st.integers(1, 40), st.floats(0.0, 1.0))
def test_loss_and_gradient_match_reference(seed, n_points, n_features, density):
    W, b, indptr, indices, values = _problem(seed, n_points, n_features, density)
    loss, grad_W, grad_b = kernel.loss_and_gradient_kernel(W, b, indptr, indices, values)
    ref_loss, ref_W, ref_b = kernel.loss_and_gradient_reference(W, b, indptr, indices, values)
    scale = 1.0 + ref_loss
    assert abs(loss - ref_loss) <= 1e-12 * scale * n_features
    np.testing.assert_allclose(grad_W, ref_W, rtol=1e-10, atol=1e-12 * scale * n_features)
    np.testing.assert_allclose(grad_b, ref_b, rtol=1e-10, atol=1e-12 * scale * n_features)


def test_reference_gradient_matches_finite_differences():
    W, b, indptr, indices, values = _problem(3, 6, 9, 0.4)
    _, grad_W, grad_b = kernel.loss_and_gradient_reference(W, b, indptr, indices, values)
    step = 1e-6
    for row, column in [(0, 0), (1, 4), (0, 8)]:
        shifted = [W.copy(), W.copy()]
        shifted[0][row, column] += step
        shifted[1][row, column] -= step
        losses = [
            kernel.loss_and_gradient_reference(w, b, indptr, indices, values)[0] for w in shifted
        ]
        assert abs((losses[0] - losses[1]) / (2 * step) - grad_W[row, column]) < 1e-6
    for column in (0, 5):
        bias = [b.copy(), b.copy()]
        bias[0][column] += step
        bias[1][column] -= step
        losses = [
            kernel.loss_and_gradient_reference(W, c, indptr, indices, values)[0] for c in bias
        ]
        assert abs((losses[0] - losses[1]) / (2 * step) - grad_b[column]) < 1e-6


@given(seeds, st.integers(1, 12), st.integers(1, 20), st.integers(1, 15), st.floats(0.0, 0.1))
def test_train_steps_match_reference_adamw(seed, n_points, n_features, n_steps, weight_decay):
    W, b, indptr, indices, values = _problem(seed, n_points, n_features, 0.3)
    rates = np.random.default_rng(seed).uniform(1e-4, 1e-2, size=n_steps)
    ref_W, ref_b, ref_losses = kernel.train_steps_reference(
        W, b, indptr, indices, values, rates, weight_decay=weight_decay
    )
    moments = [np.zeros_like(W), np.zeros_like(W), np.zeros_like(b), np.zeros_like(b)]
    losses = np.empty(n_steps)
    # two calls (split the steps) exercise the step offset of the bias correction
    half = n_steps // 2
    kernel.train_steps_kernel(
        W,
        b,
        *moments,
        indptr,
        indices,
        values,
        rates[:half],
        0,
        0.9,
        0.999,
        1e-8,
        weight_decay,
        losses[:half],
    )
    kernel.train_steps_kernel(
        W,
        b,
        *moments,
        indptr,
        indices,
        values,
        rates[half:],
        half,
        0.9,
        0.999,
        1e-8,
        weight_decay,
        losses[half:],
    )
    np.testing.assert_allclose(W, ref_W, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(b, ref_b, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-9, atol=1e-11)


def test_warmup_compiles():
    kernel.warmup()
