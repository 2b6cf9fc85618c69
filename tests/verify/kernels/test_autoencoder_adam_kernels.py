"""The fused Adam kernels against THE Adam reference (verify/train/optim.py), with hypothesis.

Both kernel entry points — ``adam_flat`` (known gradient) and ``adam_rows_from_sparse``
(gradient rows built from a sparse feature-major matrix, fused with the update) — must follow
:class:`toyforge.verify.train.optim.Adam` over several steps for any hyperparameters.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from toyforge.verify.kernels.autoencoder_train_adam import (
    adam_coefficients,
    adam_flat,
    adam_rows_from_sparse,
    adam_rows_scatter_from_sparse,
    transpose_csr,
)
from toyforge.verify.train.optim import Adam, AdamConfig

# float64: same formula, different grouping of the constants (1e-12 relative); float32: one
# step moves a parameter by ~lr with ~1e-7 relative rounding of m / sqrt(v).
TOLERANCE = {np.float64: dict(rtol=1e-9, atol=1e-12), np.float32: dict(rtol=1e-4, atol=1e-5)}

hyper = st.fixed_dictionaries(
    {
        "lr": st.floats(1e-4, 1e-1),
        "beta1": st.floats(0.0, 0.99),
        "beta2": st.floats(0.9, 0.9999),
        "eps": st.floats(1e-8, 1e-6),
        "weight_decay": st.sampled_from([0.0, 1e-3, 0.1]),
        "decoupled": st.booleans(),
    }
)


def _coefficients(config: AdamConfig, t: int, dtype) -> np.ndarray:
    return adam_coefficients(
        config.lr,
        config.beta1,
        config.beta2,
        config.eps,
        1 - config.beta1**t,
        1 - config.beta2**t,
        config.weight_decay,
        config.decoupled,
        dtype,
    )


@settings(max_examples=40)
@given(
    hyper=hyper,
    seed=st.integers(0, 2**31),
    size=st.integers(1, 70),
    steps=st.integers(1, 5),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_adam_flat_follows_the_reference(hyper, seed, size, steps, dtype):
    rng = np.random.default_rng(seed)
    config = AdamConfig(**hyper)
    reference = {"w": rng.normal(size=size).astype(dtype)}
    param = reference["w"].copy()
    first, second = np.zeros_like(param), np.zeros_like(param)
    optimizer = Adam(config=config)
    for t in range(1, steps + 1):
        grad = rng.normal(size=size).astype(dtype)
        optimizer.step(reference, {"w": grad})
        adam_flat(param, first, second, grad, _coefficients(config, t, dtype))
    assert param.dtype == dtype
    np.testing.assert_allclose(param, reference["w"], **TOLERANCE[dtype])
    np.testing.assert_allclose(first, optimizer.first_moments["w"], **TOLERANCE[dtype])


@settings(max_examples=40)
@given(
    hyper=hyper,
    seed=st.integers(0, 2**31),
    n_rows=st.integers(1, 40),
    width=st.integers(1, 9),
    batch=st.integers(1, 12),
    density=st.floats(0.0, 1.0),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_fused_sparse_rows_follow_the_reference(hyper, seed, n_rows, width, batch, density, dtype):
    """Row i of the gradient is Σ_b C[b, i] D[b] (C sparse); every row, even an all-zero one,
    gets its Adam update (moments decay)."""
    rng = np.random.default_rng(seed)
    config = AdamConfig(**hyper)
    reference = {"w": rng.normal(size=(n_rows, width)).astype(dtype)}
    param = reference["w"].copy()
    first, second = np.zeros_like(param), np.zeros_like(param)
    optimizer = Adam(config=config)
    grad_out = np.empty_like(param)
    for t in range(1, 4):
        C = np.where(rng.random((batch, n_rows)) < density, rng.normal(size=(batch, n_rows)), 0.0)
        C = C.astype(dtype)
        D = rng.normal(size=(batch, width)).astype(dtype)
        rows, columns = np.nonzero(C)
        indptr = np.searchsorted(rows, np.arange(batch + 1)).astype(np.int64)
        col_ptr, col_rows, col_values = transpose_csr(
            indptr, columns.astype(np.int32), C[rows, columns], n_rows
        )
        optimizer.step(reference, {"w": C.T.astype(np.float64).dot(D).astype(dtype)})
        adam_rows_from_sparse(
            param, first, second, col_ptr, col_rows, col_values, D,
            _coefficients(config, t, dtype), grad_out, True,
        )  # fmt: skip
        np.testing.assert_allclose(grad_out, C.T.astype(np.float64) @ D, **TOLERANCE[dtype])
    np.testing.assert_allclose(param, reference["w"], **TOLERANCE[dtype])


@settings(max_examples=40)
@given(
    hyper=hyper,
    seed=st.integers(0, 2**31),
    n_rows=st.integers(1, 40),
    width=st.integers(1, 300),
    batch=st.integers(1, 12),
    density=st.sampled_from([0.0, 0.1, 0.5, 1.0]),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_fused_rows_with_scattered_product_follow_the_reference(
    hyper, seed, n_rows, width, batch, density, dtype
):
    """The scatter variant: the same Adam rows, and ``product = C θ`` with θ *before* the
    update (numpy product of the reference's parameters before its step)."""
    rng = np.random.default_rng(seed)
    config = AdamConfig(**hyper)
    reference = {"w": rng.normal(size=(n_rows, width)).astype(dtype)}
    param = reference["w"].copy()
    first, second = np.zeros_like(param), np.zeros_like(param)
    optimizer = Adam(config=config)
    grad_out = np.empty_like(param)
    product = rng.normal(size=(batch, width)).astype(dtype)  # garbage in: overwritten
    for t in range(1, 4):
        C = np.where(rng.random((batch, n_rows)) < density, rng.normal(size=(batch, n_rows)), 0.0)
        C = C.astype(dtype)
        D = rng.normal(size=(batch, width)).astype(dtype)
        rows, columns = np.nonzero(C)
        indptr = np.searchsorted(rows, np.arange(batch + 1)).astype(np.int64)
        col_ptr, col_rows, col_values = transpose_csr(
            indptr, columns.astype(np.int32), C[rows, columns], n_rows
        )
        expected_product = C.astype(np.float64) @ reference["w"].astype(np.float64)
        optimizer.step(reference, {"w": C.T.astype(np.float64).dot(D).astype(dtype)})
        adam_rows_scatter_from_sparse(
            param, first, second, col_ptr, col_rows.astype(np.int32), col_values, D,
            _coefficients(config, t, dtype), grad_out, True, product,
        )  # fmt: skip
        np.testing.assert_allclose(grad_out, C.T.astype(np.float64) @ D, **TOLERANCE[dtype])
        np.testing.assert_allclose(product, expected_product, **TOLERANCE[dtype])
    np.testing.assert_allclose(param, reference["w"], **TOLERANCE[dtype])
