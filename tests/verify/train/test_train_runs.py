"""Batched runs, restarts and the convergence rule inside the trainer."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from toyforge.core.errors import InvalidParameter
from toyforge.verify.train.autoencoder import TrainingRun, train
from toyforge.verify.train.config import TrainConfig
from toyforge.verify.train.convergence import ConvergenceRule
from toyforge.verify.train.initialisers import init_relu_autoencoder
from toyforge.verify.train.optim import AdamConfig
from toyforge.verify.train.protocol import protocol_violations
from toyforge.verify.train.runs import (
    AutoencoderRun,
    restart_seeds,
    run_bytes,
    train_run,
    train_runs,
)

RULE = ConvergenceRule(window=20, tol=1e-2, patience=1, max_decays=1, eval_samples=512)


def _config(**changes):
    base = dict(
        steps=400, batch_size=32, optimizer=AdamConfig(lr=2e-2), log_every=10, eval_samples=500
    )
    return TrainConfig(**{**base, **changes})


def _run(**changes):
    base = dict(n_features=16, ratio=0.25, feature_prob=0.1, train=_config(convergence=RULE))
    return AutoencoderRun(**{**base, **changes})


def _same_weights(first, second):
    for name, array in first.model.to_arrays().items():
        np.testing.assert_array_equal(array, second.model.to_arrays()[name], err_msg=name)


def _same(first, second):
    _same_weights(first, second)
    assert first.steps == second.steps and first.converged == second.converged
    np.testing.assert_array_equal(first.history.train_loss, second.history.train_loss)


def test_batched_runs_give_the_bits_of_runs_trained_alone():
    """Different seeds and grid points advanced together: each equals its solo run."""
    runs = [
        _run(init_seed=1),
        _run(init_seed=2, train=_config(convergence=RULE, seed=5)),
        _run(ratio=0.5, feature_prob=0.3),
        _run(train=_config(convergence=None, steps=37)),
    ]
    together = train_runs(runs)
    for run, result in zip(runs, together, strict=True):
        assert protocol_violations(result) == []
        alone = train(
            init_relu_autoencoder(
                run.n_features, run.n_hidden, seed=run.init_seed, scheme=run.init
            ),
            run.data(),
            run.train,
        )
        _same(result, alone)
    assert together[3].steps == 37 and not together[3].converged


def test_rule_stops_before_the_budget_and_the_budget_stops_otherwise():
    converged = train_run(_run(train=_config(convergence=RULE, steps=5000)))
    assert converged.converged and converged.steps < 5000
    assert converged.steps % RULE.window == 0 and converged.lr_decays == RULE.max_decays
    assert converged.history.steps[-1] == converged.steps
    assert converged.final_eval is not None and converged.final_eval.stderr > 0
    budget = train_run(_run(train=_config(convergence=RULE, steps=30)))
    assert budget.steps == 30 and not budget.converged


def test_plateau_decay_scales_the_learning_rate():
    """After two decays of 0.5 the optimiser runs at a quarter of the base rate: the model
    equals a run without a rule whose rate is cut by hand at the same steps."""
    rule = ConvergenceRule(window=20, tol=0.5, patience=1, lr_decay=0.5, max_decays=2,
                           eval_samples=256)  # fmt: skip
    run = _run(train=_config(convergence=rule, steps=1000))
    result = train_run(run)
    # tol = 50 %: every check after the first is flat, so decays at 40 and 60, stop at 80.
    assert (result.steps, result.lr_decays, result.converged) == (80, 2, True)
    model = init_relu_autoencoder(run.n_features, run.n_hidden, seed=run.init_seed, scheme=run.init)
    by_hand = TrainingRun(model, run.data(), dataclasses.replace(run.train, convergence=None))
    while by_hand.step < 80:
        by_hand.advance()
        if by_hand.step in (40, 60):
            by_hand.engine.optimizer.lr_scale *= 0.5
    _same_weights(result, by_hand.result())


def test_restarts_keep_the_lowest_training_loss_and_restart_zero_is_the_plain_run():
    run = _run(restarts=3, train=_config(convergence=None, steps=60))
    result = train_run(run)
    assert len(result.restart_losses) == 3
    assert result.restart_losses[result.restart] == min(result.restart_losses)
    assert result.history.train_loss[-1] == pytest.approx(min(result.restart_losses))
    plain = train_run(dataclasses.replace(run, restarts=1))
    assert plain.restart_losses[0] == result.restart_losses[0]
    assert len({seeds for seeds in restart_seeds(run)}) == 3


def test_run_bytes_counts_every_restart():
    assert run_bytes(_run(restarts=2)) == pytest.approx(2 * run_bytes(_run()))


@pytest.mark.parametrize(
    "field, value",
    [("n_features", 0), ("ratio", 0.0), ("ratio", 1.5), ("feature_prob", 0.0),
     ("restarts", 0), ("init_seed", -1), ("value_dist", "gaussian"), ("train", None)],
)  # fmt: skip
def test_run_refuses_bad_values(field, value):
    with pytest.raises(InvalidParameter, match=field):
        _run(**{field: value})


def test_train_runs_refuses_other_objects():
    with pytest.raises(InvalidParameter, match=r"runs\[0\]"):
        train_runs([object()])


def test_results_arrive_as_runs_finish():
    runs = [_run(train=_config(convergence=None, steps=steps)) for steps in (30, 10, 20)]
    seen = []
    results = train_runs(runs, on_result=lambda index, result: seen.append((index, result.steps)))
    assert seen == [(1, 10), (2, 20), (0, 30)]
    assert [result.steps for result in results] == [30, 10, 20]
