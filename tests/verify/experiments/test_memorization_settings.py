"""The three toy settings as configs of the one trainer, the bounds, and the CLI members."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from toyforge.cli import main
from toyforge.constructions.models import MLP, ReluAutoencoder
from toyforge.core.errors import InvalidParameter
from toyforge.verify.experiments.reconstruction import (
    ToySettingConfig,
    prepare_setting,
    sparse_recovery_bounds,
    train_setting,
)
from toyforge.verify.experiments.reconstruction_grids import reconstruction_grid

SMALL = dict(
    n_features=12, sparsity=0.8, n_points=60, batch_size=None, steps=150, lr=1e-2, n_test=200
)


def test_settings_are_configs_of_existing_models():
    model, data, config = prepare_setting(ToySettingConfig(setting="tms", n_hidden=3, **SMALL))
    assert isinstance(model, ReluAutoencoder) and model.tied and data.targets is None
    assert config.loss == "mse" and config.reduction == "sum_features"
    model, data, _ = prepare_setting(
        ToySettingConfig(
            setting="mlp-block", n_hidden=8, embed_dim=4, variant="reprojector", **SMALL
        )
    )
    assert isinstance(model, MLP) and model.embedding.shape == (4, 12)
    E = model.embedding
    np.testing.assert_allclose(data.targets, data.inputs @ E.T @ E)
    model, data, config = prepare_setting(
        ToySettingConfig(setting="unembed", labels="soft", **SMALL)
    )
    assert model.n_hidden == 2 and model.activation == "identity"
    assert config.loss == "cross_entropy"
    np.testing.assert_allclose(data.targets.sum(axis=1), 1.0)


@pytest.mark.parametrize("setting", ["tms", "mlp-block", "unembed"])
def test_training_beats_the_baseline(setting):
    config = ToySettingConfig(setting=setting, n_hidden=6, embed_dim=6, **SMALL)
    result = train_setting(config)
    # trained models do better on their training set than the trivial output
    assert result.train_loss < result.baseline
    assert result.test_loss.n_samples == 200 and 0.0 <= result.accuracy <= 1.0


def test_identity_bottleneck_reconstructs_when_m_equals_n():
    config = ToySettingConfig(
        setting="tms",
        n_features=6,
        n_hidden=6,
        sparsity=0.5,
        n_points=200,
        batch_size=None,
        steps=1500,
        lr=2e-2,
        n_test=400,
    )
    result = train_setting(config)
    assert result.relative_loss < 0.05
    assert result.accuracy > 0.9


def test_bounds_match_spec_plug_in():
    # docs/memorisation.md#limits-of-reconstruction: n=1000, k=10: m >= 20 (any decoder), ~57 (l1),
    # ~46 (TMS)
    bounds = sparse_recovery_bounds(1000, 0.99)
    assert bounds["uniqueness"] == pytest.approx(20.0)
    assert bounds["l1"] == pytest.approx(57, abs=1)
    assert bounds["tms"] == pytest.approx(10 * math.log(100))


def test_grid_shape_and_refusals():
    base = ToySettingConfig(setting="tms", **{**SMALL, "steps": 30})
    grid = reconstruction_grid(base, "n_hidden", [1, 3], "sparsity", [0.5, 0.9])
    assert grid.relative_loss.shape == (2, 2) and grid.accuracy.shape == (2, 2)
    with pytest.raises(InvalidParameter, match="y_axis"):
        reconstruction_grid(base, "n_hidden", [1], "n_hidden", [2])
    with pytest.raises(InvalidParameter, match="embed_dim"):
        ToySettingConfig(setting="mlp-block")


@pytest.mark.parametrize(
    "member, extra",
    [
        ("tms", ["--hidden", "3", "--importance", "0.9"]),
        ("mlp-block", ["--hidden", "6", "--embed-dim", "4", "--variant", "reconstruct-embedded"]),
        ("unembed", ["--labels", "hard"]),
    ],
)
def test_cli_train_members(tmp_path, capsys, member, extra):
    out = tmp_path / "model.npz"
    status = main(
        [
            "train",
            member,
            "--features",
            "10",
            "--sparsity",
            "0.8",
            "--points",
            "40",
            "--steps",
            "50",
            "--lr",
            "1e-2",
            "--test-points",
            "50",
            "--out",
            str(out),
            "--json",
            "--no-progress",
            *extra,
        ]
    )
    assert status == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_points"] == 40 and out.exists()


def test_cli_double_descent_resumes(tmp_path, capsys):
    out = tmp_path / "dd.json"
    argv = [
        "double-descent",
        "--features",
        "30",
        "--sparsity",
        "0.9",
        "--sizes",
        "3,7",
        "--seeds",
        "1",
        "--steps",
        "100",
        "--warmup",
        "10",
        "--test-points",
        "20",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main(argv) == 0
    first = out.read_text()
    assert main(argv) == 0  # nothing to recompute: same file content
    assert out.read_text() == first
    assert "feat>0.5" in capsys.readouterr().out
    assert main([*argv[:-3], "--hidden", "3", "--out", str(out)]) == 2


def test_embed_dim_axis_is_for_the_mlp_block_only():
    base = ToySettingConfig(setting="tms", **{**SMALL, "steps": 10})
    with pytest.raises(InvalidParameter, match="base.setting"):
        reconstruction_grid(base, "sparsity", [0.5], "embed_dim", [2])
    mlp = ToySettingConfig(setting="mlp-block", n_hidden=6, embed_dim=3, **{**SMALL, "steps": 30})
    grid = reconstruction_grid(mlp, "sparsity", [0.5], "embed_dim", [2, 5])
    assert grid.late_improvement.shape == (2, 1)
    assert np.all(np.isfinite(grid.late_improvement))


def test_bound_curves_are_placed_between_rows_in_log_space():
    from toyforge.figures.memorization import _bound_positions

    rows = [1, 2, 4, 8]
    np.testing.assert_allclose(
        _bound_positions([4.0, math.sqrt(8.0), 3.0], rows), [2.0, 1.5, 1.0 + math.log2(1.5)]
    )
    # off the grid: clipped to the outer edges of the heatmap
    np.testing.assert_allclose(_bound_positions([0.5, 20.0], rows), [-0.5, 3.5])


def test_cli_reconstruction_limits_figure(tmp_path, capsys):
    out, data = tmp_path / "limits.png", tmp_path / "limits.json"
    status = main(
        [
            "figure",
            "reconstruction-limits",
            "--features",
            "10",
            "--points",
            "40",
            "--steps",
            "20",
            "--sparsities",
            "0.5,0.9",
            "--sizes",
            "1,4",
            "--test-points",
            "50",
            "--out",
            str(out),
            "--data",
            str(data),
            "--no-progress",
        ]
    )
    assert status == 0 and out.stat().st_size > 0
    panels = json.loads(data.read_text())["panels"]
    assert len(panels) == 4  # bottleneck and MLP block, uniform and decaying importance
    assert [p["grid"]["y_axis"] for p in panels] == ["n_hidden"] * 2 + ["embed_dim"] * 2
    assert [p["grid"]["base"]["importance_decay"] for p in panels] == [1.0, 0.9, 1.0, 0.9]
    assert "figure:" in capsys.readouterr().out


def test_l1_bound_solves_its_equation_and_never_beats_uniqueness():
    # k << n: the root of m = 2k ln(n/m); k ~ n: the formula would fall below 2k, so 2k holds
    bounds = sparse_recovery_bounds(40, 0.9)
    k, m = bounds["k"], bounds["l1"]
    assert m == pytest.approx(2 * k * math.log(40 / m), rel=1e-9)
    for sparsity in (0.5, 0.7, 0.8):
        bounds = sparse_recovery_bounds(40, sparsity)
        assert bounds["uniqueness"] <= bounds["l1"] <= 40
