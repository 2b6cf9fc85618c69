"""The convergence column of the comparisons: a trained number always says whether it converged."""

from __future__ import annotations

import json

import pytest

from toyforge.cli import main
from toyforge.verify.compare.persian_rug import (
    TrainedPoint,
    compare_persian_rug,
    comparison_summary,
    trained_label,
)
from toyforge.verify.sweep.tasks import train_evaluate_task


@pytest.mark.slow
def test_compare_marks_converged_and_unconverged_training():
    options = dict(n_samples=500, train=True, eval_samples=500)
    short = compare_persian_rug(64, 0.25, 0.1, train_steps=30, **options)
    assert short.trained_converged is False and short.trained_steps == 30
    silent = short.trained_silent_features
    assert silent is not None and 0 <= silent <= 64
    tail = f"; {silent} of 64 features silent)" if silent else ")"
    assert short.rows()[-1][0] == f"trained model (held out; NOT converged after 30 steps{tail}"
    summary = comparison_summary(short)
    assert summary["trained_converged"] is False and summary["trained_steps"] == 30
    point = TrainedPoint(loss=0.01, stderr=1e-3, n_samples=500, steps=2400, learning_rate=0.01,
                         seconds=1.0, converged=True, max_steps=20_000)  # fmt: skip
    done = compare_persian_rug(64, 0.25, 0.1, n_samples=500, trained=point)
    assert done.trained_converged is True
    assert done.rows()[-1][0] == trained_label(True, 2400)
    assert done.rows()[-1][0] == "trained model (held out; converged, 2400 steps)"
    label = trained_label(True, 2400, 30, 64)
    assert label == "trained model (held out; converged, 2400 steps; 30 of 64 features silent)"


def test_compare_cli_shows_an_unconverged_model_as_such(capsys):
    argv = ["compare", "persian-rug", "--features", "64", "--ratio", "0.25", "--feature-prob",
            "0.1", "--samples", "500", "--train", "--max-steps", "30"]  # fmt: skip
    assert main(argv) == 0
    assert "NOT converged after 30 steps" in capsys.readouterr().out
    assert main([*argv, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["trained_converged"] is False


def test_compare_cli_refuses_bad_convergence_flags(capsys):
    base = ["compare", "persian-rug", "--features", "64", "--ratio", "0.25", "--feature-prob",
            "0.1", "--train"]  # fmt: skip
    for flag, value in (("--tol", "1.5"), ("--window", "0"), ("--max-steps", "0")):
        assert main([*base, flag, value]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and flag.replace("--max-steps", "--train-steps") in err[0]


def test_sweep_training_task_reports_convergence():
    params = {"n_features": 32, "ratio": 0.25, "feature_prob": 0.1, "steps": 20_000,
              "window": 50, "lr": 2e-2, "n_samples": 500}  # fmt: skip
    outputs = train_evaluate_task(params, seed=3)
    assert outputs["converged"] is True and outputs["steps_run"] < 20_000
    capped = train_evaluate_task({**params, "steps": 40}, seed=3)
    assert capped["converged"] is False and capped["steps_run"] == 40
    fixed = train_evaluate_task({**params, "steps": 40, "converge": False}, seed=3)
    assert fixed["converged"] is False and fixed["steps_run"] == 40
