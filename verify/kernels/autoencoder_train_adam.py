"""Fused Adam/AdamW kernels of the sparse-aware autoencoder step.

One update formula, :func:`_adam_update`, in the form of the reference
:class:`toyforge.verify.train.optim.Adam` (torch Adam/AdamW; Kingma & Ba 2015, Loshchilov &
Hutter 2019), with its constants precomputed in the training dtype by
:func:`adam_coefficients`. Two entry points use it:

* :func:`adam_flat` — Adam over a flat contiguous array whose gradient is already known (the
  dense path's ``W_out`` and the bias);
* :func:`adam_rows_from_sparse` (and ``_parallel``) — the gradient rows ``Σ_b C[b, i] D[b]``
  built from a feature-major sparse ``C`` block by block and fused with the same update (the
  sparse path's ``W_out`` and ``W_in``); :func:`transpose_csr` makes the feature-major ``C``;
* :func:`adam_rows_scatter_from_sparse` — the same, and in the same pass the product
  ``C θ`` with the parameters before the update, scattered row by row (the serial sparse
  path's ``dZ = G W_out``: each row of ``W_out`` is read once, while it is in cache for Adam).

Both are tested against :class:`toyforge.verify.train.optim.Adam` with hypothesis
(tests/verify/kernels/test_autoencoder_adam_kernels.py). The kernels use
``error_model="numpy"``: numba's default Python error model puts a zero check in the loop,
which stops LLVM from vectorising the update (measured 2.4 vs 0.3 ns per float32 parameter).
See ``docs/training.md#speed``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = [
    "ADAM_BLOCK_ELEMENTS",
    "adam_coefficients",
    "adam_flat",
    "adam_rows_from_sparse",
    "adam_rows_from_sparse_parallel",
    "adam_rows_scatter_from_sparse",
    "transpose_csr",
]

#: Parameters per block of the fused gradient-row + Adam kernels (gradient block stays in L1).
ADAM_BLOCK_ELEMENTS = 4096

_REASSOC = {"reassoc"}


@njit(cache=False, error_model="numpy")
def _adam_update(param, first, second, grad, coefs):
    """One Adam/AdamW update of a contiguous 1-D slice (the formulas of verify/train/optim.py).

    ``coefs`` (:func:`adam_coefficients`, dtype of ``param``) holds ``beta1, 1 - beta1, beta2,
    1 - beta2, lr / c1, 1 / c2, eps, l2, shrink``: all arithmetic stays in the parameter dtype
    (float32 on the hot path, vectorised), and ``sqrt(v / c2)`` is ``sqrt(v * (1 / c2))``.
    """
    beta1, one_minus_beta1, beta2, one_minus_beta2 = coefs[0], coefs[1], coefs[2], coefs[3]
    step, inverse_correction2, eps, l2, shrink = coefs[4], coefs[5], coefs[6], coefs[7], coefs[8]
    # Branch-free loop body (vectorisable): L2 adds l2·θ to g (Adam), AdamW scales θ by shrink.
    for h in range(param.shape[0]):
        g = grad[h] + l2 * param[h]
        m = first[h] * beta1 + one_minus_beta1 * g
        v = second[h] * beta2 + one_minus_beta2 * (g * g)
        first[h] = m
        second[h] = v
        param[h] = param[h] * shrink - step * m / (np.sqrt(v * inverse_correction2) + eps)


def adam_coefficients(
    lr, beta1, beta2, eps, correction1, correction2, weight_decay, decoupled, dtype=np.float32
):
    """The constant array :func:`_adam_update` reads, in ``dtype`` (torch Adam/AdamW form).

    ``correction1 = 1 - beta1**t``, ``correction2 = 1 - beta2**t``; Adam adds
    ``weight_decay · θ`` to the gradient (L2), AdamW scales θ by ``1 - lr · weight_decay``.
    """
    l2 = 0.0 if decoupled else weight_decay
    shrink = 1.0 - lr * weight_decay if decoupled else 1.0
    return np.array(
        [
            beta1,
            1.0 - beta1,
            beta2,
            1.0 - beta2,
            lr / correction1,
            1.0 / correction2,
            eps,
            l2,
            shrink,
        ],
        dtype=dtype,
    )


@njit(cache=False, fastmath=_REASSOC)
def _gather_row(column, col_ptr, col_rows, col_values, D, out):
    """``out = Σ_k col_values[k] D[col_rows[k]]`` over the entries of ``column``.

    Four entries per pass over ``out``: one load and one store of ``out`` serve four rows of
    ``D`` (measured 3.1 → 1.9 ms for the gradient rows of shape B, 91 000 entries of 256
    floats; unchanged at 102 and 409 floats).
    """
    for h in range(out.shape[0]):
        out[h] = 0.0
    k, stop = col_ptr[column], col_ptr[column + 1]
    while k + 4 <= stop:
        r0, r1, r2, r3 = col_rows[k], col_rows[k + 1], col_rows[k + 2], col_rows[k + 3]
        v0, v1, v2, v3 = col_values[k], col_values[k + 1], col_values[k + 2], col_values[k + 3]
        for h in range(out.shape[0]):
            out[h] += v0 * D[r0, h] + v1 * D[r1, h] + v2 * D[r2, h] + v3 * D[r3, h]
        k += 4
    for rest in range(k, stop):
        row = col_rows[rest]
        value = col_values[rest]
        for h in range(out.shape[0]):
            out[h] += value * D[row, h]


@njit(cache=False, error_model="numpy")
def _adam_rows_block(
    param,
    first,
    second,
    col_ptr,
    col_rows,
    col_values,
    D,
    coefs,
    grad_out,
    store_grad,
    block_start,
    block_stop,
    grad_block,
):
    """Gradient rows ``block_start:block_stop`` into ``grad_block``, then one Adam pass."""
    width = param.shape[1]
    for i in range(block_start, block_stop):
        row = grad_block[i - block_start]
        _gather_row(i, col_ptr, col_rows, col_values, D, row)
        if store_grad:
            grad_out[i, :] = row
    # One long vectorised loop over the block's contiguous rows: short rows (n_hidden ~ 100)
    # would otherwise leave much of each row to the scalar remainder of the vector loop.
    lo, hi = block_start * width, block_stop * width
    _adam_update(
        param.reshape(-1)[lo:hi],
        first.reshape(-1)[lo:hi],
        second.reshape(-1)[lo:hi],
        grad_block.reshape(-1)[: hi - lo],
        coefs,
    )


@njit(cache=True, error_model="numpy")
def adam_rows_from_sparse(
    param, first, second, col_ptr, col_rows, col_values, D, coefs, grad_out, store_grad
):
    """Row ``i`` of the gradient is ``Σ_b C[b, i] D[b]`` (C feature-major); Adam fused.

    Used for ``dW_out`` (C = dL/du, D = Z) and ``dW_inT`` (C = x, D = dZ). Every row gets an
    Adam update, including rows with a zero gradient (moments decay); ``coefs`` from
    :func:`adam_coefficients` in the dtype of ``param``. Rows are processed in blocks of about
    :data:`ADAM_BLOCK_ELEMENTS` parameters (gradient block in L1, then one vectorised Adam
    pass over the block's contiguous rows). If ``store_grad``, the gradient is also written to
    ``grad_out`` (same shape as ``param``; for tests). ``param``, ``first``, ``second`` must be
    C-contiguous.
    """
    n_rows, width = param.shape
    block = max(1, ADAM_BLOCK_ELEMENTS // max(1, width))
    grad_block = np.empty((block, width), dtype=param.dtype)
    for block_start in range(0, n_rows, block):
        _adam_rows_block(
            param,
            first,
            second,
            col_ptr,
            col_rows,
            col_values,
            D,
            coefs,
            grad_out,
            store_grad,
            block_start,
            min(n_rows, block_start + block),
            grad_block,
        )


@njit(cache=True, parallel=True, error_model="numpy")
def adam_rows_from_sparse_parallel(
    param, first, second, col_ptr, col_rows, col_values, D, coefs, grad_out, store_grad
):
    """Parallel version of :func:`adam_rows_from_sparse` (blocks of rows per thread)."""
    n_rows, width = param.shape
    block = max(1, ADAM_BLOCK_ELEMENTS // max(1, width))
    n_blocks = (n_rows + block - 1) // block
    for block_index in prange(n_blocks):
        grad_block = np.empty((block, width), dtype=param.dtype)
        block_start = block_index * block
        _adam_rows_block(
            param,
            first,
            second,
            col_ptr,
            col_rows,
            col_values,
            D,
            coefs,
            grad_out,
            store_grad,
            block_start,
            min(n_rows, block_start + block),
            grad_block,
        )


@njit(cache=False)
def _scatter_rows(block_start, block_stop, col_ptr, col_rows, col_values, param, out):
    """``out[b] += C[b, i] θ[i]`` for the rows ``i`` of the block, ``i`` increasing.

    Four entries of a row ``i`` (four distinct samples) per pass over ``θ[i]``: one load of
    ``θ[i]`` serves four updates, and each ``out[b]`` still receives its terms in increasing
    ``i`` (measured 2.7 → 2.3 ms at shape B, 0.35 → 0.21 ms at A).
    """
    width = param.shape[1]
    for i in range(block_start, block_stop):
        k, stop = col_ptr[i], col_ptr[i + 1]
        while k + 4 <= stop:
            r0, r1, r2, r3 = col_rows[k], col_rows[k + 1], col_rows[k + 2], col_rows[k + 3]
            v0, v1, v2, v3 = col_values[k], col_values[k + 1], col_values[k + 2], col_values[k + 3]
            for h in range(width):
                theta = param[i, h]
                out[r0, h] += v0 * theta
                out[r1, h] += v1 * theta
                out[r2, h] += v2 * theta
                out[r3, h] += v3 * theta
            k += 4
        for rest in range(k, stop):
            row = col_rows[rest]
            value = col_values[rest]
            for h in range(width):
                out[row, h] += value * param[i, h]


@njit(cache=True, error_model="numpy")
def adam_rows_scatter_from_sparse(
    param, first, second, col_ptr, col_rows, col_values, D, coefs, grad_out, store_grad, product
):
    """:func:`adam_rows_from_sparse`, and ``product = C θ`` with θ before the update.

    ``product`` (batch, width) is overwritten with ``Σ_i C[b, i] θ[i]`` (the sum runs over
    ``i`` in increasing order, as a row-by-row gather over a CSR ``C`` would), computed block
    by block just before the block's Adam update, so every parameter row is read from memory
    once for both.
    """
    n_rows, width = param.shape
    product[:, :] = 0.0
    block = max(1, ADAM_BLOCK_ELEMENTS // max(1, width))
    grad_block = np.empty((block, width), dtype=param.dtype)
    for block_start in range(0, n_rows, block):
        block_stop = min(n_rows, block_start + block)
        _scatter_rows(block_start, block_stop, col_ptr, col_rows, col_values, param, product)
        _adam_rows_block(
            param,
            first,
            second,
            col_ptr,
            col_rows,
            col_values,
            D,
            coefs,
            grad_out,
            store_grad,
            block_start,
            block_stop,
            grad_block,
        )


@njit(cache=True, error_model="numpy")
def adam_flat(param, first, second, grad, coefs):
    """Adam/AdamW on flat contiguous arrays (the dense path's ``W_out`` and the bias)."""
    _adam_update(param, first, second, grad, coefs)


@njit(cache=True)
def transpose_csr(indptr, indices, values, n_columns):
    """CSR (rows = samples) to feature-major CSC by counting sort.

    Returns ``(col_ptr int64 (n_columns + 1,), col_rows int64 (nnz,), col_values (nnz,))``;
    within a column the rows are increasing.
    """
    nnz = indptr[-1]
    col_ptr = np.zeros(n_columns + 1, dtype=np.int64)
    for k in range(nnz):
        col_ptr[indices[k] + 1] += 1
    for c in range(n_columns):
        col_ptr[c + 1] += col_ptr[c]
    cursor = col_ptr[:-1].copy()
    col_rows = np.empty(nnz, dtype=np.int64)
    col_values = np.empty(nnz, dtype=values.dtype)
    for row in range(indptr.shape[0] - 1):
        for k in range(indptr[row], indptr[row + 1]):
            column = indices[k]
            position = cursor[column]
            col_rows[position] = row
            col_values[position] = values[k]
            cursor[column] = position + 1
    return col_ptr, col_rows, col_values
