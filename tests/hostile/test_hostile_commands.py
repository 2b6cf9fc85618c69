"""Hostile numbers, options and paths over every command: refused in one stderr line with exit
status 2, before any work, leaving the folder exactly as it was.

The CLI runs in-process (``toyforge.cli.main``); memory refusals use ``--max-memory`` or sizes
beyond any machine, so they hold everywhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from toyforge.cli import main
from toyforge.constructions.io import save
from toyforge.constructions.models import ReluAutoencoder

HUGE = str(10**12)
RUG = ["--features", "64", "--ratio", "0.25", "--feature-prob", "0.05"]
SCAN = ["scan", "--ratios", "0.1:1:3", "--feature-probs", "0.01:1:3"]
TMS = ["train", "tms", "--features", "5", "--hidden", "2", "--sparsity", "0.9", "--points", "50"]
MLP = ["train", "mlp-block", "--features", "5", "--hidden", "4", "--sparsity", "0.9"]
MLP += ["--embed-dim", "3"]
UNEMBED = ["train", "unembed", "--features", "5", "--sparsity", "0.9", "--points", "50"]
RELU = ["train", "relu-ae", *RUG, "--max-steps", "10", "--no-progress"]
MOD = ["build", "modular-addition", "--modulus", "7"]
EVAL = ["evaluate", "rug.npz", "--feature-prob", "0.05"]
COMPARE = ["compare", "persian-rug", *RUG]
DD = ["double-descent", "--features", "20", "--hidden", "2", "--sizes", "10", "--steps", "10"]
FIG_RUG = ["figure", "rug", "--features", "64", "--ratio", "0.25"]

CASES = [
    # predict
    (["predict", "--ratio", "0", "--feature-prob", "0.1"], "--ratio"),
    (["predict", "--ratio", "1.5", "--feature-prob", "0.1"], "--ratio"),
    (["predict", "--ratio", "nan", "--feature-prob", "0.1"], "--ratio"),
    (["predict", "--ratio", "abc", "--feature-prob", "0.1"], "--ratio"),
    (["predict", "--ratio", "0.5", "--feature-prob", "0"], "--feature-prob"),
    (["predict", "--ratio", "0.5", "--feature-prob", "-1"], "--feature-prob"),
    (["predict", "--ratio", "0.5", "--feature-prob", "inf"], "--feature-prob"),
    (["predict", "--ratio", "0.5"], "--feature-prob"),
    # scan
    ([*SCAN[:2], "0.1:1:3000", "--feature-probs", "0.01:1:3000", "--out", "s.csv"], "--ratios"),
    ([*SCAN, "--out", "s.pkl"], "--out"),
    ([*SCAN, "--out", "s.csv", "--plot", "p.txt"], "--plot"),
    ([*SCAN, "--out", "nowhere/s.csv"], "--out"),
    ([*SCAN, "--out", "folder.csv"], "--out"),
    (["scan", "--ratios", "0.1:1:0", "--feature-probs", "0.1:1:2", "--out", "s.csv"], "COUNT"),
    (["scan", "--ratios", "a:b:c", "--feature-probs", "0.1:1:2", "--out", "s.csv"], "--ratios"),
    (
        ["scan", "--ratios", "0:1:3", "--feature-probs", "0.1:1:2", "--log", "--out", "s.csv"],
        "--ratios",
    ),
    (["scan", "--ratios", "0.1:1:3", "--feature-probs", "0.1:2:3", "--out", "s.csv"], "feature"),
    # build persian-rug
    (["build", "persian-rug", *RUG[:1], "0", *RUG[2:], "--out", "w.npz"], "--features"),
    (["build", "persian-rug", "--features", str(2**30), *RUG[2:], "--out", "w.npz"], "--features"),
    (["build", "persian-rug", *RUG[:3], "0", *RUG[4:], "--out", "w.npz"], "--ratio"),
    (["build", "persian-rug", *RUG[:3], "2", *RUG[4:], "--out", "w.npz"], "--ratio"),
    (["build", "persian-rug", *RUG[:5], "0", "--out", "w.npz"], "--feature-prob"),
    (["build", "persian-rug", *RUG, "--out", "w.txt"], "--out"),
    (["build", "persian-rug", *RUG, "--out", "nowhere/w.npz"], "--out"),
    (["build", "persian-rug", *RUG, "--selection", "bogus", "--out", "w.npz"], "--selection"),
    (["build", "persian-rug", *RUG, "--seed", "-1", "--out", "w.npz"], "--seed"),
    # build modular-addition
    (["build", "modular-addition", "--modulus", "4", "--out", "m.npz"], "--modulus"),
    (["build", "modular-addition", "--modulus", "-7", "--out", "m.npz"], "--modulus"),
    ([*MOD, "--neurons-per-frequency", "0", "--out", "m.npz"], "--neurons-per-frequency"),
    ([*MOD[:3], "3001", "--neurons-per-frequency", "10000000", "--out", "m.npz"], "--neurons"),
    ([*MOD, "--amplitudes", "1e308", "--out", "m.npz"], "--amplitudes"),
    ([*MOD, "--amplitudes", "1e-308", "--out", "m.npz"], "--amplitudes"),
    ([*MOD, "--amplitudes", "-1", "--out", "m.npz"], "--amplitudes"),
    ([*MOD, "--rotation", "inf", "--out", "m.npz"], "--rotation"),
    ([*MOD, "--untied", "--out", "m.npz"], "--activation"),
    ([*MOD, "--out", "m.pt"], "--out"),
    # train relu-ae (more cases: test_hostile_train.py)
    ([*RELU[:3], "1000000", *RELU[4:], "--out", "w.npz"], "--features"),
    ([*RELU, "--batch", HUGE, "--out", "w.npz"], "--batch"),
    ([*RELU, "--eval-samples", HUGE, "--out", "w.npz"], "--eval-samples"),
    ([*RELU, "--dtype", "float16", "--out", "w.npz"], "--dtype"),
    ([*RELU, "--out", "w.csv"], "--out"),
    # train tms / mlp-block / unembed
    ([*TMS, "--test-points", "0", "--out", "t.npz"], "--test-points"),
    ([*TMS, "--warmup", "-1", "--out", "t.npz"], "--warmup"),
    ([*TMS[:-1], HUGE, "--out", "t.npz"], "--points"),
    ([*TMS[:5], "0", *TMS[6:], "--out", "t.npz"], "--hidden"),
    ([*TMS[:7], "1.5", *TMS[8:], "--out", "t.npz"], "--sparsity"),
    ([*TMS, "--out", "t.json"], "--out"),
    ([*TMS, "--steps", "0", "--out", "t.npz"], "--steps"),
    ([*TMS, "--lr", "-1", "--out", "t.npz"], "--lr"),
    ([*MLP, "--points", "0", "--out", "m.npz"], "--points"),
    ([*MLP, "--points", HUGE, "--out", "m.npz"], "--points"),
    ([*UNEMBED, "--labels", "fuzzy", "--out", "u.npz"], "--labels"),
    ([*UNEMBED, "--batch", "0", "--out", "u.npz"], "--batch"),
    # train modular-addition (more: test_hostile_grokking.py)
    (["train", "modular-addition", "--modulus", "3001", "--out", "m.npz"], "--"),
    (["train", "modular-addition", "--log-every", "0", "--out", "m.npz"], "--log-every"),
    # evaluate
    ([*EVAL[:3], "0"], "--feature-prob"),
    ([*EVAL, "--samples", str(2**62)], "--samples"),
    ([*EVAL, "--samples", "0"], "--samples"),
    ([*EVAL, "--importance=-1e308"], "--importance"),
    ([*EVAL, "--batch", "0"], "--batch"),
    ([*EVAL, "--batch", HUGE], "--batch"),
    ([*EVAL, "--path", "bogus"], "--path"),
    ([*EVAL, "--value-dist", "bogus"], "--value-dist"),
    (["evaluate", "missing.npz", "--feature-prob", "0.05"], "missing.npz"),
    (["evaluate", "folder.npz", "--feature-prob", "0.05"], "folder.npz"),
    (["evaluate", "notes.txt", "--feature-prob", "0.05"], "notes.txt"),
    # compare
    ([*COMPARE[:6], "1e-12"], "--feature-prob"),
    ([*COMPARE[:2], "--features", "0", *RUG[2:]], "--features"),
    ([*COMPARE, "--samples", "0"], "--samples"),
    ([*COMPARE, "--samples", str(2**62)], "--samples"),
    # figure
    (
        [
            *FIG_RUG[:3],
            "16384",
            *FIG_RUG[4:],
            "--size",
            "16384",
            "--max-memory",
            "4G",
            "--out",
            "r.png",
        ],
        "--",
    ),
    ([*FIG_RUG, "--out", "r.txt"], "--out"),
    ([*FIG_RUG, "--size", "0", "--out", "r.png"], "--size"),
    ([*FIG_RUG, "--trained", "missing.npz", "--out", "r.png"], "missing.npz"),
    (["figure", "grokking", "--history", "missing.npz", "--out", "g.png"], "missing.npz"),
    (["figure", "grokking", "--history", "random.npz", "--out", "g.png"], "random.npz"),
    (["figure", "grokking", "--history", "random.npz", "--out", "g.txt"], "--out"),
    (["figure", "fourier-spectrum", "--model", "random.npz", "--out", "f.png"], "random.npz"),
    (["figure", "modular-weights", "--model", "rug.npz", "--out", "f.png"], "rug.npz"),
    (
        [
            "figure",
            "convergence",
            "--ratio",
            "0.25",
            "--feature-prob",
            "0.05",
            "--sizes",
            str(2**40),
            "--out",
            "c.png",
        ],
        "--sizes",
    ),
    (
        [
            "figure",
            "loss-curves",
            "--axis",
            "ratio",
            "--fixed",
            "0.05",
            "--points",
            "0.1",
            "--out",
            "l.txt",
        ],
        "--out",
    ),
    (["figure", "reconstruction-limits", "--out", "r.png", "--data", "d.txt"], "--data"),
    (["figure", "reconstruction-limits", "--out", "r.jpg"], "--out"),
    # double-descent
    ([*DD[:6], str(10**9), *DD[7:], "--out", "d.json"], "--sizes"),
    ([*DD, "--out", "d.json", "--plot", "p.txt"], "--plot"),
    ([*DD, "--out", "d.txt"], "--out"),
    ([*DD, "--seeds", "0", "--out", "d.json"], "--seeds"),
    ([*DD[:2], "0", *DD[3:], "--out", "d.json"], "--features"),
    # demo and report: nothing is created
    (["demo", "--out", "demo-out", "--features", "-5"], "--features"),
    (["demo", "--out", "demo-out", "--ratio", "2"], "--ratio"),
    (["demo", "--out", "rug.npz/inside"], "--out"),
    (["report", "--out", "report-out", "--only", "nonsense"], "--only"),
    (["report", "--out", "report-out", "--workers", "0"], "--workers"),
    # sweep and sweep-status
    (["sweep", "missing.toml", "--out", "sw"], "missing.toml"),
    (["sweep", "notes.txt", "--out", "sw"], "notes.txt"),
    (["sweep", "small.toml", "--out", "sw", "--workers", "0"], "--workers"),
    (["sweep", "small.toml", "--out", "rug.npz"], "rug.npz"),
    (["sweep", "small.toml", "--out", "sw", "--allow-task", "not a reference"], "--allow-task"),
    (["sweep-status", "nowhere"], "nowhere"),
    (["sweep-status", "rug.npz"], "rug.npz"),
    # global options
    (["--max-memory", "1X", "predict", "--ratio", "0.5", "--feature-prob", "0.1"], "--max-memory"),
    (["predict", "--ratio", "0.5", "--feature-prob", "0.1", "--max-memory", "-1G"], "--max-memory"),
    (["build", "persian-rug", *RUG, "--max-memory", "1K", "--out", "w.npz"], "--features"),
    (["no-such-command"], "invalid choice"),
]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A folder with a weight file, a random file, a text file, a folder and a small spec."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    model = ReluAutoencoder(
        W_in=rng.standard_normal((16, 64)), W_out=rng.standard_normal((64, 16)), b=np.zeros(64)
    )
    save(model, tmp_path / "rug.npz")
    (tmp_path / "random.npz").write_bytes(rng.bytes(3000))
    (tmp_path / "notes.txt").write_text("not a weight file\n")
    (tmp_path / "folder.csv").mkdir()
    (tmp_path / "folder.npz").mkdir()
    (tmp_path / "small.toml").write_text('task = "predict"\n[grid]\nratio = [0.5]\n')
    return tmp_path


def snapshot(folder: Path) -> dict[str, int]:
    """Every path under ``folder`` with its modification time."""
    return {str(path.relative_to(folder)): path.stat().st_mtime_ns for path in folder.rglob("*")}


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    try:
        status = main(argv)
    except SystemExit as exit_:  # argparse errors
        status = exit_.code
    err = capsys.readouterr().err
    return status, err.splitlines()


@pytest.mark.parametrize(("argv", "fragment"), CASES, ids=[" ".join(c[0])[:60] for c in CASES])
def test_refused_in_one_line_before_any_work(argv, fragment, workdir, capsys):
    before = snapshot(workdir)
    status, lines = run_cli(argv, capsys)
    assert status == 2, lines
    assert len(lines) == 1, lines
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in lines[0] and "allow_pickle" not in lines[0]
    assert snapshot(workdir) == before  # no file, folder or temporary left behind


def test_there_are_at_least_a_hundred_hostile_cases():
    assert len(CASES) >= 100


def test_broken_pipe_is_quiet(workdir, capsys, monkeypatch):
    """``toyforge predict ... | head -0``: the reader went away; no error, no traceback."""

    def closed(*args, **kwargs):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("builtins.print", closed)
    status = main(["predict", "--ratio", "0.5", "--feature-prob", "0.1"])
    assert status == 0
    assert capsys.readouterr().err == ""


def test_valid_commands_still_work_and_write_only_their_output(workdir, capsys):
    before = set(snapshot(workdir))
    assert main([*SCAN, "--out", "s.csv"]) == 0
    assert main(["build", "persian-rug", *RUG, "--out", "w.safetensors"]) == 0
    assert main(["--max-memory", "64M", "predict", "--ratio", "0.5", "--feature-prob", "0.1"]) == 0
    capsys.readouterr()
    assert set(snapshot(workdir)) - before == {"s.csv", "w.safetensors"}
    assert not [name for name in os.listdir(workdir) if ".tmp" in name]
