"""The end-to-end demo on a tiny configuration: every file written, numbers consistent."""

from __future__ import annotations

import json

import numpy as np
import pytest

import toyforge
from toyforge.cli import main
from toyforge.core.errors import InvalidParameter
from toyforge.demo import DemoConfig, run_demo

TINY = DemoConfig(
    n_features=256,
    ratio=0.25,
    feature_prob=0.1,
    n_samples=2000,
    train_steps=30,
    curve_features=64,
    curve_samples=200,
    large_features=1024,
    large_samples=200,
)


@pytest.mark.slow
def test_demo_writes_every_file_and_agrees_with_finite_n_theory(tmp_path):
    steps = []
    result = run_demo(tmp_path, TINY, on_step=lambda name, _result, _s: steps.append(name))
    assert steps == ["predict", "build", "evaluate", "train", "compare", "scale-up", "figures"]
    for path in result.files.values():
        assert path.is_file() and path.stat().st_size > 0, path
    comparison = result.comparison
    # The construction's Monte Carlo estimate against the exact finite-N theory: 4 SE.
    assert abs(comparison.construction_vs_finite_z) < 4
    # The saved rug is the one that was evaluated, and the trained model reloads.
    rug = toyforge.load(result.files["rug"])
    assert rug.n_features == 256 and rug.scale == comparison.scale
    trained = toyforge.load(result.files["trained"])
    assert np.isfinite(trained.W_in).all()
    summary = json.loads(result.files["comparison"].read_text())
    assert summary["construction_loss"] == comparison.construction_loss
    assert summary["trained_loss"] == comparison.trained_loss
    assert result.large_evaluation.n_features == 1024


def test_demo_config_refuses_bad_sizes():
    with pytest.raises(InvalidParameter, match="n_features"):
        DemoConfig(n_features=1000)
    with pytest.raises(InvalidParameter, match="feature_prob"):
        DemoConfig(feature_prob=0.0)


def test_demo_cli_error_is_one_line(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--features", "1000"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "--features=1000" in error[0]
