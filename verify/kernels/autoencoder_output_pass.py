"""The fused output pass of the sparse-aware autoencoder step: ReLU, loss and ``dL/du``.

Given ``U = Z W_outᵀ`` (or its transpose), one pass computes ``y = ReLU(u + b)``, the
importance-weighted MSE and ``dL/du = 2 I (y − x) s · [u > 0]`` (``s`` = 1/(B·n) or 1/B): the
loss is computed as if ``x = 0`` everywhere and then corrected at the active features.
:func:`output_pass_dense` writes ``dL/du`` dense (batch-major);
:func:`output_pass_features` runs feature by feature on ``Uᵀ`` and compacts ``dL/du`` straight
into feature-major CSC form, skipping groups of 32 outputs with no positive entry. Both sum the
bias gradient in the same pass. Used by
:class:`toyforge.verify.kernels.autoencoder_train.AutoencoderStepper`; their numpy reference is
:func:`toyforge.verify.train.gradients.relu_autoencoder_loss_gradients`
(tests/verify/kernels/test_train_kernels.py). See ``docs/training.md#speed``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["mask_buffer", "output_pass_dense", "output_pass_features"]

_REASSOC = {"reassoc"}


@njit(cache=False, fastmath=_REASSOC)
def _residual_row(u_row, bias, importance, out_row):
    """``out = I·ReLU(u + b)``; returns (Σ I y², number of u + b > 0) assuming x = 0."""
    total = 0.0
    n_positive = 0
    for f in range(u_row.shape[0]):
        pre = u_row[f] + bias[f]
        y = pre if pre > 0.0 else 0.0
        weighted = importance[f] * y
        out_row[f] = weighted
        total += weighted * y
        n_positive += 1 if pre > 0.0 else 0
    return total, n_positive


@njit(cache=False)
def _correct_active(u_row, bias, importance, start, stop, indices, values, out_row):
    """Fix the residual and the loss at the active features; returns the loss change."""
    change = 0.0
    for k in range(start, stop):
        f = indices[k]
        x = values[k]
        pre = u_row[f] + bias[f]
        y = pre if pre > 0.0 else 0.0
        change += importance[f] * ((y - x) * (y - x) - y * y)
        out_row[f] = importance[f] * (y - x) if pre > 0.0 else 0.0
    return change


@njit(cache=True, fastmath=_REASSOC)
def output_pass_dense(U, bias, indptr, indices, values, importance, scale, G, grad_bias):
    """Fused ReLU + loss + dense ``dL/du``.

    Parameters
    ----------
    U : array, shape (batch, n_features)
        ``Z W_outᵀ`` (bias not added).
    bias, importance : arrays, shape (n_features,)
    indptr, indices, values : CSR batch (the targets x).
    scale : float
        1/(batch·n_features) for the mean loss, 1/batch for the per-sample sum.
    G : array, shape (batch, n_features)
        Output ``dL/du``, overwritten.
    grad_bias : array, shape (n_features,)
        Output ``dL/db = Σ_b G[b]``, overwritten.

    Returns
    -------
    loss : float
    n_positive : int
        Number of pre-activations ``u + b > 0``.
    """
    batch, n_features = U.shape
    two_scale = 2.0 * scale
    for f in range(n_features):
        grad_bias[f] = 0.0
    loss = 0.0
    n_positive = 0
    for row in range(batch):
        g_row = G[row]
        row_loss, row_positive = _residual_row(U[row], bias, importance, g_row)
        row_loss += _correct_active(
            U[row], bias, importance, indptr[row], indptr[row + 1], indices, values, g_row
        )
        for f in range(n_features):
            g_row[f] *= two_scale
            grad_bias[f] += g_row[f]
        loss += row_loss
        n_positive += row_positive
    return loss * scale, n_positive


@njit(cache=False)
def _mark_positive(u_row, bias_value, mask):
    """``mask[b] = u[b] + bias > 0`` over the row (branch-free, vectorised); returns the count."""
    hits = 0
    for b in range(u_row.shape[0]):
        hit = 1 if u_row[b] + bias_value > 0.0 else 0
        mask[b] = hit
        hits += hit
    return hits


def mask_buffer(length: int) -> tuple[np.ndarray, np.ndarray]:
    """Zeroed uint8 mask of ``32·ceil(length / 32)`` bytes and its uint64 view.

    The scratch buffers of :func:`output_pass_features` (groups of 4 words = 32 entries; the
    padding past ``length`` stays zero).
    """
    mask = np.zeros(32 * ((length + 31) // 32), dtype=np.uint8)
    return mask, mask.view(np.uint64)


@njit(cache=False)
def _collect_positive(mask, mask_words, positions):
    """Indices with ``mask[i] = 1``, in increasing order, into ``positions``.

    Groups of 4 words (32 entries) that are all zero are skipped with one test; inside a
    non-zero word the compaction is branch-free (write, then advance by the mask byte).
    Returns the count.
    """
    count = 0
    for group in range(0, mask_words.shape[0], 4):
        if (
            mask_words[group]
            | mask_words[group + 1]
            | mask_words[group + 2]
            | mask_words[group + 3]
        ) == 0:
            continue
        for word in range(group, group + 4):
            if mask_words[word] == 0:
                continue
            for i in range(8 * word, 8 * word + 8):
                positions[count] = i
                count += mask[i]
    return count


@njit(cache=True)
def output_pass_features(
    UT,
    feature_start,
    bias,
    x_ptr,
    x_rows,
    x_values,
    importance,
    scale,
    work,
    mask,
    mask_words,
    positions,
    g_ptr,
    g_rows,
    g_values,
    grad_bias,
    count,
):
    """Fused ReLU + loss + ``dL/du`` for a block of features, compacted feature-major (CSC).

    Same quantities as :func:`output_pass_dense` for the features ``feature_start + t``,
    ``t < UT.shape[0]``, but read from the transposed block ``UT[t, b] = u[b, feature_start + t]``
    and written as the feature-major non-zeros of ``dL/du``: ``g_ptr[f + 1]`` (``g_ptr`` has
    n_features + 1 entries, ``g_ptr[0] = 0`` set by the caller), ``g_rows``, ``g_values`` from
    position ``count`` on, samples increasing within a feature. ``x_ptr``, ``x_rows``,
    ``x_values`` are the batch in feature-major form (:func:`transpose_csr`); ``work`` (batch,)
    holds one feature's targets during the pass (left zero); ``mask``, ``mask_words`` come from
    :func:`mask_buffer` (batch) and ``positions`` (int64, the mask's length) is scratch. A
    vectorised loop marks ``u + b > 0`` over the batch, groups of 32 samples without a
    positive entry are skipped, and only the positive entries take the scalar path. The loss
    is computed as if ``x = 0`` and corrected at the active entries.

    Returns
    -------
    loss : float
        This block's share of the loss (already multiplied by ``scale``).
    n_positive : int
        Number of pre-activations ``u + b > 0`` in the block.
    count : int
        Number of stored non-zeros after this block.
    """
    two_scale = 2.0 * scale
    loss = 0.0
    n_positive = 0
    for t in range(UT.shape[0]):
        f = feature_start + t
        u_row = UT[t]
        bias_f = bias[f]
        weight = importance[f]
        first, last = x_ptr[f], x_ptr[f + 1]
        for k in range(first, last):
            work[x_rows[k]] = x_values[k]
        hits = _mark_positive(u_row, bias_f, mask)
        n_positive += hits
        n_found = _collect_positive(mask, mask_words, positions) if hits else 0
        grad_bias[f] = 0.0
        for k in range(n_found):
            b = positions[k]
            pre = u_row[b] + bias_f
            loss += weight * pre * pre
            residual = weight * (pre - work[b])
            if residual != 0.0:
                gradient = residual * two_scale
                g_rows[count] = b
                g_values[count] = gradient
                grad_bias[f] += gradient
                count += 1
        for k in range(first, last):
            b = x_rows[k]
            x = x_values[k]
            pre = u_row[b] + bias_f
            y = pre if pre > 0.0 else 0.0
            loss += weight * ((y - x) * (y - x) - y * y)
            work[b] = 0.0
        g_ptr[f + 1] = count
    return loss * scale, n_positive, count
