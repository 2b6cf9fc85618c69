"""Sparse batches, fixed datasets and modular-addition splits (toyforge.verify.data.sampling)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from toyforge.core.errors import InvalidParameter
from toyforge.verify.data.sampling import (
    SparseBatch,
    fixed_dataset,
    modular_addition_pairs,
    sample_sparse_batch,
)


def test_same_seed_same_batch_and_generator_is_advanced():
    first = sample_sparse_batch(50, 0.1, 20, 7)
    second = sample_sparse_batch(50, 0.1, 20, 7)
    np.testing.assert_array_equal(first.to_dense(), second.to_dense())
    rng = np.random.default_rng(7)
    a = sample_sparse_batch(50, 0.1, 20, rng)
    b = sample_sparse_batch(50, 0.1, 20, rng)
    np.testing.assert_array_equal(a.to_dense(), first.to_dense())
    assert not np.array_equal(a.to_dense(), b.to_dense())


def test_batch_layout_and_dtypes():
    batch = sample_sparse_batch(30, 0.2, 10, 1, dtype=np.float32)
    assert batch.indptr.dtype == np.int64 and batch.indptr.shape == (11,)
    assert batch.indices.dtype == np.int32 and batch.values.dtype == np.float32
    assert batch.batch_size == 10 and batch.nnz == batch.indices.size
    dense = batch.to_dense()
    assert dense.shape == (10, 30) and dense.dtype == np.float32
    assert np.count_nonzero(dense) == batch.nnz


def test_moments_match_bernoulli_times_uniform():
    """E[active count] = p n B, E x = p/2, E x² = p/3 (docs/large_n_theory.md#model-data-and-loss);
    5 SE."""
    n, p, size = 200, 0.05, 4000
    batch = sample_sparse_batch(n, p, size, 3)
    cells = n * size
    count_se = math.sqrt(cells * p * (1 - p))
    assert abs(batch.nnz - cells * p) < 5 * count_se
    dense = batch.to_dense()
    mean_se = math.sqrt((p / 3 - p * p / 4) / cells)
    assert abs(dense.mean() - p / 2) < 5 * mean_se
    second_se = math.sqrt((p / 5 - p * p / 9) / cells)
    assert abs((dense**2).mean() - p / 3) < 5 * second_se
    # permutation symmetry: activation frequency per feature has no trend
    per_feature = (dense != 0).mean(axis=0)
    assert abs(per_feature[: n // 2].mean() - per_feature[n // 2 :].mean()) < 5 * math.sqrt(
        2 * p * (1 - p) / (size * n / 2)
    )


def test_constant_values_and_full_probability():
    batch = sample_sparse_batch(6, 1.0, 3, 0, value_dist="constant")
    np.testing.assert_array_equal(batch.to_dense(), np.ones((3, 6)))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(n_features=0),
        dict(feature_prob=0.0),
        dict(feature_prob=1.5),
        dict(batch_size=0),
        dict(dtype=np.int32),
        dict(value_dist="normal"),
        dict(feature_prob=float("nan")),
    ],
)
def test_bad_arguments_are_refused(kwargs):
    arguments = dict(n_features=5, feature_prob=0.5, batch_size=2, rng=0) | kwargs
    with pytest.raises(InvalidParameter):
        sample_sparse_batch(**arguments)


def test_sparse_batch_validates_its_arrays():
    good = dict(
        indptr=np.array([0, 1], dtype=np.int64),
        indices=np.array([2], dtype=np.int32),
        values=np.array([0.5]),
        n_features=3,
    )
    assert SparseBatch(**good).nnz == 1
    for change in (
        dict(indices=np.array([3], dtype=np.int32)),
        dict(indptr=np.array([0, 2], dtype=np.int64)),
        dict(values=np.array([1], dtype=np.int64)),
        dict(indptr=np.array([0, 1], dtype=np.int32)),
    ):
        with pytest.raises(InvalidParameter):
            SparseBatch(**(good | change))


def test_fixed_dataset_unit_norm_and_reproducible():
    data = fixed_dataset(40, 25, 0.05, unit_norm=True, seed=2)
    assert data.shape == (40, 25)
    np.testing.assert_allclose(np.linalg.norm(data, axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(data, fixed_dataset(40, 25, 0.05, unit_norm=True, seed=2))
    raw = fixed_dataset(40, 25, 0.05, seed=2, dtype=np.float32)
    assert raw.dtype == np.float32 and np.all((raw >= 0) & (raw < 1))


@pytest.mark.parametrize("unordered", [False, True])
def test_modular_pairs_partition_every_pair_once(unordered):
    modulus = 7
    train, test = modular_addition_pairs(modulus, 0.4, seed=3, unordered=unordered)
    everything = np.concatenate([train, test])
    expected = modulus * (modulus + 1) // 2 if unordered else modulus**2
    assert len(everything) == expected
    assert len({tuple(pair) for pair in everything.tolist()}) == expected
    assert len(train) == round(0.4 * expected)
    if unordered:
        assert np.all(everything[:, 0] <= everything[:, 1])
    again = modular_addition_pairs(modulus, 0.4, seed=3, unordered=unordered)
    np.testing.assert_array_equal(train, again[0])
    other = modular_addition_pairs(modulus, 0.4, seed=4, unordered=unordered)
    assert not np.array_equal(train, other[0])
