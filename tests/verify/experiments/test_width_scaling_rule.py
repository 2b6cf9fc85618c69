"""The width experiment trains on the sparse kernel path, with the convergence rule, and says
per width whether it converged
(docs/non_uniform_features.md#loss-against-width-with-power-law-frequencies)."""

from __future__ import annotations

import pytest

from toyforge.core.errors import InvalidParameter
from toyforge.verify.experiments.width_scaling import WidthScalingConfig, run_width_scaling
from toyforge.verify.train.autoencoder import TrainConfig, init_relu_autoencoder, train
from toyforge.verify.train.convergence import ConvergenceRule
from toyforge.verify.train.optim import AdamConfig

TINY = dict(
    n_features=32, feature_probs="zipf:1.2:0.4:0.02", widths=(2, 8), batch_size=64, n_bins=4,
    eval_samples=256, lr=1e-2,
)  # fmt: skip


def test_without_the_rule_every_width_uses_its_budget_and_says_so():
    result = run_width_scaling(WidthScalingConfig(**TINY, steps=20, converge=False))
    assert result.steps == (20, 20) and result.converged == (False, False)


def test_with_the_rule_a_width_is_the_trainers_run_on_the_distribution():
    config = WidthScalingConfig(**TINY, steps=3000)
    result = run_width_scaling(config)
    pairs = zip(result.converged, result.steps, strict=True)
    assert all(converged == (steps < 3000) for converged, steps in pairs)
    direct = train(  # the first width (m = 2), trained directly on the distribution
        init_relu_autoencoder(32, 2, config.seed, scheme=config.init),
        config.distribution(),
        TrainConfig(
            steps=3000,
            batch_size=64,
            optimizer=AdamConfig(lr=1e-2),
            seed=config.seed,
            log_every=30,
            eval_samples=256,
            convergence=ConvergenceRule(),
        ),
    )
    assert direct.backend == "kernel"
    assert (direct.steps, direct.converged) == (result.steps[0], result.converged[0])
    assert direct.final_eval == result.trained[0]
    assert result.silent[0] == direct.silent_features


def test_converge_must_be_a_bool_and_init_a_scheme():
    with pytest.raises(InvalidParameter, match="converge"):
        WidthScalingConfig(**TINY, converge="yes")
    with pytest.raises(InvalidParameter, match="init"):
        WidthScalingConfig(**TINY, init="he")
