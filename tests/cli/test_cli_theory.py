"""CLI: ``toyforge predict`` and ``toyforge scan`` through toyforge.cli.main."""

from __future__ import annotations

import csv
import json

import pytest

from toyforge.cli import main


def test_predict_json(capsys):
    assert main(["predict", "--ratio", "0.25", "--feature-prob", "0.045", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    for key in (
        "loss",
        "scale",
        "bias",
        "regime",
        "symmetric_loss",
        "time_sharing_loss",
        "linear_loss",
        "mmse_loss",
        "jumprelu_loss",
        "asymptotic_loss",
    ):
        assert key in data
    assert data["loss"] == pytest.approx(4.856e-3, rel=2e-4)
    assert data["regime"] == "symmetric"


def test_predict_table(capsys):
    assert main(["predict", "--ratio", "0.1", "--feature-prob", "0.05"]) == 0
    out = capsys.readouterr().out
    assert "time-sharing" in out and "loss" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["predict", "--ratio", "1.5", "--feature-prob", "0.1"],
        ["predict", "--ratio", "abc", "--feature-prob", "0.1"],
        ["predict", "--ratio", "0.5", "--feature-prob", "0"],
        ["scan", "--ratios", "0.1:0.5:3", "--feature-probs", "0.1:2:3", "--out", "x.csv"],
        ["scan", "--ratios", "0.1:0.5", "--feature-probs", "0.1:0.2:3", "--out", "x.csv"],
        [
            "scan",
            "--ratios",
            "0.1:0.5:2",
            "--feature-probs",
            "0.1:0.2:2",
            "--out",
            "/no/such/folder/x.csv",
        ],
    ],
)
def test_user_mistakes_are_one_line_exit_2(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) if "abc" in argv or "0.1:0.5" in argv else _nullcontext():
        status = main(argv)
        assert status == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_scan_writes_tidy_csv_and_plot(tmp_path, capsys):
    out = tmp_path / "grid.csv"
    plot = tmp_path / "phase.png"
    status = main(
        [
            "scan",
            "--ratios",
            "0.01:0.8:4",
            "--feature-probs",
            "0.001:0.5:3",
            "--log",
            "--out",
            str(out),
            "--plot",
            str(plot),
        ]
    )
    assert status == 0
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 12
    assert {"ratio", "feature_prob", "loss", "regime"} <= set(rows[0])
    assert float(rows[0]["ratio"]) == pytest.approx(0.01)
    assert plot.stat().st_size > 1000
    assert not list(tmp_path.glob(".*tmp"))
