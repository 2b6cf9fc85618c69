"""Sparse Bernoulli-times-value batches in CSR form, sampled by geometric skipping.

Each feature of each sample is active independently with probability ``feature_prob``
(``x_i = B_i U_i``, B_i ~ Bernoulli(p), U_i ~ U[0,1); docs/large_n_theory.md#model-data-and-loss).
Instead of drawing one Bernoulli per coordinate, the gap to the next active feature is drawn
directly from the geometric distribution, ``gap = floor(log(U) / log(1 - p))`` with U ~ U(0,1], so a
batch costs O(p · n_features · batch) random draws
(docs/performance.md#sparse-data-sampling).

Random numbers come from a ``numpy.random.Generator`` passed into the kernel (numba supports
Generators in nopython mode); the same generator state gives the same batch from the kernel
and from its pure-Python body (``sample_csr.py_func``). For each sample the draws are, in
order: one uniform per gap, then (for uniform values) one uniform per active feature, drawn
right after its gap.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["reference_sample_csr", "sample_csr", "warmup"]


@njit(cache=True)
def sample_csr(rng, n_features, feature_prob, batch_size, uniform_values, capacity=0):
    """Sample a CSR batch; returns ``(indptr int64 (batch+1,), indices int32, values float64)``.

    Parameters
    ----------
    rng : numpy.random.Generator
    n_features : int
        Row width (must fit in int32).
    feature_prob : float
        Activation probability p in (0, 1].
    batch_size : int
        Number of rows.
    uniform_values : bool
        True: active values are U[0,1); False: active values are 1.
    capacity : int
        Initial size of the output buffers (doubled whenever full); 0 picks the mean plus 8
        standard deviations. Does not change the result.
    """
    if capacity <= 0:
        expected = feature_prob * n_features * batch_size
        capacity = int(expected + 8.0 * math.sqrt(expected + 1.0)) + 16
    indices = np.empty(capacity, dtype=np.int32)
    values = np.empty(capacity, dtype=np.float64)
    indptr = np.empty(batch_size + 1, dtype=np.int64)
    indptr[0] = 0
    log_skip = math.log1p(-feature_prob) if feature_prob < 1.0 else -math.inf
    count = 0
    for row in range(batch_size):
        position = -1
        while True:
            if feature_prob >= 1.0:
                gap = 0.0
            else:
                gap = math.floor(math.log(1.0 - rng.random()) / log_skip)
            if gap >= n_features - 1 - position:
                break
            position += 1 + int(gap)
            if count == indices.shape[0]:
                indices, values = _grow(indices, values)
            indices[count] = position
            values[count] = rng.random() if uniform_values else 1.0
            count += 1
        indptr[row + 1] = count
    return indptr, indices[:count].copy(), values[:count].copy()


@njit
def _grow(indices, values):
    """Double the capacity of the output buffers."""
    new_indices = np.empty(2 * indices.shape[0], dtype=indices.dtype)
    new_values = np.empty(2 * values.shape[0], dtype=values.dtype)
    new_indices[: indices.shape[0]] = indices
    new_values[: values.shape[0]] = values
    return new_indices, new_values


def reference_sample_csr(
    rng: np.random.Generator,
    n_features: int,
    feature_prob: float,
    batch_size: int,
    uniform_values: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plain-numpy reference with the same draw order as :func:`sample_csr` (slow loop)."""
    log_skip = math.log1p(-feature_prob) if feature_prob < 1.0 else -math.inf
    indptr = [0]
    indices: list[int] = []
    values: list[float] = []
    for _ in range(batch_size):
        position = -1
        while True:
            gap = (
                0.0 if feature_prob >= 1.0 else math.floor(math.log(1.0 - rng.random()) / log_skip)
            )
            if gap >= n_features - 1 - position:
                break
            position += 1 + int(gap)
            indices.append(position)
            values.append(rng.random() if uniform_values else 1.0)
        indptr.append(len(indices))
    return (
        np.asarray(indptr, dtype=np.int64),
        np.asarray(indices, dtype=np.int32),
        np.asarray(values, dtype=np.float64),
    )


def warmup() -> list[str]:
    """Compile (or load from cache) the kernels of this module on tiny inputs."""
    rng = np.random.default_rng(0)
    sample_csr(rng, 8, 0.5, 4, True)
    sample_csr(rng, 8, 1.0, 4, False)
    return ["sample_csr"]
