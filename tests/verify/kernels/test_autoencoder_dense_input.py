"""Dense-input path of the sparse-aware training step against the sparse-input path and the
numpy reference (gradients.py + optim.Adam)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from toyforge.verify.data.sampling import sample_sparse_batch
from toyforge.verify.kernels import autoencoder_train as kernels
from toyforge.verify.train.gradients import relu_autoencoder_loss_gradients
from toyforge.verify.train.optim import Adam, AdamConfig

# As in test_train_kernels.py: float64 differs from numpy by summation order only (1e-12
# relative); float32 by a few ulps of the largest term, and an Adam step of ~lr carries a
# rounding error of ~lr·1e-6 relative to |m|/sqrt(v).
TOLERANCE = {np.float64: dict(rtol=1e-9, atol=1e-12), np.float32: dict(rtol=2e-4, atol=2e-6)}
FORCE_DENSE_INPUT, FORCE_SPARSE_INPUT = 0.0, 2.0


def _problem(seed, n_features, n_hidden, batch, feature_prob, dtype, n_steps=4):
    rng = np.random.default_rng(seed)
    W_in = rng.uniform(-1, 1, (n_hidden, n_features)) / np.sqrt(n_features)
    W_out = rng.uniform(-1, 1, (n_features, n_hidden)) / np.sqrt(n_hidden)
    b = rng.uniform(-0.3, 0.2, n_features)
    batches = [
        sample_sparse_batch(n_features, feature_prob, batch, rng, dtype=dtype)
        for _ in range(n_steps)
    ]
    return W_in, W_out, b, batches


def _reference(W_in, W_out, b, batches, adam_config, dtype, reduction):
    """Plain numpy: dense batch, gradients.py, optim.Adam (bias decayed like the weights)."""
    params = {"W_in": W_in.astype(dtype), "W_out": W_out.astype(dtype), "b": b.astype(dtype)}
    optimizer = Adam(config=adam_config)
    losses, gradients = [], []
    for batch in batches:
        result = relu_autoencoder_loss_gradients(
            params["W_in"], params["W_out"], params["b"], batch.to_dense(), reduction=reduction
        )
        losses.append(result.loss)
        gradients.append(result.gradients)
        optimizer.step(params, result.gradients)
    return params, losses, gradients


def _run_stepper(W_in, W_out, b, batches, adam_config, dtype, reduction, output, input_threshold):
    stepper = kernels.AutoencoderStepper(
        W_in,
        W_out,
        b,
        Adam(config=adam_config),
        batch_size=batches[0].indptr.shape[0] - 1,
        dtype=dtype,
        reduction=reduction,
        dense_threshold=output,
        dense_input_threshold=input_threshold,
    )
    stepper.store_grad = True
    history = []
    for x in batches:
        stats = stepper.step(x.indptr, x.indices, x.values)
        history.append((stats, stepper.last_gradients()))
    return stepper, history


@given(
    seed=st.integers(0, 2**31),
    n_features=st.integers(1, 24),
    n_hidden=st.integers(1, 6),
    batch=st.integers(1, 9),
    feature_prob=st.sampled_from([0.05, 0.15, 0.5, 0.8, 1.0]),
    dtype=st.sampled_from([np.float32, np.float64]),
    output=st.sampled_from([0.0, 0.3, 2.0]),
    reduction=st.sampled_from(["mean", "sum_features"]),
    weight_decay=st.sampled_from([0.0, 0.05]),
    decoupled=st.booleans(),
)
def test_dense_and_sparse_input_paths_match_reference(
    seed, n_features, n_hidden, batch, feature_prob, dtype, output, reduction, weight_decay,
    decoupled,
):  # fmt: skip
    """Forced dense input, forced sparse input and the default per-step choice give the
    reference's loss, gradients and weights over 4 Adam steps, for densities on both sides of
    the default threshold and either output path (``output`` 0 dense, 2 sparse, 0.3 switching).
    """
    W_in, W_out, b, batches = _problem(seed, n_features, n_hidden, batch, feature_prob, dtype)
    adam_config = AdamConfig(lr=1e-2, weight_decay=weight_decay, decoupled=decoupled)
    expected, losses, gradients = _reference(W_in, W_out, b, batches, adam_config, dtype, reduction)
    tolerance = TOLERANCE[dtype]
    density = [x.indptr[-1] / (batch * n_features) for x in batches]
    for input_threshold in (
        FORCE_DENSE_INPUT,
        FORCE_SPARSE_INPUT,
        kernels.DEFAULT_DENSE_INPUT_THRESHOLD,
    ):
        stepper, history = _run_stepper(
            W_in, W_out, b, batches, adam_config, dtype, reduction, output, input_threshold
        )
        for step, ((stats, got), loss, grads) in enumerate(
            zip(history, losses, gradients, strict=True)
        ):
            assert stats.dense_input == (density[step] >= input_threshold)
            assert stats.loss == pytest.approx(loss, rel=tolerance["rtol"], abs=tolerance["atol"])
            for name in ("W_in", "W_out", "b"):
                scale = max(float(np.abs(grads[name]).max()), 1e-30)
                np.testing.assert_allclose(
                    got[name] / scale, grads[name] / scale, **tolerance, err_msg=name
                )
        for name, array in stepper.arrays().items():
            np.testing.assert_allclose(array, expected[name], **tolerance, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("output", [0.0, 2.0])
def test_input_paths_agree_at_training_size(dtype, output):
    """At n = 64, m = 16, batch 128 (GEMM and gathers sum in different orders over many
    terms) the two input paths stay within float tolerance of each other over 5 steps, at
    densities 0.05 and 0.8."""
    adam_config = AdamConfig(lr=1e-3)
    tolerance = TOLERANCE[dtype]
    for feature_prob in (0.05, 0.8):
        W_in, W_out, b, batches = _problem(3, 64, 16, 128, feature_prob, dtype, n_steps=5)
        results = []
        for input_threshold in (FORCE_DENSE_INPUT, FORCE_SPARSE_INPUT):
            stepper, history = _run_stepper(
                W_in, W_out, b, batches, adam_config, dtype, "mean", output, input_threshold
            )
            assert [stats.dense_input for stats, _ in history] == [input_threshold == 0.0] * 5
            results.append((stepper.arrays(), [stats.loss for stats, _ in history]))
        (dense_arrays, dense_losses), (sparse_arrays, sparse_losses) = results
        np.testing.assert_allclose(dense_losses, sparse_losses, **tolerance)
        for name in dense_arrays:
            np.testing.assert_allclose(
                dense_arrays[name], sparse_arrays[name], **tolerance, err_msg=name
            )


@given(
    seed=st.integers(0, 2**31),
    n_features=st.integers(1, 30),
    batch=st.integers(1, 12),
    feature_prob=st.sampled_from([0.1, 0.5, 1.0]),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_csr_to_dense_matches_to_dense(seed, n_features, batch, feature_prob, dtype):
    data = sample_sparse_batch(n_features, feature_prob, batch, seed, dtype=dtype)
    X = np.full((batch, n_features), np.nan, dtype=dtype)  # garbage in: overwritten
    kernels.csr_to_dense(data.indptr, data.indices, data.values, X)
    np.testing.assert_array_equal(X, data.to_dense())


def test_csr_to_dense_sums_repeated_indices_like_first_layer():
    indptr = np.array([0, 3, 3, 4], dtype=np.int64)
    indices = np.array([1, 1, 0, 2], dtype=np.int32)
    values = np.array([0.5, 0.25, 2.0, 1.0])
    X = np.ones((3, 3))
    kernels.csr_to_dense(indptr, indices, values, X)
    np.testing.assert_array_equal(X, [[2.0, 0.75, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    W_inT = np.arange(6.0).reshape(3, 2)
    Z = np.empty((3, 2))
    kernels.first_layer(indptr, indices, values, W_inT, Z)
    np.testing.assert_allclose(Z, X @ W_inT, rtol=1e-15)


def test_input_path_follows_each_batch_density():
    """The choice is made per step from that batch's nnz / (batch · n_features), at or above
    the threshold; the dense buffer is only allocated once a dense-input step runs."""
    W_in, W_out, b, _ = _problem(0, 10, 3, 4, 0.5, np.float64)
    stepper = kernels.AutoencoderStepper(
        W_in,
        W_out,
        b,
        Adam(config=AdamConfig()),
        batch_size=4,
        dtype=np.float64,
        dense_input_threshold=0.25,
    )
    assert stepper.X is None

    def batch_with(nnz):  # nnz entries spread over the 4 rows, distinct features per row
        rows = np.arange(nnz) % 4
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=4))])
        indices = np.concatenate([np.arange(count) for count in np.diff(indptr)])
        return indptr.astype(np.int64), indices.astype(np.int32), np.full(nnz, 0.5)

    chosen = [stepper.step(*batch_with(nnz)).dense_input for nnz in (9, 10, 11, 2, 40)]
    assert chosen == [False, True, True, False, True]  # 10 / 40 = 0.25 is dense
    assert stepper.X is not None and stepper.X.shape == (4, 10)
    assert stepper.uses_dense_input(10) and not stepper.uses_dense_input(9)


def test_default_threshold_splits_the_paper_grid():
    """p = 0.8 (and 0.48) take the dense input path by default, p = 0.16 and 0.01 the sparse."""
    threshold = kernels.DEFAULT_DENSE_INPUT_THRESHOLD
    assert 0.16 < threshold < 0.48
    W_in, W_out, b, _ = _problem(1, 512, 8, 64, 0.5, np.float32)
    stepper = kernels.AutoencoderStepper(
        W_in, W_out, b, Adam(config=AdamConfig()), batch_size=64, dtype=np.float32
    )
    for feature_prob, dense in ((0.8, True), (0.48, True), (0.16, False), (0.01, False)):
        x = sample_sparse_batch(512, feature_prob, 64, 2, dtype=np.float32)
        assert stepper.step(x.indptr, x.indices, x.values).dense_input == dense
