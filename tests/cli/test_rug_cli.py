"""The rug's CLI members: build, evaluate (matrix-free), compare, figures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from toyforge.cli import main


def _json_output(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.slow
def test_build_then_evaluate_matrix_free(tmp_path, capsys) -> None:
    target = tmp_path / "rug.npz"
    summary = _json_output(
        capsys,
        [
            "build",
            "persian-rug",
            "--features",
            "4096",
            "--ratio",
            "0.1",
            "--feature-prob",
            "0.01",
            "--seed",
            "3",
            "--out",
            str(target),
            "--json",
        ],
    )
    assert summary["n_hidden"] == 409
    with np.load(target, allow_pickle=False) as archive:
        assert {"rows", "scale", "bias", "config"} <= set(archive.files)
    result = _json_output(
        capsys, ["evaluate", str(target), "--feature-prob", "0.01", "--samples", "200", "--json"]
    )
    assert result["architecture"] == "persian-rug"
    assert result["n_samples"] == 200 and result["stderr"] > 0


def test_build_refuses_non_power_of_two(tmp_path, capsys) -> None:
    code = main(
        [
            "build",
            "persian-rug",
            "--features",
            "1000",
            "--ratio",
            "0.1",
            "--feature-prob",
            "0.01",
            "--out",
            str(tmp_path / "r.npz"),
        ]
    )
    assert code == 2
    assert "512 or 1024" in capsys.readouterr().err


def test_compare_json_has_documented_keys(capsys) -> None:
    result = _json_output(
        capsys,
        [
            "compare",
            "persian-rug",
            "--features",
            "256",
            "--ratio",
            "0.25",
            "--feature-prob",
            "0.05",
            "--samples",
            "2000",
            "--json",
        ],
    )
    for key in (
        "theory_loss",
        "finite_theory_loss",
        "construction_loss",
        "construction_stderr",
        "trained_loss",
        "trained_stderr",
    ):
        assert key in result
    assert result["trained_loss"] is None
    assert (
        abs(result["construction_loss"] - result["finite_theory_loss"])
        < 4 * result["construction_stderr"]
    )


@pytest.mark.slow
def test_compare_with_training_prints_table(capsys) -> None:
    assert (
        main(
            [
                "compare",
                "persian-rug",
                "--features",
                "64",
                "--ratio",
                "0.25",
                "--feature-prob",
                "0.1",
                "--samples",
                "2000",
                "--train",
                "--train-steps",
                "300",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "trained model" in out and "finite-N theory" in out and "time-sharing" in out


def test_figures_are_written(tmp_path, capsys) -> None:
    rug = tmp_path / "rug.png"
    assert (
        main(
            [
                "figure",
                "rug",
                "--features",
                "512",
                "--ratio",
                "0.25",
                "--size",
                "128",
                "--histograms",
                "--out",
                str(rug),
            ]
        )
        == 0
    )
    block = tmp_path / "rug_block.png"
    assert (
        main(
            [
                "figure",
                "rug",
                "--features",
                "512",
                "--ratio",
                "0.25",
                "--size",
                "64",
                "--mode",
                "block",
                "--out",
                str(block),
            ]
        )
        == 0
    )
    curves = tmp_path / "curves.png"
    assert (
        main(
            [
                "figure",
                "loss-curves",
                "--axis",
                "feature-prob",
                "--fixed",
                "0.25",
                "--points",
                "0.05,0.2",
                "--features",
                "128",
                "--samples",
                "300",
                "--out",
                str(curves),
            ]
        )
        == 0
    )
    convergence = tmp_path / "convergence.png"
    assert (
        main(
            [
                "figure",
                "convergence",
                "--ratio",
                "0.25",
                "--feature-prob",
                "0.05",
                "--sizes",
                "64,256",
                "--samples",
                "500",
                "--out",
                str(convergence),
            ]
        )
        == 0
    )
    for path in (rug, block, curves, convergence):
        assert path.stat().st_size > 1000
