"""``toyforge features ...``: results agree with the library; outputs are written."""

from __future__ import annotations

import json

import numpy as np
import pytest

from toyforge.cli import main
from toyforge.theory.feature_classes import FeatureClass, allocate_classes
from toyforge.theory.two_features import two_feature_losses


def _json(argv, capsys):
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_classes_matches_the_library(capsys):
    got = _json(
        ["features", "classes", "--classes", "0.3:0.01:4,0.7:0.2", "--ratio", "0.1"], capsys
    )
    classes = [
        FeatureClass(fraction=0.3, feature_prob=0.01, importance=4),
        FeatureClass(fraction=0.7, feature_prob=0.2),
    ]
    assert got[0]["loss"] == pytest.approx(allocate_classes(classes, 0.1).loss, rel=1e-12)


def test_two_features(capsys, tmp_path):
    figure = tmp_path / "two.png"
    got = _json(
        [
            "features",
            "two",
            "--density",
            "0.3",
            "--relative-importance",
            "0.5",
            "--figure",
            str(figure),
        ],
        capsys,
    )
    losses = two_feature_losses(0.3, 0.5)
    assert got["antipodal"] == pytest.approx(losses[2], rel=1e-15)
    assert got["best"] == "antipodal"
    assert figure.stat().st_size > 1000


def test_law_bracket(capsys):
    got = _json(
        [
            "features",
            "law",
            "--features",
            "256",
            "--feature-probs",
            "zipf:1.2:0.4:5e-4",
            "--ratio",
            "0.1",
            "--bins",
            "8",
        ],
        capsys,
    )
    assert got[0]["lower"] <= got[0]["loss"] <= got[0]["upper"]


def test_sample_writes_a_csr_batch(capsys, tmp_path):
    out = tmp_path / "batch.npz"
    got = _json(
        [
            "features",
            "sample",
            "--features",
            "40",
            "--feature-probs",
            "linear:0.3:0.05",
            "--pairs",
            "0:1:-0.2",
            "--exclusive",
            "2:3",
            "--batch",
            "300",
            "--seed",
            "3",
            "--out",
            str(out),
        ],
        capsys,
    )
    with np.load(out, allow_pickle=False) as saved:
        assert saved["indptr"].size == 301 and saved["indices"].size == got["nnz"]
        np.testing.assert_allclose(saved["feature_probs"], np.linspace(0.3, 0.05, 40))


@pytest.mark.slow
def test_tms_and_width_write_their_files(tmp_path, capsys):
    tms = tmp_path / "tms"
    assert (
        main(
            [
                "features",
                "tms",
                "--features",
                "4",
                "--hidden",
                "2",
                "--feature-probs",
                "0.5",
                "--steps",
                "5",
                "--restarts",
                "1",
                "--out",
                str(tms),
            ]
        )
        == 0
    )
    assert {p.name for p in tms.iterdir()} == {
        "tms.json",
        "nonuniform_tms_norms.png",
        "nonuniform_tms_dimensionality.png",
    }
    width = tmp_path / "width"
    assert (
        main(
            [
                "features",
                "width",
                "--features",
                "16",
                "--widths",
                "2,4",
                "--steps",
                "5",
                "--bins",
                "4",
                "--out",
                str(width),
            ]
        )
        == 0
    )
    saved = json.loads((width / "width.json").read_text())
    assert len(saved["result"]["trained"]) == 2
    assert (width / "nonuniform_loss_vs_width.png").stat().st_size > 1000
    assert "slopes:" in capsys.readouterr().out
