"""``toyforge train relu-ae`` with non-identical features: laws in, the kernel path, the class
theory beside the trained loss (docs/non_uniform_features.md#training-on-non-identical-features)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from toyforge.cli import main
from toyforge.constructions.io import load
from toyforge.theory import predict
from toyforge.theory.feature_classes import binned_allocation
from toyforge.verify.data.feature_sampler import FeatureDistribution
from toyforge.verify.data.laws import MagnitudeLaw, parse_law
from toyforge.verify.train.config import TrainConfig
from toyforge.verify.train.convergence import ConvergenceRule
from toyforge.verify.train.optim import AdamConfig, Schedule
from toyforge.verify.train.runs import AutoencoderRun, train_run

BASE = ["train", "relu-ae", "--no-progress", "--features", "32", "--ratio", "0.25",
        "--max-steps", "60", "--window", "20", "--batch", "64", "--lr", "1e-2",
        "--eval-samples", "2000", "--json"]  # fmt: skip


def _train(argv, capsys):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_laws_train_the_library_run_and_compare_with_the_class_theory(tmp_path, capsys):
    out = tmp_path / "ae.npz"
    argv = [*BASE, "--feature-probs", "zipf:1.2:0.4:0.02", "--importance", "geometric:0.95"]
    summary = _train([*argv, "--out", str(out)], capsys)
    assert summary["feature_probs"] == "zipf:1.2:0.4:0.02" and "feature_prob" not in summary
    assert summary["importance"] == "geometric:0.95"
    # the same run through the library gives the same bits
    dist = FeatureDistribution.from_laws(32, "zipf:1.2:0.4:0.02", "geometric:0.95")
    config = TrainConfig(
        steps=60,
        batch_size=64,
        optimizer=AdamConfig(lr=1e-2),
        schedule=Schedule(total_steps=60),
        seed=0,
        eval_samples=2000,
        threads=1,
        convergence=ConvergenceRule(window=20),
    )
    run = AutoencoderRun(n_features=32, ratio=0.25, features=dist, train=config, init_seed=0)
    expected = train_run(run).model
    saved = load(out)
    np.testing.assert_array_equal(getattr(saved, "model", saved).W_in, expected.W_in)
    # the class theory of the same laws at the same ratio, with its binning bracket
    (point,) = binned_allocation(
        parse_law("zipf:1.2:0.4:0.02").continuous(32),
        parse_law("geometric:0.95", role="importance").continuous(32),
        0.25,
        n_bins=64,
    )
    assert summary["theory"].startswith("class theory")
    assert summary["theory_loss"] == point.loss and summary["theory_error"] == point.error
    assert summary["theory_loss"] != predict(0.25, 0.02).loss


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (["--magnitudes", "exponential:0.5"], "magnitudes"),
        (["--pairs", "0:1:0.2"], "independent"),
        (["--exclusive", "2:3:4"], "independent"),
    ],
)
def test_no_theory_says_why(extra, reason, tmp_path, capsys):
    argv = [*BASE, "--feature-probs", "zipf:1.2:0.4:0.02", *extra]
    summary = _train([*argv, "--out", str(tmp_path / "ae.npz")], capsys)
    assert summary["theory_loss"] is None
    assert summary["theory"].startswith("none:") and reason in summary["theory"]


def test_identical_features_keep_the_symmetric_theory(tmp_path, capsys):
    summary = _train([*BASE, "--feature-prob", "0.05", "--out", str(tmp_path / "a.npz")], capsys)
    assert summary["feature_prob"] == 0.05 and "feature_probs" not in summary
    assert summary["theory"] == "symmetric large-N"
    assert summary["theory_loss"] == predict(0.25, 0.05).loss


def test_importance_with_a_list_of_probabilities_uses_constant_laws(tmp_path, capsys):
    argv = [*BASE, "--feature-prob", "0.05,0.1", "--importance", "linear:1:0.5"]
    summaries = _train([*argv, "--out", str(tmp_path / "a.npz")], capsys)
    assert [s["feature_probs"] for s in summaries] == ["constant:0.05", "constant:0.1"]
    assert all(s["theory"].startswith("class theory") for s in summaries)
    # the held-out loss is importance-weighted: it differs from the unweighted run
    plain = _train([*BASE, "--feature-prob", "0.05", "--out", str(tmp_path / "b.npz")], capsys)
    assert summaries[0]["held_out_loss"] != plain["held_out_loss"]


def test_magnitudes_reach_the_sampler(tmp_path, capsys):
    """Constant magnitudes: every active value is 1, so the trained data differ from U[0,1)."""
    argv = [*BASE, "--feature-probs", "constant:0.05", "--magnitudes", "constant"]
    summary = _train([*argv, "--out", str(tmp_path / "a.npz")], capsys)
    dist = FeatureDistribution.from_laws(
        32, "constant:0.05", magnitudes=MagnitudeLaw(kind="constant")
    )
    assert np.all(dist.sample(0, 64).values == 1.0)
    assert summary["magnitudes"] == "constant"


def test_a_law_file_too_large_for_memory_is_refused_first(tmp_path, capsys):
    probs = tmp_path / "probs.npy"
    np.save(probs, np.full(32, 0.05))
    out = tmp_path / "out.npz"
    argv = [*BASE, "--feature-probs", f"file:{probs}", "--out", str(out), "--max-memory", "1K"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--feature-probs" in err[0] and "memory" in err[0]
    assert not out.exists()
    # and within the limit the file law trains
    summary = _train([*argv[:-2], "--max-memory", "1G"], capsys)
    assert summary["theory"].startswith("class theory")
