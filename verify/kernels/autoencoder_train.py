"""Sparse-aware training step of the ReLU autoencoder ``y = ReLU(W_out W_in x + b)``.

One step (see ``docs/training.md#speed``):

1. ``Z = W_in x`` over the active columns only (``W_in`` is stored transposed, ``W_inT`` of
   shape (n_features, n_hidden), so a column is a contiguous row): :func:`first_layer`; the
   batch is also sorted feature-major once (:func:`transpose_csr`).
2. ``U = Z W_outᵀ`` is the one dense BLAS GEMM (numpy ``matmul`` into a preallocated buffer).
3. One fused pass computes ReLU, the loss and ``dL/du = 2 I (y − x) s · [u > 0]`` (``s`` = 1/(B·n)
   or 1/B), computing the loss as if ``x = 0`` everywhere and then correcting it at the active
   features; the bias gradient is summed in the same pass.
4. Dense path: ``U`` whole, ``dL/du`` written dense (:func:`output_pass_dense`), ``dW_out = Gᵀ Z``
   and ``dZ = G W_out`` are BLAS GEMMs, then a flat Adam update.
   Sparse path: the GEMM writes ``Uᵀ = W_out Zᵀ`` and the output pass
   (:func:`output_pass_features`) compacts ``dL/du`` feature-major; ``dW_out`` is
   built row by row from it and fused with Adam, and ``dZ = G W_out`` is scattered in the same
   pass from the rows of ``W_out`` before their update
   (:func:`adam_rows_scatter_from_sparse`; the parallel variant gathers ``dZ`` with
   :func:`sparse_hidden_gradient_parallel` and updates with
   :func:`adam_rows_from_sparse_parallel`).
5. ``dW_in`` touches active columns only and is fused with Adam (:func:`adam_rows_from_sparse`,
   feature-major ``x`` against ``dZ``). Adam still updates every parameter, since its moments
   decay.

Dense-input path (chosen per step from the batch's own density ``nnz / (batch·n)``, see
:data:`DEFAULT_DENSE_INPUT_THRESHOLD`): at high feature probability the gathers of steps 1 and 5
are slower than BLAS, so the batch is scattered into a dense ``X`` (:func:`csr_to_dense`),
``Z = X W_inT`` and ``dW_inT = Xᵀ dZ`` are GEMMs and ``W_in`` takes the flat Adam
(:func:`adam_flat`). The output side (dense or sparse ``dL/du``) is unchanged; the feature-major
copy of ``x`` is only made when a path reads it.

The path is chosen per step from the fraction of positive pre-activations measured in the
previous step (dense at init, sparse once trained; crossover measured at 12–15 % here, see
:data:`DEFAULT_DENSE_THRESHOLD`). :class:`AutoencoderStepper` owns the buffers and runs one step.
The Adam kernels live in :mod:`toyforge.verify.kernels.autoencoder_train_adam`. The numpy
reference of every kernel is :func:`toyforge.verify.train.gradients.relu_autoencoder_loss_gradients`
plus :class:`toyforge.verify.train.optim.Adam`. Parallel kernels are separate functions with the
suffix ``_parallel``; reductions use ``fastmath={"reassoc"}`` only, which does not assume the
absence of NaN or inf.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from toyforge.verify.kernels.autoencoder_output_pass import (
    mask_buffer,
    output_pass_dense,
    output_pass_features,
)
from toyforge.verify.kernels.autoencoder_train_adam import (
    ADAM_BLOCK_ELEMENTS,
    adam_coefficients,
    adam_flat,
    adam_rows_from_sparse,
    adam_rows_from_sparse_parallel,
    adam_rows_scatter_from_sparse,
    transpose_csr,
)
from toyforge.verify.train.optim import Adam, AdamConfig

__all__ = [
    "ADAM_BLOCK_ELEMENTS",
    "DEFAULT_DENSE_INPUT_THRESHOLD",
    "DEFAULT_DENSE_THRESHOLD",
    "AutoencoderStepper",
    "StepStats",
    "adam_coefficients",
    "adam_flat",
    "adam_rows_from_sparse",
    "adam_rows_from_sparse_parallel",
    "adam_rows_scatter_from_sparse",
    "csr_to_dense",
    "first_layer",
    "first_layer_parallel",
    "mask_buffer",
    "output_pass_dense",
    "output_pass_features",
    "sparse_hidden_gradient",
    "sparse_hidden_gradient_parallel",
    "transpose_csr",
    "warmup",
]

#: Fraction of positive pre-activations above which dL/du is kept dense. An earlier study
#: measured a 5–8 % crossover; with the word-skipping output pass and the float32 fused Adam the
#: sparse path is faster up to about 12–15 % (shape B, 8.8 % positive: 20.6 ms sparse vs
#: 25.1 ms dense per step, one core), so the switch sits at 12 %.
DEFAULT_DENSE_THRESHOLD = 0.12

#: Input density ``nnz / (batch·n_features)`` at or above which the batch is made dense and the
#: first layer and ``dW_in`` are BLAS GEMMs. Whole step, both input paths forced, n = 512,
#: m = 205 and 409, batch 1024, float32, one core, dense and sparse dL/du: the dense input path
#: takes 1.43–1.66× the time of the sparse one at density 0.05, 1.00–1.06× at 0.25, 0.93–1.04×
#: at 0.3 (the crossover) and 0.54–0.81× at 0.8 (docs/training.md#speed): the switch is at 0.28.
DEFAULT_DENSE_INPUT_THRESHOLD = 0.28

_REASSOC = {"reassoc"}


# --------------------------------------------------------------------------- forward


@njit(cache=False, fastmath=_REASSOC)
def _sum_rows(start, stop, indices, values, table, out):
    """``out = Σ_k values[k] table[indices[k]]`` for ``start <= k < stop``, four rows of
    ``table`` per pass over ``out`` (one load and store of ``out`` for four rows)."""
    for h in range(out.shape[0]):
        out[h] = 0.0
    k = start
    while k + 4 <= stop:
        r0, r1, r2, r3 = indices[k], indices[k + 1], indices[k + 2], indices[k + 3]
        v0, v1, v2, v3 = values[k], values[k + 1], values[k + 2], values[k + 3]
        for h in range(out.shape[0]):
            out[h] += v0 * table[r0, h] + v1 * table[r1, h] + v2 * table[r2, h] + v3 * table[r3, h]
        k += 4
    for rest in range(k, stop):
        row = indices[rest]
        value = values[rest]
        for h in range(out.shape[0]):
            out[h] += value * table[row, h]


@njit(cache=True, fastmath=_REASSOC)
def first_layer(indptr, indices, values, W_inT, Z):
    """``Z[b] = Σ_{j active in b} x_bj W_inT[j]`` (serial).

    Parameters
    ----------
    indptr : int64 array, shape (batch + 1,)
    indices, values : arrays, shape (nnz,)
        CSR batch (values in the dtype of ``W_inT``).
    W_inT : array, shape (n_features, n_hidden)
    Z : array, shape (batch, n_hidden)
        Output, overwritten.
    """
    for row in range(indptr.shape[0] - 1):
        _sum_rows(indptr[row], indptr[row + 1], indices, values, W_inT, Z[row])


@njit(cache=True)
def csr_to_dense(indptr, indices, values, X):
    """Scatter a CSR batch into the dense ``X`` (batch, n_features), overwritten.

    Repeated indices in a row are summed, as :func:`first_layer` sums them.
    """
    for row in range(indptr.shape[0] - 1):
        x_row = X[row]
        for f in range(x_row.shape[0]):
            x_row[f] = 0.0
        for k in range(indptr[row], indptr[row + 1]):
            x_row[indices[k]] += values[k]


@njit(cache=True, parallel=True, fastmath=_REASSOC)
def first_layer_parallel(indptr, indices, values, W_inT, Z):
    """Parallel version of :func:`first_layer` (rows split over threads)."""
    for row in prange(indptr.shape[0] - 1):
        _sum_rows(indptr[row], indptr[row + 1], indices, values, W_inT, Z[row])


# --------------------------------------------------------------------------- backward


@njit(cache=True, fastmath=_REASSOC)
def sparse_hidden_gradient(g_indptr, g_indices, g_values, W_out, dZ):
    """``dZ[b] = Σ_i G[b, i] W_out[i]`` over the non-zeros of G (serial)."""
    n_hidden = W_out.shape[1]
    for row in range(g_indptr.shape[0] - 1):
        for h in range(n_hidden):
            dZ[row, h] = 0.0
        for k in range(g_indptr[row], g_indptr[row + 1]):
            feature = g_indices[k]
            gradient = g_values[k]
            for h in range(n_hidden):
                dZ[row, h] += gradient * W_out[feature, h]


@njit(cache=True, parallel=True, fastmath=_REASSOC)
def sparse_hidden_gradient_parallel(g_indptr, g_indices, g_values, W_out, dZ):
    """Parallel version of :func:`sparse_hidden_gradient`."""
    n_hidden = W_out.shape[1]
    for row in prange(g_indptr.shape[0] - 1):
        for h in range(n_hidden):
            dZ[row, h] = 0.0
        for k in range(g_indptr[row], g_indptr[row + 1]):
            feature = g_indices[k]
            gradient = g_values[k]
            for h in range(n_hidden):
                dZ[row, h] += gradient * W_out[feature, h]


# --------------------------------------------------------------------------- stepper


@dataclass(frozen=True, kw_only=True, slots=True)
class StepStats:
    """What one training step measured."""

    loss: float
    positive_fraction: float
    sparse_path: bool
    dense_input: bool = False


class AutoencoderStepper:
    """Buffers and one sparse-aware Adam step for an untied :class:`ReluAutoencoder`.

    Parameters
    ----------
    W_in : ndarray, shape (n_hidden, n_features)
    W_out : ndarray, shape (n_features, n_hidden)
    b : ndarray, shape (n_features,)
        Initial weights (copied, cast to ``dtype``).
    optimizer : Adam
        Optimiser state; its moments are kept under the names ``W_in``, ``W_out``, ``b``
        (``W_in``'s moments are stored transposed inside the stepper and exported by
        :meth:`arrays`).
    batch_size : int
    importance : ndarray, shape (n_features,), optional
    reduction : {"mean", "sum_features"}
    dense_threshold : float
        Use the dense ``dL/du`` path when the previous step's positive fraction exceeds it
        (the first step is dense). 0 forces dense; above 1 forces sparse.
    dense_input_threshold : float
        Make the batch dense and use BLAS for ``Z = X W_inᵀ`` and ``dW_in`` when the batch's
        density ``nnz / (batch·n_features)`` is at or above it (decided per step). 0 forces
        the dense input path; above 1 forces the sparse (gather) input path.
    parallel : bool
        Use the ``_parallel`` kernels where they exist.
    decay_bias : bool
        Apply weight decay to ``b`` (torch AdamW decays every parameter).
    """

    def __init__(
        self,
        W_in: np.ndarray,
        W_out: np.ndarray,
        b: np.ndarray,
        optimizer: Adam,
        *,
        batch_size: int,
        dtype: np.dtype | type = np.float32,
        importance: np.ndarray | None = None,
        reduction: str = "mean",
        dense_threshold: float = DEFAULT_DENSE_THRESHOLD,
        dense_input_threshold: float = DEFAULT_DENSE_INPUT_THRESHOLD,
        parallel: bool = False,
        decay_bias: bool = True,
    ) -> None:
        dtype = np.dtype(dtype)
        self.dtype = dtype
        self.W_inT = np.ascontiguousarray(np.array(W_in, dtype=dtype).T)
        self.W_out = np.array(W_out, dtype=dtype, order="C")
        self.b = np.array(b, dtype=dtype)
        n_features, n_hidden = self.W_out.shape
        self.n_features, self.n_hidden, self.batch_size = n_features, n_hidden, batch_size
        self.optimizer = optimizer
        self.moments = {
            name: (np.zeros_like(array), np.zeros_like(array))
            for name, array in (("W_inT", self.W_inT), ("W_out", self.W_out), ("b", self.b))
        }
        self.importance = (
            np.ones(n_features, dtype=dtype)
            if importance is None
            else np.asarray(importance, dtype=dtype)
        )
        self.scale = 1.0 / (batch_size * n_features) if reduction == "mean" else 1.0 / batch_size
        self.dense_threshold = float(dense_threshold)
        self.dense_input_threshold = float(dense_input_threshold)
        self.X: np.ndarray | None = None  # dense batch, allocated by the first dense-input step
        self.decay_bias = decay_bias
        self.parallel = parallel
        self.last_positive_fraction = 1.0
        self.Z = np.empty((batch_size, n_hidden), dtype=dtype)
        self.dZ = np.empty_like(self.Z)
        self.U = np.empty((batch_size, n_features), dtype=dtype)
        self.G = np.empty_like(self.U)  # dense dL/du, or unused
        self.grad_W_out = np.empty_like(self.W_out)
        self.grad_b = np.empty_like(self.b)
        self.UT = self.U.reshape(n_features, batch_size)  # sparse path: Uᵀ, same memory
        self.work = np.zeros(batch_size, dtype=dtype)
        self.mask, self.mask_words = mask_buffer(batch_size)
        self.positions = np.empty(self.mask.shape[0], dtype=np.int64)
        self.g_ptr = np.zeros(n_features + 1, dtype=np.int64)
        self.g_rows = np.empty(batch_size * n_features, dtype=np.int32)
        self.g_values = np.empty(batch_size * n_features, dtype=dtype)
        self.grad_W_inT = np.empty_like(self.W_inT)
        self.store_grad = False

    def uses_sparse_path(self) -> bool:
        """Whether the next step takes the sparse ``dL/du`` path."""
        return self.last_positive_fraction <= self.dense_threshold

    def uses_dense_input(self, nnz: int) -> bool:
        """Whether a batch with ``nnz`` stored entries takes the dense input path."""
        return nnz >= self.dense_input_threshold * (self.batch_size * self.n_features)

    def step(self, indptr: np.ndarray, indices: np.ndarray, values: np.ndarray) -> StepStats:
        """One Adam step on the CSR batch (values cast to the training dtype)."""
        if values.dtype != self.dtype:
            values = values.astype(self.dtype)
        if indptr.shape[0] - 1 != self.batch_size:
            raise ValueError("batch size differs from the stepper's")
        sparse = self.uses_sparse_path()
        dense_input = self.uses_dense_input(int(indptr[-1]))
        if dense_input:
            if self.X is None:
                self.X = np.empty((self.batch_size, self.n_features), dtype=self.dtype)
            csr_to_dense(indptr, indices, values, self.X)
            np.matmul(self.X, self.W_inT, out=self.Z)
        else:
            forward = first_layer_parallel if self.parallel else first_layer
            forward(indptr, indices, values, self.W_inT, self.Z)
        needs_columns = sparse or not dense_input
        columns = transpose_csr(indptr, indices, values, self.n_features) if needs_columns else None
        coefs, bias_coefs = self._adam_coefficients()
        if sparse:
            loss, n_positive = self._sparse_step(columns, coefs)
        else:
            np.matmul(self.Z, self.W_out.T, out=self.U)
            loss, n_positive = self._dense_backward(indptr, indices, values, coefs)
        if dense_input:
            self._input_layer_update_dense(coefs)
        else:
            self._input_layer_update(columns, coefs)
        adam_flat(self.b, *self.moments["b"], self.grad_b, bias_coefs)
        fraction = n_positive / (self.batch_size * self.n_features)
        self.last_positive_fraction = fraction
        return StepStats(
            loss=float(loss),
            positive_fraction=fraction,
            sparse_path=sparse,
            dense_input=dense_input,
        )

    def _adam_coefficients(self) -> tuple[np.ndarray, np.ndarray]:
        """Advance the step count; Adam constants for the weights and for the bias."""
        optimizer = self.optimizer
        config = optimizer.config
        lr = optimizer.learning_rate()
        optimizer.step_count += 1
        t = optimizer.step_count
        hyper = (
            lr,
            config.beta1,
            config.beta2,
            config.eps,
            1.0 - config.beta1**t,
            1.0 - config.beta2**t,
        )
        coefs = adam_coefficients(*hyper, config.weight_decay, config.decoupled, self.dtype)
        decay = config.weight_decay if self.decay_bias else 0.0
        return coefs, adam_coefficients(*hyper, decay, config.decoupled, self.dtype)

    def _dense_backward(self, indptr, indices, values, coefs) -> tuple[float, int]:
        loss, n_positive = output_pass_dense(
            self.U,
            self.b,
            indptr,
            indices,
            values,
            self.importance,
            self.scale,
            self.G,
            self.grad_b,
        )
        np.matmul(self.G.T, self.Z, out=self.grad_W_out)
        np.matmul(self.G, self.W_out, out=self.dZ)
        self._adam_whole_matrix("W_out", self.W_out, self.grad_W_out, coefs)
        return loss, n_positive

    def _sparse_step(self, columns, coefs) -> tuple[float, int]:
        """``Uᵀ = W_out Zᵀ`` (BLAS), the feature-major output pass, then the ``W_out`` update
        with ``dZ`` (scattered in the same pass when serial)."""
        np.matmul(self.W_out, self.Z.T, out=self.UT)
        loss, n_positive, _ = output_pass_features(
            self.UT,
            0,
            self.b,
            *columns,
            self.importance,
            self.scale,
            self.work,
            self.mask,
            self.mask_words,
            self.positions,
            self.g_ptr,
            self.g_rows,
            self.g_values,
            self.grad_b,
            0,
        )
        gradient = (self.g_ptr, self.g_rows, self.g_values)
        W_out_state = (self.W_out, *self.moments["W_out"])
        if self.parallel:
            by_sample = transpose_csr(*gradient, self.batch_size)
            sparse_hidden_gradient_parallel(*by_sample, self.W_out, self.dZ)
            adam_rows_from_sparse_parallel(
                *W_out_state, *gradient, self.Z, coefs, self.grad_W_out, self.store_grad
            )
        else:
            adam_rows_scatter_from_sparse(
                *W_out_state, *gradient, self.Z, coefs, self.grad_W_out, self.store_grad, self.dZ
            )
        return loss, n_positive

    def _input_layer_update(self, columns, coefs) -> None:
        fused = adam_rows_from_sparse_parallel if self.parallel else adam_rows_from_sparse
        fused(
            self.W_inT,
            *self.moments["W_inT"],
            *columns,
            self.dZ,
            coefs,
            self.grad_W_inT,
            self.store_grad,
        )

    def _input_layer_update_dense(self, coefs) -> None:
        """``dW_inT = Xᵀ dZ`` (BLAS GEMM), then the flat Adam update of ``W_inT``."""
        np.matmul(self.X.T, self.dZ, out=self.grad_W_inT)
        self._adam_whole_matrix("W_inT", self.W_inT, self.grad_W_inT, coefs)

    def _adam_whole_matrix(self, name, param, grad, coefs) -> None:
        """The flat Adam update of a whole (C-contiguous) weight matrix from a dense gradient."""
        first, second = self.moments[name]
        adam_flat(param.reshape(-1), first.reshape(-1), second.reshape(-1), grad.reshape(-1), coefs)

    def arrays(self) -> dict[str, np.ndarray]:
        """Copies of the current weights: ``W_in`` (n_hidden, n_features), ``W_out``, ``b``."""
        return {"W_in": self.W_inT.T.copy(), "W_out": self.W_out.copy(), "b": self.b.copy()}

    def last_gradients(self) -> dict[str, np.ndarray]:
        """Gradients of the last step (only meaningful when ``store_grad`` was True)."""
        return {
            "W_in": self.grad_W_inT.T.copy(),
            "W_out": self.grad_W_out.copy(),
            "b": self.grad_b.copy(),
        }


def warmup() -> list[str]:
    """Compile (or load from cache) the serial kernels on tiny float32 and float64 inputs.

    Each output path runs one step with the dense input path and one with the sparse one.
    """
    names = []
    for dtype in (np.float32, np.float64):
        for threshold in (0.0, 2.0):
            rng = np.random.default_rng(0)
            stepper = AutoencoderStepper(
                rng.uniform(-1, 1, (2, 4)),
                rng.uniform(-1, 1, (4, 2)),
                np.zeros(4),
                Adam(config=AdamConfig()),
                batch_size=3,
                dtype=dtype,
                dense_threshold=threshold,
            )
            indptr = np.array([0, 1, 1, 3], dtype=np.int64)
            indices = np.array([2, 0, 3], dtype=np.int32)
            values = np.array([0.5, 0.25, 1.0], dtype=dtype)
            for input_threshold in (0.0, 2.0):  # dense input, then sparse input
                stepper.dense_input_threshold = input_threshold
                stepper.step(indptr, indices, values)
            names.append(
                f"autoencoder_train step ({np.dtype(dtype).name}, "
                f"{'dense' if threshold == 0.0 else 'sparse'} path, both input paths)"
            )
    return names
