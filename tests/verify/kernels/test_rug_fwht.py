"""FWHT kernel = numpy reference = explicit Hadamard products; rug loss kernel = numpy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.linalg import hadamard

from toyforge.theory.finite_n import walsh_hadamard_transform
from toyforge.verify.data.sampling import sample_sparse_batch
from toyforge.verify.kernels import fwht as kernels


@st.composite
def power_of_two_batches(draw: st.DrawFn) -> np.ndarray:
    exponent = draw(st.integers(min_value=0, max_value=14))
    rows = draw(st.integers(min_value=1, max_value=3))
    return draw(
        arrays(np.float64, (rows, 2**exponent), elements=st.floats(-1e3, 1e3, allow_nan=False))
    )


@given(power_of_two_batches())
def test_fwht_kernel_matches_numpy_reference(values: np.ndarray) -> None:
    expected = walsh_hadamard_transform(values)
    result = kernels.fwht(np.ascontiguousarray(values.copy()))
    np.testing.assert_allclose(result, expected, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("n", [1, 2, 4, 8, 16, 64, 512, 1024])
def test_fwht_equals_scipy_hadamard_product(n: int) -> None:
    rng = np.random.default_rng(n)
    values = rng.standard_normal((2, n))
    expected = values @ hadamard(n)
    np.testing.assert_allclose(kernels.fwht(values.copy()), expected, atol=1e-9)
    np.testing.assert_allclose(walsh_hadamard_transform(values), expected, atol=1e-9)


def test_fwht_large_blocked_path_matches_reference() -> None:
    # 2^15 exercises the cache-blocked first levels and the strip sweeps of the last ones
    values = np.random.default_rng(1).standard_normal((1, 2**15))
    np.testing.assert_allclose(
        kernels.fwht(values.copy()), walsh_hadamard_transform(values), rtol=1e-10, atol=1e-9
    )


def test_fwht_is_an_involution_up_to_n() -> None:
    values = np.random.default_rng(2).standard_normal((1, 4096))
    twice = kernels.fwht(kernels.fwht(values.copy()))
    np.testing.assert_allclose(twice / 4096, values, atol=1e-12)


@pytest.mark.slow
@given(
    exponent=st.integers(1, 9),
    ratio=st.floats(0.05, 1.0),
    prob=st.floats(0.01, 0.5),
    seed=st.integers(0, 10_000),
    route=st.sampled_from([0.0, 1e18]),
)
def test_rug_loss_kernel_matches_reference(
    exponent: int, ratio: float, prob: float, seed: int, route: float
) -> None:
    n = 2**exponent
    rng = np.random.default_rng(seed)
    n_hidden = max(int(ratio * n), 1)
    rows = np.sort(rng.choice(n, n_hidden, replace=False)).astype(np.int64)
    batch = sample_sparse_batch(n, prob, 7, rng)
    scale, bias = 1.3, -0.3
    expected = kernels.rug_sample_losses_reference(
        batch.indptr, batch.indices, batch.values, rows, n, scale, bias
    )
    serial = kernels.rug_sample_losses(
        batch.indptr, batch.indices, batch.values, rows, n, scale, bias, route
    )
    parallel = kernels.rug_sample_losses_parallel(
        batch.indptr, batch.indices, batch.values, rows, n, scale, bias, route, 3
    )
    np.testing.assert_allclose(serial, expected, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(parallel, expected, rtol=1e-10, atol=1e-14)


def test_warmup_lists_kernels() -> None:
    assert set(kernels.warmup()) == {"fwht", "rug_sample_losses", "rug_sample_losses_parallel"}
