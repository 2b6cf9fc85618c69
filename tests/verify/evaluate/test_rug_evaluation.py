"""Matrix-free Monte Carlo of the rug: reproducibility, the evaluate registry, dense agreement."""

from __future__ import annotations

import numpy as np
import pytest

from toyforge.constructions.persian_rug import persian_rug
from toyforge.core.errors import InvalidParameter
from toyforge.verify.evaluate import (
    EvaluationRequest,
    SparseDataSpec,
    evaluate,
    evaluate_model,
)
from toyforge.verify.evaluate.rug_monte_carlo import rug_monte_carlo


@pytest.mark.slow
def test_same_seed_same_estimate_and_parallel_agrees() -> None:
    model = persian_rug(512, 0.25, 0.05, 1)
    first = rug_monte_carlo(model, 0.05, 3000, seed=3, batch_size=700)
    second = rug_monte_carlo(model, 0.05, 3000, seed=3, batch_size=700)
    threaded = rug_monte_carlo(model, 0.05, 3000, seed=3, batch_size=700, parallel=True)
    assert first.loss == second.loss
    assert threaded.loss == pytest.approx(first.loss, rel=1e-12)
    assert first.stderr > 0 and first.n_samples == 3000


def test_matrix_free_estimate_agrees_with_dense_evaluator() -> None:
    """The materialised ReluAutoencoder, evaluated by the generic evaluator, agrees (4 SE)."""
    model = persian_rug(256, 0.25, 0.05, 2)
    rug = rug_monte_carlo(model, 0.05, 20_000, seed=5)
    dense = evaluate(
        model.materialize(), SparseDataSpec(feature_prob=0.05), n_samples=20_000, seed=6
    )
    combined = np.hypot(rug.stderr, dense.stderr)
    assert abs(rug.loss - dense.value) < 4 * combined


def test_registered_evaluator_runs_matrix_free() -> None:
    model = persian_rug(2**16, 0.1, 0.01, 0)
    result = evaluate_model(model, EvaluationRequest(feature_prob=0.01, n_samples=20))
    assert result.n_features == 2**16 and result.n_samples == 20
    estimate = evaluate(model, SparseDataSpec(feature_prob=0.01), n_samples=20)
    assert estimate.value == pytest.approx(result.loss)
    with pytest.raises(InvalidParameter, match="value_dist"):
        evaluate_model(
            model, EvaluationRequest(feature_prob=0.01, n_samples=20, value_dist="constant")
        )


def test_rejects_other_architectures() -> None:
    model = persian_rug(64, 0.25, 0.05, 0).materialize()
    with pytest.raises(InvalidParameter, match="persian-rug"):
        rug_monte_carlo(model, 0.05, 10)


def test_compare_reports_a_given_trained_point() -> None:
    from toyforge.verify.compare.persian_rug import TrainedPoint, compare_persian_rug

    point = TrainedPoint(
        loss=0.01, stderr=0.001, n_samples=100, steps=1, learning_rate=0.1, seconds=0.0
    )
    result = compare_persian_rug(128, 0.25, 0.1, n_samples=500, trained=point)
    assert (result.trained_loss, result.trained_stderr) == (0.01, 0.001)
    assert result.rows()[-1][0].startswith("trained")
    assert result.theory_regime in ("symmetric", "time-sharing", "linear")
    wrong = TrainedPoint(
        loss=0.01,
        stderr=0.001,
        n_samples=100,
        steps=1,
        learning_rate=0.1,
        seconds=0.0,
        model=persian_rug(64, 0.25, 0.1, 0).materialize(),
    )
    with pytest.raises(InvalidParameter, match="trained"):
        compare_persian_rug(128, 0.25, 0.1, n_samples=500, trained=wrong)
