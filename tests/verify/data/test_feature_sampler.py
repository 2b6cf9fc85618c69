"""The non-identical feature sampler against its law and its plain numpy reference.

Monte Carlo checks compare each count of firings with the exact binomial law of that count: it
must lie inside the central interval of probability ``1 - 1e-6 / k`` for ``k`` comparisons in
one call (Bonferroni; at most one false alarm in a million calls, whatever the rates, including
rare features where a normal "within 5 SE" rule is wrong). Sums of many counts use 5 SE.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import binom

from toyforge.core.errors import InvalidParameter
from toyforge.verify.data.feature_sampler import (
    CorrelatedPair,
    FeatureDistribution,
    bernoulli_positions,
    sample_dense_reference,
)
from toyforge.verify.data.laws import MagnitudeLaw

SE = 5.0


def _within_se(estimate: np.ndarray, exact: np.ndarray, n: int) -> None:
    """Counts ``estimate * n`` inside the binomial(n, exact) interval of mass 1 - 1e-6 / k."""
    counts = np.rint(np.asarray(estimate) * n)
    exact = np.asarray(exact, dtype=float)
    low, high = binom.interval(1 - 1e-6 / exact.size, n, np.minimum(exact, 1.0))
    assert np.all((counts >= low) & (counts <= high)), (counts, low, high)


def _rates(dense: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    active = (dense != 0).astype(float)
    return active.mean(axis=0), active.T @ active / dense.shape[0]


probs = st.lists(st.floats(0.01, 1.0), min_size=2, max_size=12)


@given(probs, st.integers(0, 2**32 - 1))
def test_marginals_of_independent_features(values, seed):
    dist = FeatureDistribution(feature_probs=np.array(values))
    batch = dist.sample(seed, 4000)
    rate, _ = _rates(batch.to_dense())
    _within_se(rate, dist.feature_probs, 4000)
    reference_rate, _ = _rates(sample_dense_reference(dist, 4000, seed + 1))
    _within_se(reference_rate, dist.feature_probs, 4000)


@given(st.floats(0.02, 0.98), st.floats(0.02, 0.98), st.floats(-1, 1), st.integers(0, 2**32 - 1))
def test_pair_joint_law_fast_and_reference(p_first, p_second, rho, seed):
    pair = CorrelatedPair(first=0, second=2, correlation=rho)
    joint = pair.joint(p_first, p_second)
    if not max(0, p_first + p_second - 1) <= joint <= min(p_first, p_second):
        with pytest.raises(InvalidParameter, match="pair correlation"):
            FeatureDistribution(feature_probs=np.array([p_first, 0.3, p_second]), pairs=(pair,))
        return
    dist = FeatureDistribution(feature_probs=np.array([p_first, 0.3, p_second]), pairs=(pair,))
    n = 4000
    for dense in (dist.sample(seed, n).to_dense(), sample_dense_reference(dist, n, seed)):
        rate, both = _rates(dense)
        _within_se(rate, dist.feature_probs, n)
        exact_joint = dist.joint_active()
        _within_se(both[[0, 0], [1, 2]], exact_joint[[0, 0], [1, 2]], n)


def test_correlation_signs_are_realised():
    p = np.array([0.2, 0.2, 0.2, 0.2])
    pairs = (
        CorrelatedPair(first=0, second=1, correlation=0.8),
        CorrelatedPair(first=2, second=3, correlation=-0.25),
    )
    dense = FeatureDistribution(feature_probs=p, pairs=pairs).sample(3, 50_000).to_dense()
    corr = np.corrcoef(dense != 0, rowvar=False)
    # Pearson correlation of Bernoullis: standard error ~ 1/sqrt(n) = 0.0045
    assert corr[0, 1] == pytest.approx(0.8, abs=SE * 0.0045)
    assert corr[2, 3] == pytest.approx(-0.25, abs=SE * 0.0045)
    assert corr[0, 2] == pytest.approx(0.0, abs=SE * 0.0045)


@given(st.lists(st.floats(0.01, 0.3), min_size=2, max_size=4), st.integers(0, 2**32 - 1))
def test_exclusive_groups(values, seed):
    p = np.array([0.5, *values])
    group = tuple(range(1, p.size))
    if p[1:].sum() > 1:
        return
    dist = FeatureDistribution(feature_probs=p, exclusive_groups=(group,))
    n = 4000
    for dense in (dist.sample(seed, n).to_dense(), sample_dense_reference(dist, n, seed)):
        active = dense[:, 1:] != 0
        assert active.sum(axis=1).max() <= 1
        rate, _ = _rates(dense)
        _within_se(rate, p, n)


def test_zipf_law_marginals_over_many_features():
    dist = FeatureDistribution.from_laws(2000, "zipf:1.2:0.4:5e-4")
    n = 3000
    batch = dist.sample(11, n)
    counts = np.bincount(batch.indices, minlength=2000)
    _within_se(counts / n, dist.feature_probs, n)
    # and the total count against its exact mean and variance
    p = dist.feature_probs
    assert abs(batch.nnz - n * p.sum()) <= SE * np.sqrt(n * (p * (1 - p)).sum())


def test_same_seed_same_bits_and_layout():
    dist = FeatureDistribution.from_laws(
        300,
        "linear:0.3:0.01",
        magnitudes=MagnitudeLaw(kind="exponential", mean=0.4),
        pairs=(CorrelatedPair(first=5, second=9, correlation=-0.2),),
        exclusive_groups=((1, 2, 3),),
    )
    first, second = dist.sample(4, 257), dist.sample(4, 257)
    np.testing.assert_array_equal(first.indices, second.indices)
    np.testing.assert_array_equal(first.values, second.values)
    assert not np.array_equal(dist.sample(5, 257).indices, first.indices)
    assert first.batch_size == 257 and first.indices.dtype == np.int32
    for row in range(257):
        cols = first.indices[first.indptr[row] : first.indptr[row + 1]]
        assert np.all(np.diff(cols) > 0)
    assert dist.sample(4, 10, dtype=np.float32).values.dtype == np.float32


def test_magnitudes_follow_their_law():
    dist = FeatureDistribution.from_laws(
        50, "constant:0.5", magnitudes=MagnitudeLaw(kind="exponential", mean=0.3)
    )
    values = dist.sample(0, 4000).values
    assert abs(values.mean() - 0.3) < SE * 0.3 / np.sqrt(values.size)
    constant = FeatureDistribution.from_laws(5, "0.5", magnitudes=MagnitudeLaw(kind="constant"))
    assert set(constant.sample(0, 100).values.tolist()) == {1.0}


def test_probability_one_features_always_fire():
    dist = FeatureDistribution(feature_probs=np.array([1.0, 1.0, 0.001]))
    batch = dist.sample(0, 100)
    assert np.count_nonzero(batch.indices == 0) == 100
    assert np.count_nonzero(batch.indices == 1) == 100


@given(st.floats(1e-4, 1.0), st.integers(0, 3000), st.integers(0, 2**32 - 1))
def test_bernoulli_positions_against_numpy_reference(rate, total, seed):
    positions = bernoulli_positions(np.random.default_rng(seed), total, rate)
    assert np.all(np.diff(positions) > 0)
    assert positions.size == 0 or (positions[0] >= 0 and positions[-1] < total)
    # count within 5 SE of the binomial mean (the numpy reference is Binomial(total, rate))
    assert abs(positions.size - total * rate) <= SE * np.sqrt(total * rate * (1 - rate)) + 1


def test_dense_sampler_for_the_trainer():
    dist = FeatureDistribution.from_laws(8, "0.3")
    sampler = dist.dense_sampler()
    out = sampler(np.random.default_rng(1), 5)
    np.testing.assert_array_equal(out, dist.sample(np.random.default_rng(1), 5).to_dense())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"feature_probs": np.array([0.5, 1.2])}, "feature_probs"),
        ({"feature_probs": np.array([0.5, 0.0])}, "feature_probs"),
        (
            {"feature_probs": np.array([0.5, 0.5]), "importance": np.array([1.0, -1.0])},
            "importance",
        ),
        ({"feature_probs": np.array([0.5, 0.5]), "importance": np.array([1.0])}, "importance"),
        (
            {
                "feature_probs": np.array([0.9, 0.9]),
                "pairs": (CorrelatedPair(first=0, second=1, correlation=-1.0),),
            },
            "pair correlation",
        ),
        (
            {
                "feature_probs": np.array([0.1, 0.5]),
                "pairs": (CorrelatedPair(first=0, second=1, correlation=1.0),),
            },
            "pair correlation",
        ),
        ({"feature_probs": np.array([0.6, 0.6]), "exclusive_groups": ((0, 1),)}, "exclusive group"),
        (
            {"feature_probs": np.array([0.1, 0.1, 0.1]), "exclusive_groups": ((0, 1), (1, 2))},
            "at most one",
        ),
        ({"feature_probs": np.array([0.1, 0.1]), "exclusive_groups": ((0, 5),)}, "features"),
    ],
)
def test_impossible_laws_are_refused(kwargs, match):
    with pytest.raises(InvalidParameter, match=match):
        FeatureDistribution(**kwargs)


def test_pair_refuses_bad_correlation_and_self_pair():
    with pytest.raises(InvalidParameter, match="correlation"):
        CorrelatedPair(first=0, second=1, correlation=1.5)
    with pytest.raises(InvalidParameter, match="pairs"):
        CorrelatedPair(first=1, second=1, correlation=0.5)
