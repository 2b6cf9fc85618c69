"""numba evaluation and sampling kernels against their plain-numpy references (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from toyforge.verify.kernels import autoencoder_eval as ae
from toyforge.verify.kernels.sparse_sampling import reference_sample_csr, sample_csr

DTYPES = (np.float32, np.float64)
# float32 kernels sum in float32; the references in float64. Tolerances per dtype.
RTOL = {np.float32: 2e-4, np.float64: 1e-10}
ATOL = {np.float32: 1e-5, np.float64: 1e-12}


@st.composite
def problems(draw):
    """A random small autoencoder problem: CSR batch, weights, bias, feature weights."""
    n_features = draw(st.integers(1, 12))
    n_hidden = draw(st.integers(1, 6))
    batch = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**32 - 1))
    feature_prob = draw(st.sampled_from([0.05, 0.3, 0.7, 1.0]))
    weighted = draw(st.booleans())
    dtype = draw(st.sampled_from(DTYPES))
    rng = np.random.default_rng(seed)
    mask = rng.random((batch, n_features)) < feature_prob
    dense = np.where(mask, rng.random((batch, n_features)), 0.0)
    indptr = np.concatenate([[0], np.cumsum(mask.sum(axis=1))]).astype(np.int64)
    rows, cols = np.nonzero(mask)
    indices = cols.astype(np.int32)
    values = dense[rows, cols].astype(dtype)
    W_in_T = rng.normal(size=(n_features, n_hidden)).astype(dtype)
    W_out_T = rng.normal(size=(n_hidden, n_features)).astype(dtype)
    bias = rng.normal(scale=0.5, size=n_features).astype(dtype)
    weights = rng.random(n_features) + 0.1 if weighted else np.empty(0)
    return dict(
        indptr=indptr,
        indices=indices,
        values=values,
        W_in_T=W_in_T,
        W_out_T=W_out_T,
        bias=bias,
        weights=weights,
        dtype=dtype,
    )


@given(problems())
def test_sparse_hidden_matches_dense_product(problem):
    p = problem
    hidden = np.empty((p["indptr"].size - 1, p["W_in_T"].shape[1]), dtype=p["dtype"])
    ae.sparse_hidden(p["indptr"], p["indices"], p["values"], p["W_in_T"], hidden)
    expected = ae.reference_sparse_hidden(p["indptr"], p["indices"], p["values"], p["W_in_T"])
    np.testing.assert_allclose(hidden, expected, rtol=RTOL[p["dtype"]], atol=ATOL[p["dtype"]])


@given(problems())
def test_relu_mse_rows_matches_reference(problem):
    p = problem
    batch = p["indptr"].size - 1
    pre = (
        ae.reference_sparse_hidden(p["indptr"], p["indices"], p["values"], p["W_in_T"])
        @ p["W_out_T"]
    ).astype(p["dtype"])
    losses = np.empty(batch)
    positives = ae.relu_mse_rows(
        pre, p["bias"], p["indptr"], p["indices"], p["values"], p["weights"], losses
    )
    expected, expected_positives = ae.reference_relu_mse_rows(
        pre, p["bias"], p["indptr"], p["indices"], p["values"], p["weights"]
    )
    np.testing.assert_allclose(losses, expected, rtol=1e-10, atol=1e-12)
    assert positives == expected_positives


@given(problems())
def test_product_path_matches_reference(problem):
    p = problem
    batch = p["indptr"].size - 1
    M_T = np.ascontiguousarray(p["W_in_T"] @ p["W_out_T"])
    losses = np.empty(batch)
    positives = ae.product_path_losses(
        p["indptr"], p["indices"], p["values"], M_T, p["bias"], p["weights"], losses
    )
    expected, _ = ae.reference_product_path_losses(
        p["indptr"], p["indices"], p["values"], M_T, p["bias"], p["weights"]
    )
    np.testing.assert_allclose(losses, expected, rtol=RTOL[p["dtype"]], atol=ATOL[p["dtype"]])
    assert 0 <= positives <= batch * M_T.shape[0]


def test_product_path_counts_positive_outputs_exactly():
    """Outputs away from 0 (no rounding ambiguity): the count must equal the dense count."""
    M_T = np.array([[1.0, -1.0, 2.0], [0.5, 0.5, -3.0], [0.0, 1.0, 1.0]])
    bias = np.array([0.1, -0.2, -0.4])
    indptr = np.array([0, 2, 2, 3], dtype=np.int64)
    indices = np.array([0, 2, 1], dtype=np.int32)
    values = np.array([0.5, 1.0, 1.0])
    losses = np.empty(3)
    positives = ae.product_path_losses(indptr, indices, values, M_T, bias, np.empty(0), losses)
    dense = np.array([[0.5, 0, 1.0], [0, 0, 0], [0, 1.0, 0]])
    outputs = np.maximum(dense @ M_T + bias, 0)
    assert positives == np.count_nonzero(outputs)
    np.testing.assert_allclose(losses, ((outputs - dense) ** 2).mean(axis=1), rtol=1e-14)


@given(
    st.integers(1, 40),
    st.sampled_from([0.01, 0.2, 0.5, 1.0]),
    st.integers(1, 6),
    st.booleans(),
    st.integers(0, 2**32 - 1),
)
def test_sampler_kernel_matches_reference_draw_for_draw(
    n_features, feature_prob, batch, uniform, seed
):
    got = sample_csr(np.random.default_rng(seed), n_features, feature_prob, batch, uniform)
    expected = reference_sample_csr(
        np.random.default_rng(seed), n_features, feature_prob, batch, uniform
    )
    for array, reference in zip(got, expected, strict=True):
        np.testing.assert_array_equal(array, reference)
    indptr, indices, _ = got
    for row in range(batch):
        segment = indices[indptr[row] : indptr[row + 1]]
        assert np.all(np.diff(segment) > 0)


@pytest.mark.parametrize("feature_prob", [0.3, 1.0])
def test_sampler_buffer_growth_does_not_change_the_batch(feature_prob):
    grown = sample_csr(np.random.default_rng(0), 300, feature_prob, 50, True, 1)
    default = sample_csr(np.random.default_rng(0), 300, feature_prob, 50, True)
    for array, reference in zip(grown, default, strict=True):
        np.testing.assert_array_equal(array, reference)
    if feature_prob == 1.0:
        assert grown[0][-1] == 300 * 50
        np.testing.assert_array_equal(grown[1][:300], np.arange(300))


@pytest.mark.parametrize("module", ["autoencoder_eval", "sparse_sampling"])
def test_warmup_lists_what_it_compiled(module):
    import importlib

    compiled = importlib.import_module(f"toyforge.verify.kernels.{module}").warmup()
    assert compiled and all(isinstance(name, str) for name in compiled)
