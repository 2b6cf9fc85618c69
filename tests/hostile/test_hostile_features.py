"""Hostile input to ``toyforge features ...``: one stderr line, exit 2, nothing written."""

from __future__ import annotations

import numpy as np
import pytest

from toyforge.cli import main


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    try:
        status = main(argv)
    except SystemExit as exit_:  # argparse errors
        status = exit_.code
    err = capsys.readouterr().err
    return status, [line for line in err.splitlines() if line.strip()]


SAMPLE = ["features", "sample", "--features", "10", "--batch", "50"]
P = ["--feature-probs", "0.1"]

CASES = [
    (SAMPLE + ["--feature-probs", "1.5"], "--feature-probs"),
    (SAMPLE + ["--feature-probs", "0"], "--feature-probs"),
    (SAMPLE + ["--feature-probs", "-0.2"], "--feature-probs"),
    (SAMPLE + ["--feature-probs", "nan"], "--feature-probs"),
    (SAMPLE + ["--feature-probs", "zipf:1.2:0.4:0"], "--feature-probs"),
    (SAMPLE + ["--feature-probs", "zipf:1.2:2:0.1"], "--feature-probs"),
    (SAMPLE + ["--feature-probs", "zipf:0:0.4:0.1"], "--feature-probs"),
    (SAMPLE + ["--feature-probs", "linear:0.5:1.5"], "--feature-probs"),
    (SAMPLE + ["--feature-probs", "geometric:2"], "--feature-probs"),
    (SAMPLE + ["--feature-probs", "poisson:3"], "--feature-probs"),
    (SAMPLE + ["--feature-probs", "zipf:x:y"], "--feature-probs"),
    (SAMPLE + ["--feature-probs", "file:/nonexistent/p.npy"], "--feature-probs"),
    (SAMPLE + ["--feature-probs", "file:p.txt"], "--feature-probs"),
    (SAMPLE + P + ["--importance", "-1"], "--importance"),
    (SAMPLE + P + ["--importance", "geometric:-0.5"], "--importance"),
    (SAMPLE + P + ["--importance", "linear:1:-1"], "--importance"),
    (SAMPLE + P + ["--importance", "inf"], "--importance"),
    (SAMPLE + P + ["--magnitudes", "gauss"], "--magnitudes"),
    (SAMPLE + P + ["--magnitudes", "exponential:-1"], "--magnitudes"),
    (SAMPLE + ["--feature-probs", "0.9", "--pairs", "0:1:-1"], "--pairs"),
    (SAMPLE + ["--feature-probs", "linear:0.1:0.5", "--pairs", "0:9:1"], "--pairs"),
    (SAMPLE + P + ["--pairs", "0:1:1.5"], "--pairs"),
    (SAMPLE + P + ["--pairs", "0:0:0.5"], "--pairs"),
    (SAMPLE + P + ["--pairs", "0:12:0.5"], "--pairs"),
    (SAMPLE + P + ["--pairs", "a:b:c"], "--pairs"),
    (SAMPLE + ["--feature-probs", "0.6", "--exclusive", "0:1"], "--exclusive"),
    (SAMPLE + P + ["--exclusive", "0:1,1:2"], "--exclusive"),
    (SAMPLE + P + ["--exclusive", "0"], "--exclusive"),
    (SAMPLE + P + ["--exclusive", "0:99"], "--exclusive"),
    (SAMPLE + P + ["--pairs", "0:1:0.2", "--exclusive", "1:2"], "--exclusive"),
    (["features", "sample", "--features", "0", *P], "--features"),
    (["features", "sample", "--features", "10", "--batch", "0", *P], "--batch"),
    (["features", "sample", "--features", "10", "--seed", "-1", *P], "--seed"),
    (["features", "sample", "--features", "10", *P, "--out", "/nonexistent/x.npz"], "--out"),
    (["features", "sample", "--features", "10", *P, "--out", "x.txt"], "--out"),
    (["features", "classes", "--classes", "0.5:0.1", "--ratio", "0.1"], "--classes"),
    (["features", "classes", "--classes", "1:1.5", "--ratio", "0.1"], "--classes"),
    (["features", "classes", "--classes", "0.5:0.1:-1,0.5:0.2", "--ratio", "0.1"], "--classes"),
    (["features", "classes", "--classes", "1:0.1:x", "--ratio", "0.1"], "--classes"),
    (["features", "classes", "--classes", "1", "--ratio", "0.1"], "--classes"),
    (["features", "classes", "--classes", "1:0.1", "--ratio", "0"], "--ratio"),
    (["features", "classes", "--classes", "1:0.1", "--ratio", "nan"], "--ratio"),
    (
        ["features", "law", "--features", "64", "--feature-probs", "0.9", "--ratio", "0.1"],
        "--feature-probs",
    ),
    (
        ["features", "law", "--features", "64", "--feature-probs", "1.5", "--ratio", "0.1"],
        "--feature-probs",
    ),
    (
        ["features", "law", "--features", "1", "--feature-probs", "0.1", "--ratio", "0.1"],
        "--features",
    ),
    (
        [
            "features",
            "law",
            "--features",
            "64",
            "--feature-probs",
            "0.1",
            "--ratio",
            "0.1",
            "--bins",
            "1",
        ],
        "--bins",
    ),
    (
        [
            "features",
            "law",
            "--features",
            "64",
            "--feature-probs",
            "0.1",
            "--importance",
            "-2",
            "--ratio",
            "0.1",
        ],
        "--importance",
    ),
    (["features", "two", "--density", "0", "--relative-importance", "1"], "--density"),
    (["features", "two", "--density", "1.2", "--relative-importance", "1"], "--density"),
    (
        ["features", "two", "--density", "0.1", "--relative-importance", "-1"],
        "--relative-importance",
    ),
    (
        ["features", "two", "--density", "0.1", "--relative-importance", "inf"],
        "--relative-importance",
    ),
    (
        ["features", "two", "--density", "0.1", "--relative-importance", "1", "--figure", "x.txt"],
        "--figure",
    ),
    (["features", "tms", "--importance", "zipf:1:0.5", "--out", "OUT"], "--importance"),
    (["features", "tms", "--importance", "geometric:1.5", "--out", "OUT"], "--importance"),
    (["features", "tms", "--feature-probs", "0,0.1", "--out", "OUT"], "--feature-probs"),
    (["features", "tms", "--restarts", "0", "--out", "OUT"], "--restarts"),
    (["features", "tms", "--steps", "0", "--out", "OUT"], "--steps"),
    (["features", "width", "--feature-probs", "zipf:1:2:0.1", "--out", "OUT"], "--feature-probs"),
    (["features", "width", "--features", "64", "--widths", "8,128", "--out", "OUT"], "--widths"),
    (["features", "width", "--widths", "8", "--out", "OUT"], "--widths"),
    (["features", "width", "--widths", "0,8", "--out", "OUT"], "--widths"),
    (["features", "width", "--lr", "0", "--out", "OUT"], "--lr"),
    (["features", "width", "--init", "he", "--out", "OUT"], "--init"),
    (["features", "width", "--bins", "1", "--out", "OUT"], "--bins"),
    (
        ["features", "pairs", "--correlations", "-1", "--feature-prob", "0.05", "--out", "OUT"],
        "--correlations",
    ),
    (["features", "pairs", "--correlations", "1.5", "--out", "OUT"], "--correlations"),
    (["features", "pairs", "--correlations", "x", "--out", "OUT"], "--correlations"),
    (["features", "pairs", "--feature-prob", "0", "--out", "OUT"], "--feature-prob"),
    (["features", "pairs", "--restarts", "0", "--out", "OUT"], "--restarts"),
    (
        [
            "features",
            "law",
            "--features",
            "10000000000000",
            "--feature-probs",
            "0.1",
            "--ratio",
            "0.1",
        ],
        "--features",
    ),
    (
        [
            "features",
            "sample",
            "--features",
            "2000000000",
            "--feature-probs",
            "0.1",
            "--max-memory",
            "1M",
        ],
        "--features",
    ),
]


@pytest.mark.parametrize(("argv", "flag"), CASES)
def test_refused_in_one_line_before_any_work(argv, flag, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = [str(tmp_path / "out") if a == "OUT" else a for a in argv]
    status, lines = _run(argv, capsys)
    assert status == 2
    assert len(lines) == 1, lines
    assert flag in lines[0]
    assert not list(tmp_path.iterdir())


def test_pickled_probability_file_is_refused(tmp_path, capsys):
    path = tmp_path / "p.npy"
    np.save(path, np.array([{"a": 1}] * 10, dtype=object), allow_pickle=True)
    status, lines = _run([*SAMPLE, "--feature-probs", f"file:{path}"], capsys)
    assert status == 2 and len(lines) == 1 and "--feature-probs" in lines[0]


def test_probability_file_of_the_wrong_length_is_refused(tmp_path, capsys):
    path = tmp_path / "p.npy"
    np.save(path, np.full(7, 0.1))
    status, lines = _run([*SAMPLE, "--feature-probs", f"file:{path}"], capsys)
    assert status == 2 and len(lines) == 1 and "one per feature" in lines[0]


def test_a_good_file_law_samples(tmp_path, capsys):
    path = tmp_path / "p.npy"
    np.save(path, np.linspace(0.05, 0.5, 10))
    status = main([*SAMPLE, "--feature-probs", f"file:{path}", "--json"])
    assert status == 0
    assert '"samples": 50' in capsys.readouterr().out
