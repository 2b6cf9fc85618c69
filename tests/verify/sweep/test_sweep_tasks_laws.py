"""``train+evaluate`` with non-identical features: ``feature_probs`` / ``importance`` laws as
parameters, checked before the trainer is imported
(docs/non_uniform_features.md#training-on-non-identical-features)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from toyforge.core.errors import InvalidParameter
from toyforge.verify.data.feature_sampler import FeatureDistribution
from toyforge.verify.sweep import tasks as sweep_tasks

POINT = {"n_features": 24, "ratio": 0.25, "steps": 30, "batch_size": 32, "lr": 1e-2,
         "n_samples": 2000, "converge": False}  # fmt: skip


def test_laws_train_on_the_distribution_and_evaluate_on_it():
    from toyforge.verify.train.heldout import held_out_loss
    from toyforge.verify.train.runs import train_run

    params = {**POINT, "feature_probs": "zipf:1.2:0.4:0.02", "importance": "geometric:0.9"}
    outputs = sweep_tasks.train_evaluate_task(params, 3)
    run, evaluate_seed = sweep_tasks.train_evaluate_run(params, 3)
    expected = FeatureDistribution.from_laws(24, "zipf:1.2:0.4:0.02", "geometric:0.9")
    np.testing.assert_array_equal(run.features.feature_probs, expected.feature_probs)
    np.testing.assert_array_equal(run.features.importance, expected.importance)
    assert run.feature_prob is None
    result = train_run(run)
    np.testing.assert_array_equal(outputs["model"].W_in, result.model.W_in)
    estimate = held_out_loss(result.model, run.data(), run.train, evaluate_seed, 2000)
    assert outputs["loss"] == estimate and estimate.n_samples == 2000
    assert outputs["steps_run"] == 30 and outputs["n_hidden"] == 6


def test_importance_with_one_probability_uses_a_constant_law():
    params = {**POINT, "feature_prob": 0.1, "importance": "linear:1:0.2"}
    run, _ = sweep_tasks.train_evaluate_run(params, 0)
    assert np.all(run.features.feature_probs == 0.1)
    assert run.features.importance[-1] == pytest.approx(0.2)
    plain, _ = sweep_tasks.train_evaluate_run({**POINT, "feature_prob": 0.1}, 0)
    assert plain.features is None and plain.feature_prob == 0.1


BAD = [
    ({"feature_probs": "zipf:1.2:0.4:0.02", "feature_prob": 0.1}, "feature_probs"),
    ({"importance": "geometric:0.9"}, "feature_probs"),  # neither probability nor law
    ({"feature_probs": "linear:0.5:1.5"}, "feature_probs"),
    ({"feature_probs": "zipf:oops"}, "feature_probs"),
    ({"feature_probs": "file:/nonexistent/p.npy"}, "feature_probs"),
    ({"feature_probs": 0.1}, "feature_probs"),
    ({"feature_prob": 1.5, "importance": "constant:1"}, "feature_prob"),
    ({"feature_probs": "constant:0.1", "importance": "constant:-1"}, "importance"),
    ({"feature_probs": "constant:0.1", "importance": 0.5}, "importance"),
    ({"feature_probs": "constant:0.1", "n_features": 2.5}, "n_features"),
]


@pytest.mark.parametrize(("changes", "name"), BAD)
def test_bad_laws_are_refused_before_the_trainer_is_imported(changes, name, monkeypatch):
    """The trainer's modules are made unimportable: a refusal, not an ImportError, shows that
    the laws were checked first."""
    for module in ("toyforge.verify.train.config", "toyforge.verify.train.runs"):
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(InvalidParameter) as caught:
        sweep_tasks.train_evaluate_task({**POINT, **changes}, 0)
    assert caught.value.name == name
