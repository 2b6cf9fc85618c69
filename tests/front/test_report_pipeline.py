"""The report pipeline on a tiny configuration: figures, REPORT.md, caching, CLI errors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from toyforge.core.errors import InvalidParameter
from toyforge.report import ITEMS, ReportConfig, curve_point_task, run_report

TINY = ReportConfig(
    name="tiny",
    rug_features=256,
    big_rug_features=1024,
    trained_rug_features=64,
    trained_rug_steps=40,
    image_size=64,
    ratio_curve_features=256,
    ratio_curve_points=(0.1, 0.4),
    prob_curve_features=64,
    prob_curve_points=(0.05, 0.3),
    prob_curve_train_steps=20,
    curve_samples=300,
    convergence_sizes=(64, 256),
    convergence_samples=300,
    compare_features=64,
    compare_ratios=(0.25,),
    compare_feature_probs=(0.05,),
    compare_samples=300,
    compare_train_steps=20,
    phase_features=64,
    phase_points=3,
    phase_compare_points=2,
    phase_compare_features=64,
    phase_compare_samples=300,
    phase_train_steps=20,
    moduli=(23,),
    grok={
        "modulus": 23,
        "train_fraction": 0.7,
        "lr": 3e-3,
        "steps": 200,
        "d_embed": 32,
        "n_hidden": 12,
    },
    double_descent={
        "seeds": 1,
        "sizes": (5, 10),
        "steps": 100,
        "warmup_steps": 10,
        "lr": 1e-2,
        "n_features": 40,
        "n_test": 100,
    },
    geometry_sizes=(5, 10),
    reconstruction={
        "n_features": 8,
        "n_points": 40,
        "sparsities": (0.8,),
        "sizes": (2,),
        "steps": 20,
        "n_test": 40,
    },
    structure_resolution=12,
    families_resolution=12,
    two_feature_resolution=20,
    tms={"feature_probs": (1.0, 0.1), "steps": 30, "restarts": 1, "n_test": 200},
    width={"n_features": 32, "widths": (4, 8), "steps": 30, "n_bins": 8, "eval_samples": 512},
    pair_correlations=(0.0, 0.8),
    pairs={"feature_prob": 0.25, "steps": 30, "restarts": 1},
    grok_phase={
        "grid": 2,
        "seeds": 1,
        "modulus": 11,
        "embed": 8,
        "hidden": 6,
        "steps": 40,
        "log_every": 20,
    },
)

CHEAP_ITEMS = ("rug", "convergence", "modular")


def _cache_files(folder: Path) -> dict[Path, int]:
    return {
        path: path.stat().st_mtime_ns
        for path in (folder / ".cache").rglob("*")
        if path.is_file() and path.suffix in (".json", ".npz")
    }


@pytest.mark.slow
def test_second_run_recomputes_nothing(tmp_path: Path) -> None:
    """A rerun reads every cached task: no computation, no new or rewritten cache file.

    (No wall-clock comparison: with the tiny config both runs take seconds, and timing is the
    benchmarks' business, not a test's.)
    """
    first = run_report(tmp_path, TINY, only=CHEAP_ITEMS, workers=1)
    records = _cache_files(tmp_path)
    assert any(path.parent.name == "tasks" for path in records)  # sweep records exist
    assert all(item.computed > 0 for item in first.items)
    second = run_report(tmp_path, TINY, only=CHEAP_ITEMS, workers=1)
    assert [item.computed for item in second.items] == [0] * len(CHEAP_ITEMS)
    assert _cache_files(tmp_path) == records  # no new or rewritten cache file
    names = {path.name for item in second.items for path in item.figures}
    assert names == {
        "rug.png",
        "rug_2e20_crop.png",
        "rug_vs_trained.png",
        "convergence.png",
        "modular_grokking.png",
        "modular_spectrum.png",
        "modular_neurons.png",
        "modular_weights.png",
    }
    for name in names:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_summary_has_tables_version_timing_and_figures(tmp_path: Path) -> None:
    from toyforge import __version__

    run_report(tmp_path, TINY, only=("convergence",), workers=1)
    text = (tmp_path / "REPORT.md").read_text()
    assert f"toyforge {__version__}" in text
    assert "![convergence](convergence.png)" in text
    assert "| convergence |" in text  # the timing row
    assert "± SE" in text and "rug vs theory" in text
    assert '"n_samples": 300' in text  # the item's config


def test_curve_point_task_matches_the_whole_curve() -> None:
    """Assembling curves point by point gives the numbers of one loss_curves call."""
    from toyforge.verify.compare.rug_curves import loss_curves

    whole = loss_curves("ratio", 0.05, [0.1, 0.3], n_features=256, n_samples=200, seed=3)
    for index, value in enumerate((0.1, 0.3)):
        point = curve_point_task(
            {
                "axis": "ratio",
                "fixed": 0.05,
                "value": value,
                "n_features": 256,
                "n_samples": 200,
                "seed": 3,
            },
            3,
        )
        assert point["rug_loss"] == whole.rug_loss[index]
        assert point["finite_loss"] == whole.finite_loss[index]
        assert point["at"] == whole.points[index]
        assert point["trained_loss"] is None


def test_unknown_item_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter, match="only"):
        run_report(tmp_path, TINY, only=("nope",))


def test_cli_refuses_bad_workers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from toyforge.cli import main

    assert main(["report", "--out", str(tmp_path), "--workers", "0"]) == 2
    assert "--workers" in capsys.readouterr().err


@pytest.mark.slow
def test_every_item_runs_on_the_tiny_config(tmp_path: Path) -> None:
    result = run_report(tmp_path, TINY, workers=1)
    assert [item.name for item in result.items] == list(ITEMS)
    gallery = Path(__file__).resolve().parents[2] / "figures" / "gallery"
    produced = {path.name for item in result.items for path in item.figures}
    assert {path.name for path in gallery.glob("*.png")} <= produced
    compare = next(item for item in result.items if item.name == "compare")
    row = compare.tables[0].rows[0]
    assert np.isfinite(row[3]) and row[3] > 0  # theory loss present


def test_only_keeps_the_other_items_of_the_same_config(tmp_path: Path) -> None:
    run_report(tmp_path, TINY, only=("convergence",), workers=1)
    first = (tmp_path / "REPORT.md").read_text()
    run_report(tmp_path, TINY, only=("reconstruction",), workers=1)
    merged = (tmp_path / "REPORT.md").read_text()
    assert "## convergence" in merged and "## reconstruction" in merged
    # the kept section is the earlier run's, table and all
    kept = first[first.index("## convergence") :]
    assert kept.strip() in merged
    assert merged.index("## convergence") < merged.index("## reconstruction")  # report order
    # another config does not mix with this one's sections
    run_report(tmp_path, replace(TINY, name="other"), only=("reconstruction",), workers=1)
    other = (tmp_path / "REPORT.md").read_text()
    assert "## reconstruction" in other and "## convergence" not in other


def test_cli_help_names_every_item(capsys: pytest.CaptureFixture[str]) -> None:
    from toyforge.cli import main
    from toyforge.commands.report import ITEM_NAMES

    assert ITEM_NAMES == tuple(ITEMS)
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    text = capsys.readouterr().out
    assert all(f"\n  {name} " in text for name in ITEMS)  # each item described
