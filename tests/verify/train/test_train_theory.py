"""Slow integration test: training reaches the large-N theory (Persian rug,
docs/large_n_theory.md#the-closed-form-loss)."""

from __future__ import annotations

import pytest

from toyforge.verify.train.autoencoder import (
    SparseFeatureData,
    TrainConfig,
    eval_seed,
    held_out_loss,
    init_relu_autoencoder,
    train,
)
from toyforge.verify.train.optim import AdamConfig, warmup_cosine_schedule

N_FEATURES, RATIO, FEATURE_PROB = 2048, 0.25, 0.05
# Large-N loss at (r, p) = (0.25, 0.05), docs/large_n_theory.md#the-closed-form-loss (used when
# toyforge.theory does not provide predict()).
SPEC_THEORY_LOSS = 5.789e-3
STEPS = 100


def _theory_loss() -> float:
    try:
        from toyforge.theory import predict
    except ImportError:
        return SPEC_THEORY_LOSS
    return float(predict(RATIO, FEATURE_PROB).loss)


@pytest.mark.slow
def test_trained_held_out_loss_within_ten_percent_of_theory():
    """100 Adam steps (batch 1024, lr 3e-3, 10-step warm-up, cosine to 0;
    docs/large_n_theory.md#paper-grid-and-training-recipe uses
    3e-3/√n with a constant rate and ~45k steps) reach ≤ 1.10 × the theory on 20,000 fresh
    held-out samples. Measured: 6.1e-3 (1.06×) after 100 steps; 50 steps give 1.10–1.11×."""
    theory = _theory_loss()
    assert theory == pytest.approx(SPEC_THEORY_LOSS, rel=1e-3)
    data = SparseFeatureData(n_features=N_FEATURES, feature_prob=FEATURE_PROB)
    config = TrainConfig(
        steps=STEPS,
        batch_size=1024,
        optimizer=AdamConfig(lr=3e-3),
        schedule=warmup_cosine_schedule(STEPS, warmup_steps=10),
        eval_samples=20_000,
        log_every=STEPS,
        seed=0,
    )
    model = init_relu_autoencoder(N_FEATURES, int(RATIO * N_FEATURES), seed=0)
    result = train(model, data, config)
    held_out = held_out_loss(result.model, data, config, eval_seed(config.seed))
    # The standard error (~1e-5) is 0.2 % of the loss; require the bound itself.
    assert held_out.value <= 1.10 * theory, (held_out, theory)
    # Sanity: the theory is a large-N optimum; a trained model this short stays above 0.9×.
    assert held_out.value >= 0.9 * theory
