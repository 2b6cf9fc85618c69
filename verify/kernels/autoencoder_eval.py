"""Sparse-aware forward pass and per-sample loss of the ReLU autoencoder ``ReLU(W_out W_in x + b)``.

Two exact paths (docs/performance.md#evaluation-kernels):

* **hidden path**: ``Z = W_in x`` over the active columns only (:func:`sparse_hidden`; W_in is
  passed transposed, shape (n_features, n_hidden), so each column is a contiguous row), then
  ``U = Z W_outᵀ`` by one BLAS GEMM in the caller, then :func:`relu_mse_rows`: ReLU, bias and
  squared error fused in one pass.
* **product path** ("M path"): with ``M = W_out W_in`` precomputed and passed transposed
  (row j = column j of M), :func:`product_path_losses` builds each sample's pre-activation
  ``b + Σ_j x_j M[:, j]`` from its k active rows (2 k n flops instead of 2 m n + 2 k m).

In both, the loss is computed as if x = 0 everywhere (``Σ_i c_i ReLU(u_i + b_i)²``) and then
corrected at the active features: ``(y - x)² - y² = x (x - 2y)``. The per-sample value is the
per-feature MSE ``(1/n) Σ_i c_i (y_i - x_i)²`` (docs/large_n_theory.md#model-data-and-loss),
with importance weights ``c_i`` (empty array: all 1). Squares are accumulated in float64 whatever
the weight dtype. Each kernel also returns the number of positive outputs ``y_i > 0`` it saw.

Every kernel has a plain-numpy reference below (``reference_*``), compared in
tests/verify_eval/test_eval_kernels.py with hypothesis.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "product_path_losses",
    "reference_product_path_losses",
    "reference_relu_mse_rows",
    "reference_sparse_hidden",
    "relu_mse_rows",
    "sparse_hidden",
    "warmup",
]

# Reassociation lets the float reductions vectorise; no flag that assumes no NaN/inf
# (docs/performance.md#writing-a-kernel).
_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}


@njit(fastmath=_FASTMATH)
def _segment_loss(pre, offset, width, bias, weights, indices, values, start, stop):
    """Weighted squared error of outputs ``offset .. offset+width`` of one sample.

    ``pre[0:width]`` holds the pre-activations of those outputs without the bias; entries
    ``start:stop`` of ``indices``/``values`` are the sample's active features in that range.
    Returns ``(Σ_i c_i (ReLU(pre_i + b_i) - x_i)², number of positive outputs)``.
    """
    total = 0.0
    positives = 0
    if weights.shape[0] == 0:
        for i in range(width):
            y = max(np.float64(pre[i]) + np.float64(bias[offset + i]), 0.0)
            total += y * y
            positives += y > 0.0
        for e in range(start, stop):
            j = indices[e]
            x = np.float64(values[e])
            y = max(np.float64(pre[j - offset]) + np.float64(bias[j]), 0.0)
            total += x * (x - 2.0 * y)
    else:
        for i in range(width):
            y = max(np.float64(pre[i]) + np.float64(bias[offset + i]), 0.0)
            total += weights[offset + i] * (y * y)
            positives += y > 0.0
        for e in range(start, stop):
            j = indices[e]
            x = np.float64(values[e])
            y = max(np.float64(pre[j - offset]) + np.float64(bias[j]), 0.0)
            total += weights[j] * (x * (x - 2.0 * y))
    return total, positives


@njit(cache=True, fastmath=_FASTMATH)
def sparse_hidden(indptr, indices, values, W_in_T, hidden):
    """``hidden[s] = Σ_e values[e] · W_in_T[indices[e]]`` over the entries of sample s.

    Parameters
    ----------
    indptr : int64 array, shape (batch + 1,)
    indices : int32/int64 array, shape (nnz,)
    values : float array, shape (nnz,)
    W_in_T : float array, shape (n_features, n_hidden), C-contiguous
    hidden : float array, shape (batch, n_hidden), written (same dtype as W_in_T)
    """
    n_hidden = W_in_T.shape[1]
    for s in range(indptr.shape[0] - 1):
        row = hidden[s]
        for h in range(n_hidden):
            row[h] = 0.0
        for e in range(indptr[s], indptr[s + 1]):
            value = values[e]
            column = W_in_T[indices[e]]
            for h in range(n_hidden):
                row[h] += value * column[h]


@njit(cache=True, fastmath=_FASTMATH)
def relu_mse_rows(pre, bias, indptr, indices, values, weights, losses):
    """Per-sample loss from the pre-activations ``pre = Z W_outᵀ`` (bias added here).

    Parameters
    ----------
    pre : float array, shape (batch, n_features)
    bias : float array, shape (n_features,)
    indptr, indices, values : the CSR batch x
    weights : float64 array, shape (n_features,) or (0,) for unweighted
    losses : float64 array, shape (batch,), written with ``(1/n) Σ_i c_i (y_i - x_i)²``

    Returns
    -------
    int
        Number of positive outputs in the batch.
    """
    n_features = pre.shape[1]
    positives = 0
    for s in range(pre.shape[0]):
        total, count = _segment_loss(
            pre[s], 0, n_features, bias, weights, indices, values, indptr[s], indptr[s + 1]
        )
        losses[s] = total / n_features
        positives += count
    return positives


@njit(fastmath=_FASTMATH)
def _sum_rows(pre, width, offset, M_T, indices, values, start, stop):
    """``pre[0:width] = Σ_{e in start:stop} values[e] · M_T[indices[e], offset:offset+width]``.

    Four rows per pass over ``pre`` (fewer loads and stores of ``pre``); the sum runs over
    the entries in their stored order.
    """
    for i in range(width):
        pre[i] = 0.0
    e = start
    while e + 4 <= stop:
        v0, v1, v2, v3 = values[e], values[e + 1], values[e + 2], values[e + 3]
        r0 = M_T[indices[e], offset : offset + width]
        r1 = M_T[indices[e + 1], offset : offset + width]
        r2 = M_T[indices[e + 2], offset : offset + width]
        r3 = M_T[indices[e + 3], offset : offset + width]
        for i in range(width):
            pre[i] = (((pre[i] + v0 * r0[i]) + v1 * r1[i]) + v2 * r2[i]) + v3 * r3[i]
        e += 4
    while e < stop:
        value = values[e]
        row = M_T[indices[e], offset : offset + width]
        for i in range(width):
            pre[i] += value * row[i]
        e += 1


@njit(cache=True, fastmath=_FASTMATH)
def product_path_losses(indptr, indices, values, M_T, bias, weights, losses):
    """Per-sample loss via the precomputed product: ``pre = Σ_e values[e] · M_T[indices[e]]``.

    Parameters
    ----------
    indptr, indices, values : the CSR batch x
    M_T : float array, shape (n_features, n_features), C-contiguous, ``(W_out W_in)ᵀ``
    bias : float array, shape (n_features,)
    weights : float64 array, shape (n_features,) or (0,)
    losses : float64 array, shape (batch,), written

    Returns
    -------
    int
        Number of positive outputs in the batch.
    """
    n_features = M_T.shape[0]
    pre = np.empty(n_features, dtype=M_T.dtype)
    positives = 0
    for s in range(indptr.shape[0] - 1):
        start, stop = indptr[s], indptr[s + 1]
        _sum_rows(pre, n_features, 0, M_T, indices, values, start, stop)
        total, count = _segment_loss(
            pre, 0, n_features, bias, weights, indices, values, start, stop
        )
        losses[s] = total / n_features
        positives += count
    return positives


# --------------------------------------------------------------------------- numpy references


def _dense(
    indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, n_features: int
) -> np.ndarray:
    rows = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
    dense = np.zeros((indptr.size - 1, n_features), dtype=np.float64)
    dense[rows, indices] = values
    return dense


def reference_sparse_hidden(
    indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, W_in_T: np.ndarray
) -> np.ndarray:
    """Dense ``X W_in_T`` in float64, shape (batch, n_hidden)."""
    return _dense(indptr, indices, values, W_in_T.shape[0]) @ W_in_T.astype(np.float64)


def _reference_losses(
    pre: np.ndarray, bias: np.ndarray, dense_x: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, int]:
    outputs = np.maximum(pre.astype(np.float64) + bias.astype(np.float64), 0.0)
    squared = (outputs - dense_x) ** 2
    if weights.size:
        squared = squared * weights
    return squared.mean(axis=1), int(np.count_nonzero(outputs > 0))


def reference_relu_mse_rows(
    pre: np.ndarray,
    bias: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    values: np.ndarray,
    weights: np.ndarray,
) -> tuple[np.ndarray, int]:
    """Dense numpy version of :func:`relu_mse_rows`: (losses (batch,), positives)."""
    dense_x = _dense(indptr, indices, values, pre.shape[1])
    return _reference_losses(pre, bias, dense_x, weights)


def reference_product_path_losses(
    indptr: np.ndarray,
    indices: np.ndarray,
    values: np.ndarray,
    M_T: np.ndarray,
    bias: np.ndarray,
    weights: np.ndarray,
) -> tuple[np.ndarray, int]:
    """Dense numpy version of :func:`product_path_losses`: (losses (batch,), positives)."""
    dense_x = _dense(indptr, indices, values, M_T.shape[0])
    pre = dense_x @ M_T.astype(np.float64)
    return _reference_losses(pre, bias, dense_x, weights)


def warmup() -> list[str]:
    """Compile (or load from cache) every kernel here for float32 and float64 inputs."""
    compiled = []
    for dtype in (np.float32, np.float64):
        n_features, n_hidden, batch = 6, 3, 2
        indptr = np.array([0, 1, 3], dtype=np.int64)
        indices = np.array([0, 2, 5], dtype=np.int32)
        values = np.array([0.5, 0.25, 1.0], dtype=dtype)
        W_in_T = np.ones((n_features, n_hidden), dtype=dtype)
        hidden = np.empty((batch, n_hidden), dtype=dtype)
        sparse_hidden(indptr, indices, values, W_in_T, hidden)
        pre = np.zeros((batch, n_features), dtype=dtype)
        bias = np.zeros(n_features, dtype=dtype)
        losses = np.empty(batch, dtype=np.float64)
        for weights in (np.empty(0), np.ones(n_features)):
            relu_mse_rows(pre, bias, indptr, indices, values, weights, losses)
            M_T = np.ones((n_features, n_features), dtype=dtype)
            product_path_losses(indptr, indices, values, M_T, bias, weights, losses)
        name = np.dtype(dtype).name
        compiled += [
            f"sparse_hidden[{name}]",
            f"relu_mse_rows[{name}]",
            f"product_path_losses[{name}]",
        ]
    return compiled
