"""The rug's CLI members: build, evaluate (matrix-free), compare, figures."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.linalg import hadamard

from toyforge.cli import main
from toyforge.constructions.persian_rug import persian_rug
from toyforge.figures import _style as style_module
from toyforge.theory import symmetric_optimum


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


def _record_saved_figures(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Wrap toyforge's save_figure wherever it is bound; return {file name: Figure}."""
    original = style_module.save_figure
    saved: dict[str, Any] = {}

    def recording(figure: Any, path: Any, config: Any = None) -> Any:
        saved[Path(path).name] = figure
        return original(figure, path, config)

    for name, module in list(sys.modules.items()):
        if name.startswith("toyforge") and getattr(module, "save_figure", None) is original:
            monkeypatch.setattr(module, "save_figure", recording)
    return saved


def _dense_rug(n_features: int, ratio: float, feature_prob: float) -> np.ndarray:
    """W = H_Sᵀ H_S / n_hidden from the rug's rows and scipy's Hadamard matrix."""
    rows = persian_rug(n_features, ratio, feature_prob, 0).rows
    hadamard_rows = hadamard(n_features)[np.asarray(rows)].astype(float)
    return hadamard_rows.T @ hadamard_rows / len(rows)


def _line(axes: Any, marker: str) -> Any:
    return next(line for line in axes.get_lines() if line.get_marker() == marker)


def test_figures_are_written(tmp_path, capsys, monkeypatch) -> None:
    saved = _record_saved_figures(monkeypatch)
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
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the figures draw the data: the rug's W (crop and 8 × 8 block means) from scipy's H ...
    dense = _dense_rug(512, 0.25, 0.01)
    crop = saved["rug.png"].axes[0].images[0].get_array()
    np.testing.assert_allclose(crop, dense[:128, :128], atol=1e-12)
    blocks = saved["rug_block.png"].axes[0].images[0].get_array()
    np.testing.assert_allclose(blocks, dense.reshape(64, 8, 64, 8).mean(axis=(1, 3)), atol=1e-12)
    # ... the large-N curve from the theory and the Monte Carlo points where they were asked
    axes = saved["curves.png"].axes[0]
    theory = axes.get_lines()[0]
    grid = np.asarray(theory.get_xdata())
    np.testing.assert_allclose(theory.get_ydata(), symmetric_optimum(0.25, grid).loss, rtol=1e-12)
    np.testing.assert_allclose(_line(axes, "x").get_xdata(), [0.05, 0.2])
    np.testing.assert_allclose(_line(axes, "o").get_xdata(), [0.05, 0.2])
    # ... and the convergence points at p·n = 0.05 × (64, 256) with the 1.5 / (p·n) guide
    guide = saved["convergence.png"].axes[0].get_lines()[-1]
    np.testing.assert_allclose(guide.get_xdata(), [3.2, 12.8])
    np.testing.assert_allclose(guide.get_ydata(), 1.5 / np.array([3.2, 12.8]))
