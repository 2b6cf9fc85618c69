"""Fast Walsh–Hadamard transform and the matrix-free Persian-rug loss kernel (numba).

The rug's ``W = H_Sᵀ H_S / n_hidden`` (docs/rug_construction.md#the-construction;
H Sylvester–Hadamard, S the row set) is applied without any matrix:
``W x = H (mask_S ⊙ H x) / n_hidden``, H symmetric.

Routes, per sample with k active features (chosen per sample, both exact):

* **spectrum** ``z = H_S x``: either ``z_s = Σ_j x_j (−1)^{popcount(s AND j)}`` directly from
  the parity of ``s AND j`` (O(k · n_hidden) bit operations, cheapest when the sample is very
  sparse), or one full FWHT of the scattered x (O(n log n)) read at S. The direct route is
  taken when ``k · n_hidden < DIRECT_FACTOR · n · log2(n)``.
* **output** ``u = H z / n_hidden``: one full FWHT of length n of the n_hidden-sparse spectrum
  (every output feature is needed for the loss).

The FWHT is in place: levels 1, 2, 4 in registers (radix 8), then radix-4 sweeps (two levels
each) inside cache-sized blocks of ``BLOCK`` doubles, then the remaining levels on column strips
of ``STRIP`` doubles of the vector viewed as (n / BLOCK) × BLOCK, so each strip stays in cache
across those levels: the whole vector passes through memory about twice. The butterflies work
on separate array views with zero-based loop indices, which lets LLVM vectorise them (4× over
indexing one array).

The per-sample loss is ``(1/n) Σ_i (ReLU(scale·u_i + bias) − x_i)²``
(docs/large_n_theory.md#model-data-and-loss), summed
over all outputs as if x = 0 and corrected at the k active features.

Kernels: :func:`fwht` (batch of rows, in place), :func:`rug_sample_losses` (serial) and
:func:`rug_sample_losses_parallel` (prange over samples; a separately written function).
References (numpy): the transform is
:func:`toyforge.theory.finite_n.walsh_hadamard_transform` — the project's one numpy FWHT, the
one the rug construction uses — and :func:`rug_sample_losses_reference` is built on it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from toyforge.theory.finite_n import walsh_hadamard_transform

__all__ = [
    "BLOCK",
    "DIRECT_FACTOR",
    "STRIP",
    "direct_limit",
    "fwht",
    "rug_sample_losses",
    "rug_sample_losses_parallel",
    "rug_sample_losses_reference",
    "warmup",
]

BLOCK = 2**12
"""Doubles transformed per cache block in the first butterfly levels (32 KiB)."""

STRIP = 64
"""Columns per strip in the last levels (a strip of n / BLOCK rows stays in cache)."""

DIRECT_FACTOR = 0.05
"""Direct spectrum when k · n_hidden < DIRECT_FACTOR · n · log2 n (measured crossover)."""


# --------------------------------------------------------------------------- jitted helpers


@njit(cache=False, inline="always")
def _butterfly4(x0, x1, x2, x3, width):
    """Two butterfly levels on four equal-length views: (x0, x1), (x2, x3), then across.

    Separate views (loop index from 0) let LLVM vectorise the loop.
    """
    for j in range(width):
        a0 = x0[j]
        a1 = x1[j]
        a2 = x2[j]
        a3 = x3[j]
        s0 = a0 + a1
        d0 = a0 - a1
        s1 = a2 + a3
        d1 = a2 - a3
        x0[j] = s0 + s1
        x1[j] = d0 + d1
        x2[j] = s0 - s1
        x3[j] = d0 - d1


@njit(cache=False, inline="always")
def _butterfly2(x0, x1, width):
    """One butterfly level on two equal-length views."""
    for j in range(width):
        a0 = x0[j]
        a1 = x1[j]
        x0[j] = a0 + a1
        x1[j] = a0 - a1


@njit(cache=False)
def _sweeps(a, lo, hi, h_start, h_stop):
    """Butterfly levels h = h_start, 2 h_start, … < h_stop on a[lo:hi] (radix 4, then 2)."""
    h = h_start
    while 4 * h <= h_stop:
        for i in range(lo, hi, 4 * h):
            _butterfly4(
                a[i : i + h],
                a[i + h : i + 2 * h],
                a[i + 2 * h : i + 3 * h],
                a[i + 3 * h : i + 4 * h],
                h,
            )
        h *= 4
    if 2 * h <= h_stop:
        for i in range(lo, hi, 2 * h):
            _butterfly2(a[i : i + h], a[i + h : i + 2 * h], h)


@njit(cache=False)
def _strip_sweeps(a, column, width, h_start, n):
    """Levels h >= h_start on columns [column, column + width) of ``a`` viewed as
    (n / h_start) rows of h_start entries: the strip stays in cache across these levels."""
    h = h_start
    while 4 * h <= n:
        for i in range(0, n, 4 * h):
            for j in range(i + column, i + h, h_start):
                _butterfly4(
                    a[j : j + width],
                    a[j + h : j + h + width],
                    a[j + 2 * h : j + 2 * h + width],
                    a[j + 3 * h : j + 3 * h + width],
                    width,
                )
        h *= 4
    if 2 * h <= n:
        for i in range(0, n, 2 * h):
            for j in range(i + column, i + h, h_start):
                _butterfly2(a[j : j + width], a[j + h : j + h + width], width)


@njit(cache=False)
def _first_levels(a, lo):
    """Levels h = 1, 2, 4 of a[lo:lo+8] in registers (radix 8)."""
    x0 = a[lo]
    x1 = a[lo + 1]
    x2 = a[lo + 2]
    x3 = a[lo + 3]
    x4 = a[lo + 4]
    x5 = a[lo + 5]
    x6 = a[lo + 6]
    x7 = a[lo + 7]
    y0 = x0 + x1
    y1 = x0 - x1
    y2 = x2 + x3
    y3 = x2 - x3
    y4 = x4 + x5
    y5 = x4 - x5
    y6 = x6 + x7
    y7 = x6 - x7
    z0 = y0 + y2
    z1 = y1 + y3
    z2 = y0 - y2
    z3 = y1 - y3
    z4 = y4 + y6
    z5 = y5 + y7
    z6 = y4 - y6
    z7 = y5 - y7
    a[lo] = z0 + z4
    a[lo + 1] = z1 + z5
    a[lo + 2] = z2 + z6
    a[lo + 3] = z3 + z7
    a[lo + 4] = z0 - z4
    a[lo + 5] = z1 - z5
    a[lo + 6] = z2 - z6
    a[lo + 7] = z3 - z7


@njit(cache=False)
def _fwht_inplace(a):
    """Unnormalised Sylvester-order WHT of the 1-D power-of-two array ``a``, in place."""
    n = a.size
    if n < 8:
        _sweeps(a, 0, n, 1, n)
        return
    block = min(n, BLOCK)
    for lo in range(0, n, block):
        for start in range(lo, lo + block, 8):
            _first_levels(a, start)
        _sweeps(a, lo, lo + block, 8, block)
    if block < n:
        width = min(STRIP, block)
        for column in range(0, block, width):
            _strip_sweeps(a, column, width, block, n)


@njit(cache=False)
def _parity(value):
    """Parity of popcount(value) for a non-negative 64-bit integer."""
    value ^= value >> 32
    value ^= value >> 16
    value ^= value >> 8
    value ^= value >> 4
    value ^= value >> 2
    value ^= value >> 1
    return value & 1


@njit(cache=False)
def _spectrum_direct(indices, values, lo, hi, rows, buffer):
    """buffer[s] = Σ_j x_j (−1)^{popcount(s AND j)} for s in S (others untouched, zero)."""
    for r in range(rows.size):
        s = rows[r]
        total = 0.0
        for e in range(lo, hi):
            if _parity(s & np.int64(indices[e])):
                total -= values[e]
            else:
                total += values[e]
        buffer[s] = total


@njit(cache=False)
def _sample_loss(indices, values, lo, hi, rows, scale, bias, direct_limit, buffer, spectrum):
    """Per-feature loss of one sample; ``buffer``/``spectrum`` are zeroed scratch of length n.

    Both scratch vectors are zero again on return (the zeroing is fused into the loss pass).
    """
    n = buffer.size
    inverse_hidden = 1.0 / rows.size
    direct = (hi - lo) * rows.size < direct_limit
    if direct:
        _spectrum_direct(indices, values, lo, hi, rows, spectrum)
    else:
        for e in range(lo, hi):
            spectrum[indices[e]] = values[e]
        _fwht_inplace(spectrum)
    for r in range(rows.size):
        buffer[rows[r]] = spectrum[rows[r]] * inverse_hidden
        spectrum[rows[r]] = 0.0
    _fwht_inplace(buffer)
    total = 0.0
    for e in range(lo, hi):  # correction at the active features: (y − x)² instead of y²
        y = scale * buffer[indices[e]] + bias
        if y < 0.0:
            y = 0.0
        x = values[e]
        total += (y - x) * (y - x) - y * y
    if direct:
        for i in range(n):
            y = scale * buffer[i] + bias
            buffer[i] = 0.0
            if y > 0.0:
                total += y * y
    else:
        for i in range(n):
            y = scale * buffer[i] + bias
            buffer[i] = 0.0
            spectrum[i] = 0.0
            if y > 0.0:
                total += y * y
    return total / n


# --------------------------------------------------------------------------- entry kernels


@njit(cache=True)
def fwht(values):
    """In-place unnormalised WHT of every row of the 2-D C-contiguous float64 array.

    The numba kernel of :func:`toyforge.theory.finite_n.walsh_hadamard_transform` (same
    Sylvester order, same normalisation), tested against it.
    """
    for row in range(values.shape[0]):
        _fwht_inplace(values[row])
    return values


@njit(cache=True)
def rug_sample_losses(indptr, indices, values, rows, n_features, scale, bias, direct_limit):
    """Per-sample loss of the rug on a CSR batch (serial); float64 array (batch,)."""
    batch = indptr.size - 1
    losses = np.empty(batch)
    buffer = np.zeros(n_features)
    spectrum = np.zeros(n_features)
    for sample in range(batch):
        losses[sample] = _sample_loss(
            indices,
            values,
            indptr[sample],
            indptr[sample + 1],
            rows,
            scale,
            bias,
            direct_limit,
            buffer,
            spectrum,
        )
    return losses


@njit(cache=True, parallel=True)
def rug_sample_losses_parallel(
    indptr, indices, values, rows, n_features, scale, bias, direct_limit, n_chunks
):
    """Per-sample loss of the rug on a CSR batch, ``n_chunks`` chunks in parallel."""
    batch = indptr.size - 1
    losses = np.empty(batch)
    per_chunk = (batch + n_chunks - 1) // n_chunks
    for chunk in prange(n_chunks):
        buffer = np.zeros(n_features)
        spectrum = np.zeros(n_features)
        for sample in range(chunk * per_chunk, min(batch, (chunk + 1) * per_chunk)):
            losses[sample] = _sample_loss(
                indices,
                values,
                indptr[sample],
                indptr[sample + 1],
                rows,
                scale,
                bias,
                direct_limit,
                buffer,
                spectrum,
            )
    return losses


def direct_limit(n_features: int) -> float:
    """Threshold on k · n_hidden below which the direct spectrum route is taken."""
    return DIRECT_FACTOR * n_features * max(math.log2(n_features), 1.0)


# --------------------------------------------------------------------------- references


def rug_sample_losses_reference(
    indptr: np.ndarray,
    indices: np.ndarray,
    values: np.ndarray,
    rows: np.ndarray,
    n_features: int,
    scale: float,
    bias: float,
) -> np.ndarray:
    """Per-sample rug loss from dense samples and ``walsh_hadamard_transform`` (numpy)."""
    batch = indptr.size - 1
    dense = np.zeros((batch, n_features))
    dense[np.repeat(np.arange(batch), np.diff(indptr)), indices] = values
    spectrum = walsh_hadamard_transform(dense)
    masked = np.zeros_like(spectrum)
    masked[:, rows] = spectrum[:, rows] / rows.size
    output = np.maximum(scale * walsh_hadamard_transform(masked) + bias, 0.0)
    return np.mean((output - dense) ** 2, axis=1)


def warmup() -> list[str]:
    """Compile (or load from cache) the kernels of this module on tiny inputs."""
    rows = np.array([0, 3], dtype=np.int64)
    indptr = np.array([0, 1, 3], dtype=np.int64)
    indices = np.array([1, 0, 5], dtype=np.int32)
    values = np.array([0.5, 0.25, 0.75])
    fwht(np.ones((1, 16)))
    for limit in (0.0, 1e9):
        rug_sample_losses(indptr, indices, values, rows, 16, 1.0, -0.1, limit)
        rug_sample_losses_parallel(indptr, indices, values, rows, 16, 1.0, -0.1, limit, 2)
    return ["fwht", "rug_sample_losses", "rug_sample_losses_parallel"]
