"""The built-in sweep tasks: plumbing from a grid point to the library and back."""

from __future__ import annotations

import math

import pytest

from toyforge.core.errors import InvalidParameter
from toyforge.verify import sweep
from toyforge.verify.sweep import tasks as sweep_tasks


def _predict():
    theory = pytest.importorskip("toyforge.theory")
    if not hasattr(theory, "predict"):
        pytest.skip("toyforge.theory.predict has not landed")
    return theory.predict


def test_effective_ratio_follows_the_papers_grid():
    # n_d = max(floor(n_s r), 1), r_eff = n_d / n_s
    # (docs/large_n_theory.md#paper-grid-and-training-recipe)
    assert sweep_tasks.effective_ratio(128, 0.002001) == (1, 1 / 128)
    assert sweep_tasks.effective_ratio(1024, 0.25) == (256, 0.25)
    assert sweep_tasks.effective_ratio(8192, 0.044001) == (360, 360 / 8192)


@pytest.mark.slow  # cold numba/theory start-up
def test_predict_sweep_matches_direct_predictions(tmp_path):
    predict = _predict()
    spec = {
        "task": "predict",
        "grid": {"n_features": [128, 1024], "ratio": [0.1, 0.5], "feature_prob": [0.01, 0.3]},
    }
    summary = sweep.run_sweep(spec, tmp_path)
    assert summary.executor == "in-process"  # cheap task
    assert summary.status.n_done == 8
    for row in sweep.read_table(summary.table_path):
        n_hidden = max(math.floor(row["n_features"] * row["ratio"]), 1)
        ratio_eff = n_hidden / row["n_features"]
        assert row["n_hidden"] == n_hidden
        assert row["ratio_effective"] == ratio_eff
        assert row["loss"] == predict(ratio_eff, row["feature_prob"]).loss
        assert row["regime"] == predict(ratio_eff, row["feature_prob"]).regime


def test_predict_without_n_features_uses_the_ratio_as_given(tmp_path):
    predict = _predict()
    outputs = sweep_tasks.predict_task({"ratio": 0.3, "feature_prob": 0.05}, 0)
    assert outputs["loss"] == predict(0.3, 0.05).loss
    assert "ratio_effective" not in outputs


@pytest.mark.parametrize(
    "task",
    [
        sweep_tasks.predict_task,
        sweep_tasks.construct_evaluate_task,
        sweep_tasks.train_evaluate_task,
        sweep_tasks.compare_task,
    ],
)
def test_unknown_parameters_are_refused(task):
    params = {
        "n_features": 64,
        "ratio": 0.25,
        "feature_prob": 0.05,
        "steps": 1,
        "n_sample": 100,
    }  # a typo of n_samples
    try:
        with pytest.raises(InvalidParameter, match="n_sample"):
            task(params, 0)
    except ImportError as error:  # pragma: no cover - library part not landed yet
        pytest.skip(str(error))


@pytest.mark.slow  # compiles the evaluation kernels on a cold cache
def test_construct_evaluate_sweep_is_seeded_and_reproducible(tmp_path):
    _predict()
    pytest.importorskip("toyforge.constructions.persian_rug")
    spec = {
        "task": "construct+evaluate",
        "fixed": {"n_features": 64, "n_samples": 2000},
        "grid": {"ratio": [0.25], "feature_prob": [0.05], "seed": [0, 1]},
    }
    first = sweep.read_table(sweep.run_sweep(spec, tmp_path / "a").table_path)
    again = sweep.read_table(sweep.run_sweep(spec, tmp_path / "b").table_path)
    assert sweep.same_results(first, again)
    assert [row["status"] for row in first] == ["done", "done"]
    assert all(row["n_hidden"] == 16 and row["loss_stderr"] > 0 for row in first)
    assert first[0]["loss"] != first[1]["loss"]  # the seed changes rows and samples


@pytest.mark.slow  # a rug Monte Carlo and the finite-N theory per point
def test_compare_sweep_runs_and_keeps_theory_and_construction_columns(tmp_path):
    _predict()
    pytest.importorskip("toyforge.verify.compare.persian_rug")
    spec = {
        "task": "compare",
        "fixed": {"n_features": 64, "n_samples": 2000},
        "grid": {"ratio": [0.25], "feature_prob": [0.05, 0.1]},
    }
    rows = sweep.read_table(sweep.run_sweep(spec, tmp_path).table_path)
    assert [row["status"] for row in rows] == ["done", "done"], rows[0]["error"]
    for row in rows:
        assert row["n_hidden"] == 16
        assert row["construction_stderr"] > 0
        z_score = (row["construction_loss"] - row["finite_theory_loss"]) / row[
            "construction_stderr"
        ]
        assert row["construction_vs_finite_z"] == pytest.approx(z_score, rel=1e-9)
