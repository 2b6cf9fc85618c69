"""Data for the toy tasks: sparse batches, fixed datasets, modular-addition pairs.

* :func:`sample_sparse_batch`: the permutation-symmetric sparse data of the toy model of
  superposition (Elhage et al. 2022) and of the Persian-rug paper (Cowsik et al. 2024,
  arXiv:2410.12101): ``x_i = B_i U_i`` with B_i ~ Bernoulli(p), U_i ~ U[0,1) (spec
  docs/large_n_theory.md#model-data-and-loss), as a CSR :class:`SparseBatch`, sampled in O(p · n ·
  batch) by
  geometric skipping (docs/performance.md#sparse-data-sampling).
* :func:`fixed_dataset`: a fixed set of sparse points (optionally unit-norm rows) for the
  memorisation experiments (docs/memorisation.md#lookup-table).
* :func:`modular_addition_pairs`: all ``(a, b)`` pairs mod p with a seeded train/test split
  (docs/modular_addition.md#training-recipes: PAIR uses unordered pairs ``a <= b``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toyforge.core.errors import InvalidParameter
from toyforge.core.validate import (
    as_rng,
    check_choice,
    check_int,
    check_interval,
    check_probability,
)

__all__ = [
    "VALUE_DISTRIBUTIONS",
    "SparseBatch",
    "fixed_dataset",
    "modular_addition_pairs",
    "sample_sparse_batch",
]

VALUE_DISTRIBUTIONS = ("uniform", "constant")
"""``uniform``: active values U[0,1) (the TMS / Persian-rug data); ``constant``: active values 1."""

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_MAX_INT32 = np.iinfo(np.int32).max


@dataclass(frozen=True, kw_only=True, slots=True)
class SparseBatch:
    """A batch of sparse samples in CSR form.

    Parameters
    ----------
    indptr : ndarray of int64, shape (batch_size + 1,)
        Row ``i`` holds entries ``indptr[i]:indptr[i+1]`` of ``indices``/``values``.
    indices : ndarray of int32 or int64, shape (nnz,)
        Active feature of each entry, strictly increasing within each row.
    values : ndarray of float32 or float64, shape (nnz,)
        Value of each entry.
    n_features : int
        Row width.
    """

    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray
    n_features: int

    def __post_init__(self) -> None:
        n_features = check_int("n_features", self.n_features, minimum=1)
        indptr, indices, values = self.indptr, self.indices, self.values
        if not isinstance(indptr, np.ndarray) or indptr.dtype != np.int64 or indptr.ndim != 1:
            raise InvalidParameter(
                "indptr", getattr(indptr, "dtype", type(indptr)), "a 1-D int64 array"
            )
        if indptr.size < 1 or indptr[0] != 0 or np.any(np.diff(indptr) < 0):
            raise InvalidParameter("indptr", indptr[:8], "non-decreasing, starting at 0")
        if (
            not isinstance(indices, np.ndarray)
            or indices.ndim != 1
            or indices.dtype not in (np.dtype(np.int32), np.dtype(np.int64))
        ):
            raise InvalidParameter(
                "indices", getattr(indices, "dtype", type(indices)), "a 1-D int32 or int64 array"
            )
        if (
            not isinstance(values, np.ndarray)
            or values.ndim != 1
            or values.dtype not in _FLOAT_DTYPES
        ):
            raise InvalidParameter(
                "values", getattr(values, "dtype", type(values)), "a 1-D float32 or float64 array"
            )
        nnz = int(indptr[-1])
        if indices.size != nnz or values.size != nnz:
            raise InvalidParameter(
                "indices/values", (indices.size, values.size), f"length indptr[-1] = {nnz}"
            )
        if nnz and (indices.min() < 0 or indices.max() >= n_features):
            raise InvalidParameter("indices", "out of range", f"features in [0, {n_features})")

    @property
    def batch_size(self) -> int:
        """Number of samples (rows)."""
        return int(self.indptr.size - 1)

    @property
    def nnz(self) -> int:
        """Number of stored (active) entries."""
        return int(self.indptr[-1])

    @property
    def dtype(self) -> np.dtype:
        """Floating dtype of the values."""
        return self.values.dtype

    def row_ids(self) -> np.ndarray:
        """Row of each stored entry, int64 array of shape (nnz,)."""
        return np.repeat(np.arange(self.batch_size, dtype=np.int64), np.diff(self.indptr))

    def to_dense(self) -> np.ndarray:
        """The batch as a dense array of shape (batch_size, n_features), dtype of ``values``."""
        dense = np.zeros((self.batch_size, self.n_features), dtype=self.values.dtype)
        dense[self.row_ids(), self.indices] = self.values
        return dense


def _check_dtype(dtype: object) -> np.dtype:
    try:
        resolved = np.dtype(dtype)  # type: ignore[call-overload]
    except TypeError as error:
        raise InvalidParameter("dtype", dtype, "float32 or float64") from error
    if resolved not in _FLOAT_DTYPES:
        raise InvalidParameter("dtype", dtype, "float32 or float64")
    return resolved


def sample_sparse_batch(
    n_features: int,
    feature_prob: float,
    batch_size: int,
    rng: int | np.random.Generator | None = None,
    dtype: object = np.float64,
    value_dist: str = "uniform",
) -> SparseBatch:
    """Sample ``batch_size`` sparse samples ``x_i = B_i U_i`` as a CSR batch.

    Each of the ``n_features`` coordinates is active independently with probability
    ``feature_prob``; active values are U[0,1) (``value_dist="uniform"``, spec
    docs/large_n_theory.md#model-data-and-loss) or 1 (``"constant"``). Costs O(feature_prob ·
    n_features · batch_size) via geometric skipping (numba kernel
    :func:`toyforge.verify.kernels.sparse_sampling.sample_csr`).

    Parameters
    ----------
    n_features : int
        Width of each sample, 1 <= n_features < 2**31.
    feature_prob : float
        Probability p in (0, 1] that a coordinate is active.
    batch_size : int
        Number of samples, >= 1.
    rng : int, numpy.random.Generator or None
        Seed or generator; the same seed gives the same batch. A generator is advanced.
    dtype : float32 or float64
        Dtype of the values (they are drawn in float64 and rounded).
    value_dist : {"uniform", "constant"}

    Returns
    -------
    SparseBatch
        ``indptr`` int64 (batch_size + 1,), ``indices`` int32 (nnz,) sorted within rows,
        ``values`` of ``dtype`` (nnz,).
    """
    n_features = check_int("n_features", n_features, minimum=1)
    if n_features > _MAX_INT32:
        raise InvalidParameter("n_features", n_features, f"at most {_MAX_INT32}")
    feature_prob = check_probability("feature_prob", feature_prob)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    resolved = _check_dtype(dtype)
    value_dist = check_choice("value_dist", value_dist, VALUE_DISTRIBUTIONS)
    generator = as_rng(rng)  # type: ignore[arg-type]
    # numba loads on the first sampled batch, not when toyforge.verify is imported
    from toyforge.verify.kernels.sparse_sampling import sample_csr

    indptr, indices, values = sample_csr(
        generator, n_features, feature_prob, batch_size, value_dist == "uniform"
    )
    if resolved != values.dtype:
        values = values.astype(resolved)
    return SparseBatch(indptr=indptr, indices=indices, values=values, n_features=n_features)


def fixed_dataset(
    n_points: int,
    n_features: int,
    feature_prob: float,
    *,
    unit_norm: bool = False,
    seed: int | np.random.Generator | None = 0,
    dtype: object = np.float64,
    value_dist: str = "uniform",
) -> np.ndarray:
    """A fixed dense dataset of ``n_points`` sparse samples (for memorisation experiments).

    Rows are sampled as in :func:`sample_sparse_batch` (same seed, same rows). With
    ``unit_norm=True`` every row is divided by its Euclidean norm
    (docs/memorisation.md#lookup-table: "rows normalised to unit norm"); rows that came out all-zero
    are redrawn first (in order, from the same generator), so every row has norm 1.

    Parameters
    ----------
    n_points : int
        Number of points T, >= 1.
    n_features : int
        Width n, >= 1.
    feature_prob : float
        Activation probability in (0, 1] (the sparsity S of Hobbhahn's posts is 1 - p).
    unit_norm : bool
    seed : int, numpy.random.Generator or None
    dtype : float32 or float64
    value_dist : {"uniform", "constant"}

    Returns
    -------
    ndarray, shape (n_points, n_features)
    """
    generator = as_rng(seed)  # type: ignore[arg-type]
    resolved = _check_dtype(dtype)
    dense = sample_sparse_batch(
        n_features, feature_prob, n_points, generator, dtype=np.float64, value_dist=value_dist
    ).to_dense()
    if unit_norm:
        _redraw_empty_rows(dense, feature_prob, generator, value_dist)
        dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    return dense.astype(resolved, copy=False)


def _redraw_empty_rows(
    dense: np.ndarray,
    feature_prob: float,
    generator: np.random.Generator,
    value_dist: str,
    max_rounds: int = 10_000,
) -> None:
    """Replace all-zero rows of ``dense`` (in place) by fresh draws until none is left."""
    n_features = dense.shape[1]
    for _ in range(max_rounds):
        empty = np.flatnonzero(~np.any(dense != 0, axis=1))
        if empty.size == 0:
            return
        redraw = sample_sparse_batch(
            n_features, feature_prob, int(empty.size), generator, value_dist=value_dist
        ).to_dense()
        dense[empty] = redraw
    raise InvalidParameter(
        "feature_prob",
        feature_prob,
        "large enough that unit-norm rows can be drawn (too many empty rows)",
    )


def modular_addition_pairs(
    modulus: int, train_fraction: float, seed: int | None = 0, unordered: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """All pairs ``(a, b)`` of residues mod ``modulus``, split at random into train and test.

    Parameters
    ----------
    modulus : int
        p >= 2.
    train_fraction : float
        Fraction of pairs in the training split, in [0, 1]; the train size is
        ``round(train_fraction * n_pairs)``.
    seed : int or None
        Seed of the split permutation (same seed, same split).
    unordered : bool
        If True use only pairs ``a <= b`` (p(p+1)/2 of them, as the PAIR explorable does,
        docs/modular_addition.md#training-recipes); else all p² ordered pairs.

    Returns
    -------
    train_pairs, test_pairs : ndarray of int64, shape (n_train, 2) and (n_test, 2)
        Each sorted lexicographically; together they hold every pair exactly once.
    """
    modulus = check_int("modulus", modulus, minimum=2)
    train_fraction = check_interval("train_fraction", train_fraction, 0.0, 1.0)
    generator = as_rng(seed)
    a, b = np.meshgrid(np.arange(modulus), np.arange(modulus), indexing="ij")
    pairs = np.stack([a.ravel(), b.ravel()], axis=1).astype(np.int64)
    if unordered:
        pairs = pairs[pairs[:, 0] <= pairs[:, 1]]
    n_train = int(round(train_fraction * len(pairs)))
    order = generator.permutation(len(pairs))
    train = np.sort(order[:n_train])
    test = np.sort(order[n_train:])
    return pairs[train], pairs[test]
