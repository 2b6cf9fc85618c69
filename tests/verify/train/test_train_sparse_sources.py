"""Training and held-out evaluation on any sparse source: non-identical features on the kernel path.

The sparse kernel step and the sparse held-out evaluator are compared with the numpy dense
reference on the same batches (hypothesis), and the held-out loss with an independent numpy
Monte Carlo (docs/non_uniform_features.md#training-on-non-identical-features).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from toyforge.constructions.models import ReluAutoencoder
from toyforge.core.errors import InvalidParameter
from toyforge.verify.data.feature_sampler import (
    CorrelatedPair,
    FeatureDistribution,
    sample_dense_reference,
)
from toyforge.verify.data.laws import MagnitudeLaw
from toyforge.verify.train.autoencoder import (
    GeneratedData,
    SparseFeatureData,
    SparseSource,
    TrainConfig,
    init_relu_autoencoder,
    train,
)
from toyforge.verify.train.convergence import ConvergenceRule
from toyforge.verify.train.data import source_importance
from toyforge.verify.train.gradients import per_sample_losses
from toyforge.verify.train.heldout import eval_chunk, held_out_loss, sparse_source_losses
from toyforge.verify.train.optim import AdamConfig

MAGNITUDES = [MagnitudeLaw(), MagnitudeLaw(kind="constant"), MagnitudeLaw(kind="exponential")]


@st.composite
def distributions(draw):
    """A small non-uniform law: Zipf or linear rates, geometric importance, ties, magnitudes."""
    n = draw(st.integers(6, 20))
    law = draw(st.sampled_from(["zipf:1.2:0.5:0.02", "linear:0.3:0.05", "zipf:2:0.9"]))
    importance = f"geometric:{draw(st.floats(0.6, 1.0)):.3f}"
    pairs = [CorrelatedPair(first=0, second=1, correlation=-0.1)] if draw(st.booleans()) else []
    groups = [(2, 3, 4)] if draw(st.booleans()) else []
    magnitudes = draw(st.sampled_from(MAGNITUDES))
    return FeatureDistribution.from_laws(
        n, law, importance, magnitudes=magnitudes, pairs=pairs, exclusive_groups=groups
    )


def _config(**changes):
    base = dict(
        steps=12,
        batch_size=16,
        optimizer=AdamConfig(lr=2e-2),
        dtype="float64",
        log_every=1,
        eval_samples=64,
    )
    return TrainConfig(**{**base, **changes})


def test_feature_distribution_is_a_sparse_source():
    dist = FeatureDistribution.from_laws(8, "zipf:1.2:0.4:0.05")
    assert isinstance(dist, SparseSource)
    assert isinstance(SparseFeatureData(n_features=8, feature_prob=0.1), SparseSource)
    assert not isinstance(GeneratedData(sample=dist.dense_sampler()), SparseSource)


@given(dist=distributions(), hidden=st.integers(1, 6), seed=st.integers(0, 2**16),
       threshold=st.sampled_from([0.0, 0.3, 2.0]))  # fmt: skip
def test_kernel_path_on_a_non_uniform_source_equals_the_dense_numpy_path(
    dist, hidden, seed, threshold
):
    """Same batches (one generator stream), same Adam: weights and losses to float64 rounding.

    The reference trains on the dense batches of ``dist.dense_sampler()`` with the numpy
    gradients and the distribution's importance passed explicitly; ``threshold`` 0 forces the
    compacted sparse ``dL/du`` path, 2 the dense one.
    """
    model = init_relu_autoencoder(dist.n_features, min(hidden, dist.n_features), seed=seed)
    config = _config(seed=seed, dense_threshold=threshold)
    fast = train(model, dist, config)
    reference = train(
        model,
        GeneratedData(sample=dist.dense_sampler()),
        dataclasses.replace(config, backend="numpy", importance=tuple(dist.importance)),
    )
    assert fast.backend == "kernel" and reference.backend == "numpy"
    np.testing.assert_allclose(
        fast.history.train_loss, reference.history.train_loss, rtol=1e-9, atol=1e-13
    )
    for name, array in fast.model.to_arrays().items():
        np.testing.assert_allclose(
            array, reference.model.to_arrays()[name], rtol=1e-9, atol=1e-12, err_msg=name
        )
    assert fast.final_eval.value == pytest.approx(reference.final_eval.value, rel=1e-9)


def test_kernel_path_float32_follows_the_float64_reference():
    dist = FeatureDistribution.from_laws(24, "zipf:1.2:0.4:0.02", "geometric:0.9")
    model = init_relu_autoencoder(24, 6, seed=3)
    fast = train(model, dist, _config(dtype="float32", steps=30))
    reference = train(model, dist, _config(dtype="float32", steps=30, backend="numpy"))
    for name, array in fast.model.to_arrays().items():
        assert array.dtype == np.float32
        np.testing.assert_allclose(
            array, reference.model.to_arrays()[name], rtol=2e-4, atol=2e-6, err_msg=name
        )


def test_same_seed_same_bits_on_a_non_uniform_source():
    dist = FeatureDistribution.from_laws(
        32, "zipf:1.2:0.4:0.01", exclusive_groups=[(0, 1)], magnitudes=MagnitudeLaw(kind="constant")
    )
    model = init_relu_autoencoder(32, 8, seed=0)
    first = train(model, dist, _config(seed=5, dtype="float32"))
    second = train(model, dist, _config(seed=5, dtype="float32"))
    other = train(model, dist, _config(seed=6, dtype="float32"))
    for name, array in first.model.to_arrays().items():
        np.testing.assert_array_equal(array, second.model.to_arrays()[name])
    np.testing.assert_array_equal(first.history.train_loss, second.history.train_loss)
    assert first.final_eval == second.final_eval
    assert not np.array_equal(first.model.W_in, other.model.W_in)


def test_the_sources_importance_weights_the_loss():
    """Importance carried by the data equals the same weights given in the config."""
    weighted = FeatureDistribution.from_laws(16, "linear:0.3:0.05", "geometric:0.8")
    plain = FeatureDistribution.from_laws(16, "linear:0.3:0.05")
    model = init_relu_autoencoder(16, 4, seed=2)
    from_data = train(model, weighted, _config())
    from_config = train(model, plain, _config(importance=tuple(weighted.importance)))
    unweighted = train(model, plain, _config())
    assert from_data.config.importance == tuple(weighted.importance)
    np.testing.assert_array_equal(from_data.model.W_in, from_config.model.W_in)
    np.testing.assert_array_equal(from_data.history.train_loss, from_config.history.train_loss)
    assert not np.array_equal(from_data.model.W_in, unweighted.model.W_in)
    # agreeing weights in both places are accepted
    both = train(model, weighted, _config(importance=tuple(weighted.importance)))
    np.testing.assert_array_equal(both.model.W_in, from_data.model.W_in)


def test_disagreeing_importance_is_refused():
    weighted = FeatureDistribution.from_laws(16, "linear:0.3:0.05", "geometric:0.8")
    with pytest.raises(InvalidParameter, match="importance"):
        train(init_relu_autoencoder(16, 4), weighted, _config(importance=(1.0,) * 16))
    with pytest.raises(InvalidParameter, match="importance"):
        source_importance(weighted, (2.0,) * 16)
    # an all-ones source states nothing: the config's weights are used
    plain = FeatureDistribution.from_laws(16, "linear:0.3:0.05")
    assert source_importance(plain, (2.0,) * 16) == (2.0,) * 16
    assert source_importance(plain, None) is None


def test_wrong_width_and_tied_kernel_are_refused():
    dist = FeatureDistribution.from_laws(16, "constant:0.1")
    with pytest.raises(InvalidParameter, match="n_features"):
        train(init_relu_autoencoder(12, 4), dist, _config())
    with pytest.raises(InvalidParameter, match="backend"):
        train(init_relu_autoencoder(16, 4, tied=True), dist, _config(backend="kernel"))


def _perturbed_model(n, m, seed):
    """A model with a non-trivial loss: random weights and a slightly negative bias."""
    rng = np.random.default_rng(seed)
    return ReluAutoencoder(
        W_in=rng.normal(0, 0.5, (m, n)),
        W_out=rng.normal(0, 0.5, (n, m)),
        b=rng.normal(-0.05, 0.05, n),
    )


@given(
    dist=distributions(),
    hidden=st.integers(1, 6),
    seed=st.integers(0, 2**16),
    n_samples=st.integers(1, 9000),
    reduction=st.sampled_from(["mean", "sum_features"]),
)
def test_sparse_held_out_losses_equal_numpy_on_the_same_batches(
    dist, hidden, seed, n_samples, reduction
):
    """The sparse evaluator replays ``data.sample`` chunk by chunk; numpy densifies the same
    chunks and uses :func:`per_sample_losses`."""
    model = _perturbed_model(dist.n_features, hidden, seed)
    fast = sparse_source_losses(model, dist, seed, n_samples, dist.importance, reduction)
    rng, parts, remaining = np.random.default_rng(seed), [], n_samples
    while remaining > 0:
        size = min(remaining, eval_chunk(dist.n_features))
        remaining -= size
        dense = dist.sample(rng, size).to_dense()
        parts.append(
            per_sample_losses(model, dense, importance=dist.importance, reduction=reduction)
        )
    np.testing.assert_allclose(fast, np.concatenate(parts), rtol=1e-10, atol=1e-14)


def test_held_out_loss_matches_an_independent_numpy_monte_carlo_within_3_se():
    """The held-out estimate against the plain reference sampler (one uniform per feature and
    row, :func:`sample_dense_reference`) and numpy's forward pass on other samples: the two
    means differ by less than 3 combined standard errors (20 000 samples each)."""
    dist = FeatureDistribution.from_laws(
        48,
        "zipf:1.2:0.4:0.01",
        "geometric:0.97",
        magnitudes=MagnitudeLaw(kind="exponential", mean=0.4),
        pairs=[CorrelatedPair(first=0, second=1, correlation=0.3)],
        exclusive_groups=[(2, 3, 4)],
    )
    model = _perturbed_model(48, 12, seed=7)
    config = TrainConfig(steps=1, eval_samples=20_000)
    estimate = held_out_loss(model, dist, config, seed=11)
    dense = sample_dense_reference(dist, 20_000, 12345)
    reference = per_sample_losses(model, dense, importance=dist.importance)
    ref_mean, ref_se = reference.mean(), reference.std(ddof=1) / np.sqrt(reference.size)
    assert estimate.n_samples == 20_000
    combined = np.hypot(estimate.stderr, ref_se)
    assert abs(estimate.value - ref_mean) < 3 * combined
    # and the estimate is informative: its SE is well below the loss itself
    assert estimate.stderr < 0.05 * estimate.value


def test_eval_chunk_bounds_the_pre_activations(monkeypatch):
    """Wide models are evaluated in smaller chunks (here forced to 7 samples), still equal to
    numpy's losses on the same chunks."""
    from toyforge.verify.train import heldout

    assert eval_chunk(100) == 4096 and eval_chunk(2**20) == 16 and eval_chunk(2**30) == 1
    dist = FeatureDistribution.from_laws(12, "zipf:1.2:0.4:0.05", "geometric:0.9")
    model = _perturbed_model(12, 3, seed=1)
    monkeypatch.setattr(heldout, "EVAL_CHUNK_ELEMENTS", 12 * 7)  # chunks of 7 samples
    small = sparse_source_losses(model, dist, 4, 50, dist.importance)
    rng, parts = np.random.default_rng(4), []
    for size in [7] * 7 + [1]:
        parts.append(
            per_sample_losses(model, dist.sample(rng, size).to_dense(), importance=dist.importance)
        )
    np.testing.assert_allclose(small, np.concatenate(parts), rtol=1e-10, atol=1e-14)


def test_convergence_rule_runs_on_a_non_uniform_source():
    dist = FeatureDistribution.from_laws(32, "zipf:1.2:0.4:0.02", "geometric:0.95")
    rule = ConvergenceRule(window=20, eval_samples=512, patience=1, max_decays=0, tol=0.5)
    result = train(
        init_relu_autoencoder(32, 8, seed=0),
        dist,
        _config(steps=400, batch_size=64, dtype="float32", convergence=rule),
    )
    assert result.backend == "kernel"
    assert result.converged and result.steps < 400


def test_autoencoder_run_takes_a_non_uniform_source():
    from toyforge.verify.train.runs import AutoencoderRun, train_run

    dist = FeatureDistribution.from_laws(16, "zipf:1.2:0.4:0.02", "geometric:0.9")
    config = _config(dtype="float32")
    run = AutoencoderRun(n_features=16, ratio=0.25, features=dist, train=config, init_seed=4)
    result = train_run(run)
    direct = train(init_relu_autoencoder(16, 4, seed=4, scheme=run.init), dist, config)
    np.testing.assert_array_equal(result.model.W_in, direct.model.W_in)
    assert result.config.importance == tuple(dist.importance)
    with pytest.raises(InvalidParameter, match="feature_prob"):
        AutoencoderRun(n_features=16, ratio=0.25, feature_prob=0.1, features=dist, train=config)
    with pytest.raises(InvalidParameter, match="features"):
        AutoencoderRun(n_features=8, ratio=0.25, features=dist, train=config)
    with pytest.raises(InvalidParameter, match="feature_prob"):
        AutoencoderRun(n_features=16, ratio=0.25, train=config)
