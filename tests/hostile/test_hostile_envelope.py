"""Hostile input for the envelope's CLI: build envelope, inspect, predict's tiny ratios.

Each case: refused with exit status 2 in one stderr line naming the option, leaving the folder
as it was; or a correct result.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from toyforge.cli import main
from toyforge.constructions.io import save
from toyforge.constructions.models import ReluAutoencoder

ENV = ["build", "envelope", "--features", "64", "--ratio", "0.3", "--feature-prob", "0.05"]

CASES = [
    ([*ENV[:3], "0", *ENV[4:], "--out", "e.npz"], "--features"),
    ([*ENV[:3], "1", *ENV[4:], "--out", "e.npz"], "--features"),
    ([*ENV[:3], "8193", *ENV[4:], "--out", "e.npz"], "--features"),
    ([*ENV[:3], "abc", *ENV[4:], "--out", "e.npz"], "--features"),
    ([*ENV[:5], "0", *ENV[6:], "--out", "e.npz"], "--ratio"),
    ([*ENV[:5], "1.5", *ENV[6:], "--out", "e.npz"], "--ratio"),
    ([*ENV[:5], "nan", *ENV[6:], "--out", "e.npz"], "--ratio"),
    ([*ENV[:7], "0", "--out", "e.npz"], "--feature-prob"),
    ([*ENV[:7], "2", "--out", "e.npz"], "--feature-prob"),
    ([*ENV[:7], "-inf", "--out", "e.npz"], "--feature-prob"),
    ([*ENV, "--seed", "-1", "--out", "e.npz"], "--seed"),
    ([*ENV, "--out", "e.txt"], "--out"),
    ([*ENV, "--out", "nowhere/e.npz"], "--out"),
    ([*ENV, "--out", "folder.npz"], "--out"),
    (ENV, "--out"),
    (["inspect", "missing.npz"], "missing.npz"),
    (["inspect", "notes.txt"], "notes.txt"),
    (["inspect", "folder.npz"], "folder.npz"),
    (["inspect", "model.npz", "--antipodal", "0"], "--antipodal"),
    (["inspect", "model.npz", "--antipodal", "1.5"], "--antipodal"),
    (["inspect", "model.npz", "--antipodal", "nan"], "--antipodal"),
    (["predict", "--ratio", "1e-20", "--feature-prob", "0.1"], "--ratio"),
    (["predict", "--ratio", "5e-324", "--feature-prob", "0.1"], "--ratio"),
    (
        ["scan", "--ratios", "1e-20:1e-15:3", "--feature-probs", "0.1:1:2", "--out", "s.csv"],
        "ratio",
    ),
    (["figure", "structure", "--resolution", "2", "--out", "f.png"], "--resolution"),
    (["figure", "structure", "--resolution", "100000", "--out", "f.png"], "--resolution"),
    (["figure", "structure", "--p-min", "0", "--out", "f.png"], "--p-min"),
    (["figure", "structure", "--p-min", "1", "--out", "f.png"], "--p-min"),
    (["figure", "structure", "--out", "f.txt"], "--out"),
    (["figure", "families", "--feature-probs", "0", "--out", "f.png"], "--feature-probs"),
    (["figure", "families", "--feature-probs", "0.1,2", "--out", "f.png"], "--feature-probs"),
    (["figure", "families", "--feature-probs", "a,b", "--out", "f.png"], "--feature-probs"),
    (
        ["figure", "families", "--feature-probs", "0.1,0.2,0.3,0.4,0.5,0.6,0.7", "--out", "f.png"],
        "--feature-probs",
    ),
    (["figure", "families", "--resolution", "0", "--out", "f.png"], "--resolution"),
]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    model = ReluAutoencoder(
        W_in=rng.standard_normal((8, 32)), W_out=rng.standard_normal((32, 8)), b=np.zeros(32)
    )
    save(model, tmp_path / "model.npz")
    (tmp_path / "notes.txt").write_text("not weights\n")
    (tmp_path / "folder.npz").mkdir()
    return tmp_path


def _snapshot(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


def _run(argv, capsys):
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err.splitlines()


@pytest.mark.parametrize(("argv", "fragment"), CASES, ids=[" ".join(c[0])[:60] for c in CASES])
def test_refused_in_one_line(argv, fragment, workdir, capsys):
    before = _snapshot(workdir)
    status, _, lines = _run(argv, capsys)
    assert status == 2, lines
    assert len(lines) == 1, lines
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in lines[0]
    assert _snapshot(workdir) == before


def test_build_then_inspect_round_trip(workdir, capsys):
    status, out, err = _run([*ENV, "--json", "--out", "e.npz"], capsys)
    assert status == 0, err
    summary = json.loads(out)
    assert sum(c["n_features"] for c in summary["components"]) == 64
    status, out, err = _run(["inspect", "e.npz", "--json"], capsys)
    assert status == 0, err
    report = json.loads(out)
    assert sum(report["feature_shares"].values()) == pytest.approx(1.0)
    for component in summary["components"]:
        assert report["feature_shares"][component["family"]] == pytest.approx(
            component["n_features"] / 64
        )


def test_smallest_ratio_gives_the_dropped_limit(workdir, capsys):
    status, out, _ = _run(
        ["predict", "--ratio", "1e-12", "--feature-prob", "0.1", "--json"], capsys
    )
    assert status == 0
    value = json.loads(out)["envelope_loss"]
    assert value == pytest.approx(0.1 / 3 - 0.01 / 4, rel=1e-9)
