"""Sparse-aware training kernels against the numpy reference (gradients.py + optim.Adam)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from toyforge.verify.data.sampling import sample_sparse_batch
from toyforge.verify.kernels import autoencoder_train as kernels
from toyforge.verify.train.gradients import relu_autoencoder_loss_gradients
from toyforge.verify.train.optim import Adam, AdamConfig

# float64: the kernels and numpy add the same terms in different orders (1e-12 relative);
# float32: a few ulps of the largest term, and one Adam step moves a parameter by ~lr, whose
# rounding error is ~lr·1e-6 relative to |m|/sqrt(v).
TOLERANCE = {np.float64: dict(rtol=1e-9, atol=1e-12), np.float32: dict(rtol=2e-4, atol=2e-6)}


def _random_problem(seed, n_features, n_hidden, batch, feature_prob, dtype):
    rng = np.random.default_rng(seed)
    W_in = rng.uniform(-1, 1, (n_hidden, n_features)) / np.sqrt(n_features)
    W_out = rng.uniform(-1, 1, (n_features, n_hidden)) / np.sqrt(n_hidden)
    b = rng.uniform(-0.3, 0.2, n_features)
    batches = [
        sample_sparse_batch(n_features, feature_prob, batch, rng, dtype=dtype) for _ in range(4)
    ]
    return W_in, W_out, b, batches


def _reference_steps(
    W_in, W_out, b, batches, adam_config, dtype, importance, reduction, decay_bias
):
    params = {"W_in": W_in.astype(dtype), "W_out": W_out.astype(dtype), "b": b.astype(dtype)}
    optimizer = Adam(config=adam_config)
    losses, gradients = [], []
    for batch in batches:
        result = relu_autoencoder_loss_gradients(
            params["W_in"],
            params["W_out"],
            params["b"],
            batch.to_dense(),
            importance=None if importance is None else importance.astype(dtype),
            reduction=reduction,
        )
        losses.append(result.loss)
        gradients.append(result.gradients)
        optimizer.step(
            params, result.gradients, skip_decay=frozenset() if decay_bias else frozenset({"b"})
        )
    return params, losses, gradients


@given(
    seed=st.integers(0, 2**31),
    n_features=st.integers(1, 24),
    n_hidden=st.integers(1, 6),
    batch=st.integers(1, 9),
    feature_prob=st.sampled_from([0.05, 0.2, 0.6, 1.0]),
    dtype=st.sampled_from([np.float32, np.float64]),
    threshold=st.sampled_from([0.0, 0.3, 2.0]),
    weighted=st.booleans(),
    reduction=st.sampled_from(["mean", "sum_features"]),
    weight_decay=st.sampled_from([0.0, 0.05]),
    decoupled=st.booleans(),
    decay_bias=st.booleans(),
)
def test_stepper_matches_reference(
    seed,
    n_features,
    n_hidden,
    batch,
    feature_prob,
    dtype,
    threshold,
    weighted,
    reduction,
    weight_decay,
    decoupled,
    decay_bias,
):
    """Loss, gradients and weights after 4 Adam steps equal the numpy reference.

    ``threshold`` 0 forces the dense dL/du path, 2 the sparse path, 0.3 lets the stepper
    switch between them from the measured density.
    """
    W_in, W_out, b, batches = _random_problem(
        seed, n_features, n_hidden, batch, feature_prob, dtype
    )
    rng = np.random.default_rng(seed + 1)
    importance = rng.uniform(0.2, 2.0, n_features) if weighted else None
    adam_config = AdamConfig(lr=1e-2, weight_decay=weight_decay, decoupled=decoupled)
    stepper = kernels.AutoencoderStepper(
        W_in,
        W_out,
        b,
        Adam(config=adam_config),
        batch_size=batch,
        dtype=dtype,
        importance=importance,
        reduction=reduction,
        dense_threshold=threshold,
        decay_bias=decay_bias,
    )
    stepper.store_grad = True
    expected, losses, gradients = _reference_steps(
        W_in, W_out, b, batches, adam_config, dtype, importance, reduction, decay_bias
    )
    tolerance = TOLERANCE[dtype]
    for batch_data, loss, grads in zip(batches, losses, gradients, strict=True):
        stats = stepper.step(batch_data.indptr, batch_data.indices, batch_data.values)
        assert stats.loss == pytest.approx(loss, rel=tolerance["rtol"], abs=tolerance["atol"])
        got = stepper.last_gradients()
        for name in ("W_in", "W_out", "b"):
            scale = max(float(np.abs(grads[name]).max()), 1e-30)
            np.testing.assert_allclose(
                got[name] / scale, grads[name] / scale, **tolerance, err_msg=f"gradient {name}"
            )
    for name, array in stepper.arrays().items():
        np.testing.assert_allclose(array, expected[name], **tolerance, err_msg=name)


def test_path_switch_follows_measured_density():
    """Dense while more than the threshold of pre-activations are positive, then sparse."""
    W_in, W_out, b, _ = _random_problem(0, 32, 4, 8, 0.1, np.float64)
    stepper = kernels.AutoencoderStepper(
        W_in,
        W_out,
        b - 5.0,
        Adam(config=AdamConfig()),
        batch_size=8,
        dtype=np.float64,
        dense_threshold=0.06,
    )
    batch = sample_sparse_batch(32, 0.1, 8, 1)
    first = stepper.step(batch.indptr, batch.indices, batch.values)
    assert not first.sparse_path  # first step: density unknown, dense
    assert first.positive_fraction == 0.0  # bias -5: no output is positive
    second = stepper.step(batch.indptr, batch.indices, batch.values)
    assert second.sparse_path
    stepper.b[:] = 5.0
    third = stepper.step(batch.indptr, batch.indices, batch.values)
    assert third.sparse_path and third.positive_fraction == 1.0
    assert not stepper.step(batch.indptr, batch.indices, batch.values).sparse_path


@given(seed=st.integers(0, 2**31), n_rows=st.integers(1, 10), n_columns=st.integers(1, 10))
def test_transpose_csr_matches_dense_transpose(seed, n_rows, n_columns):
    batch = sample_sparse_batch(n_columns, 0.3, n_rows, seed)
    col_ptr, col_rows, col_values = kernels.transpose_csr(
        batch.indptr, batch.indices, batch.values, n_columns
    )
    dense = np.zeros((n_columns, n_rows))
    for column in range(n_columns):
        rows = col_rows[col_ptr[column] : col_ptr[column + 1]]
        assert np.all(np.diff(rows) > 0)
        dense[column, rows] = col_values[col_ptr[column] : col_ptr[column + 1]]
    np.testing.assert_array_equal(dense, batch.to_dense().T)


@pytest.mark.slow
def test_parallel_kernels_equal_serial():
    """The ``_parallel`` kernels give the serial results (compiles them: a few seconds)."""
    W_in, W_out, b, batches = _random_problem(5, 40, 6, 16, 0.1, np.float64)
    results = []
    for parallel in (False, True):
        stepper = kernels.AutoencoderStepper(
            W_in,
            W_out,
            b,
            Adam(config=AdamConfig()),
            batch_size=16,
            dtype=np.float64,
            parallel=parallel,
        )
        paths = []
        for index, x in enumerate(batches):
            stepper.dense_threshold = 0.0 if index % 2 else 2.0  # alternate the two paths
            paths.append(stepper.step(x.indptr, x.indices, x.values).sparse_path)
        results.append(stepper.arrays())
    assert paths == [True, False, True, False]
    for name in results[0]:
        np.testing.assert_allclose(results[1][name], results[0][name], rtol=1e-12, atol=1e-15)


def test_warmup_compiles_every_path():
    names = kernels.warmup()
    assert len(names) == 4


@given(
    seed=st.integers(0, 2**31),
    n_features=st.integers(1, 40),
    batch=st.integers(1, 70),
    positive=st.sampled_from([0.0, 0.02, 0.3, 1.0]),
    block=st.integers(1, 41),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_feature_major_output_pass_equals_dense_pass(
    seed, n_features, batch, positive, block, dtype
):
    """Feature-major pass (uint8 mask + uint64 view over the batch) == dense pass, for any
    batch size (the mask's padding) and any split of the features into blocks."""
    rng = np.random.default_rng(seed)
    U = rng.normal(size=(batch, n_features)).astype(dtype)
    bias = np.full(
        n_features, -3.0 if positive == 0.0 else np.quantile(-U, 1 - positive), dtype=dtype
    )
    data = sample_sparse_batch(n_features, 0.2, batch, rng, dtype=dtype)
    importance = rng.uniform(0.0, 2.0, n_features).astype(dtype)
    scale = 1.0 / (batch * n_features)
    G = np.empty_like(U)
    grad_bias_dense = np.empty(n_features, dtype=dtype)
    loss_dense, positives_dense = kernels.output_pass_dense(
        U, bias, data.indptr, data.indices, data.values, importance, scale, G, grad_bias_dense
    )
    columns = kernels.transpose_csr(data.indptr, data.indices, data.values, n_features)
    work = np.zeros(batch, dtype=dtype)
    mask, mask_words = kernels.mask_buffer(batch)
    assert mask.size % 32 == 0 and mask.size >= batch
    positions = np.empty(mask.size, dtype=np.int64)
    g_ptr = np.zeros(n_features + 1, dtype=np.int64)
    g_rows = np.empty(batch * n_features, dtype=np.int32)
    g_values = np.empty(batch * n_features, dtype=dtype)
    grad_bias = rng.normal(size=n_features).astype(dtype)  # garbage in: the pass overwrites it
    UT = np.ascontiguousarray(U.T)
    loss, positives, count = 0.0, 0, 0
    for start in range(0, n_features, block):
        part, hits, count = kernels.output_pass_features(
            UT[start : start + block], start, bias, *columns, importance, scale, work, mask,
            mask_words, positions, g_ptr, g_rows, g_values, grad_bias, count,
        )  # fmt: skip
        loss += part
        positives += hits
    assert positives == positives_dense == int(np.sum(U + bias > 0))
    assert count == g_ptr[-1] == np.count_nonzero(G)
    assert loss == pytest.approx(loss_dense, rel=1e-6 if dtype == np.float32 else 1e-12, abs=1e-30)
    sparse = np.zeros_like(UT)
    for feature in range(n_features):
        rows = g_rows[g_ptr[feature] : g_ptr[feature + 1]]
        assert np.all(np.diff(rows) > 0)
        sparse[feature, rows] = g_values[g_ptr[feature] : g_ptr[feature + 1]]
    np.testing.assert_array_equal(sparse != 0, G.T != 0)
    # same formula; the dense kernel's reassoc flag may round the last float32 bit differently
    np.testing.assert_allclose(sparse, G.T, rtol=1e-6 if dtype == np.float32 else 1e-14, atol=0)
    np.testing.assert_allclose(grad_bias, grad_bias_dense, **TOLERANCE[dtype])
    assert not np.any(work)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("weight_decay", "decoupled"), [(0.0, False), (0.1, False), (0.1, True)])
def test_adam_flat_matches_optim_adam(dtype, weight_decay, decoupled):
    """The coefficient-array Adam kernel == optim.Adam over three steps (float32 stays float32)."""
    rng = np.random.default_rng(0)
    config = AdamConfig(lr=1e-2, weight_decay=weight_decay, decoupled=decoupled)
    reference = {"w": rng.normal(size=37).astype(dtype)}
    param = reference["w"].copy()
    first, second = np.zeros_like(param), np.zeros_like(param)
    optimizer = Adam(config=config)
    for t in range(1, 4):
        grad = rng.normal(size=37).astype(dtype)
        optimizer.step(reference, {"w": grad})
        coefs = kernels.adam_coefficients(
            config.lr,
            config.beta1,
            config.beta2,
            config.eps,
            1 - config.beta1**t,
            1 - config.beta2**t,
            weight_decay,
            decoupled,
            dtype,
        )
        assert coefs.dtype == dtype
        kernels.adam_flat(param, first, second, grad, coefs)
    assert param.dtype == dtype
    np.testing.assert_allclose(param, reference["w"], **TOLERANCE[dtype])
