"""Hostile laws for ``toyforge train relu-ae`` (``--feature-probs``, ``--importance``,
``--magnitudes``, ``--pairs``, ``--exclusive``): one stderr line naming the flag, exit 2,
nothing written, before any training."""

from __future__ import annotations

import numpy as np
import pytest

from toyforge.cli import main

TRAIN = ["train", "relu-ae", "--no-progress", "--features", "16", "--ratio", "0.25"]
LAW = [*TRAIN, "--feature-probs", "zipf:1.2:0.4:0.01"]

CASES = [
    (TRAIN + ["--feature-probs", "linear:0.5:1.5"], "--feature-probs"),
    (TRAIN + ["--feature-probs", "constant:0"], "--feature-probs"),
    (TRAIN + ["--feature-probs", "-0.1"], "--feature-probs"),
    (TRAIN + ["--feature-probs", "zipf:1.2:0.4:0.9"], "--feature-probs"),
    (TRAIN + ["--feature-probs", "zipf:abc"], "--feature-probs"),
    (TRAIN + ["--feature-probs", "powerlaw:1:2"], "--feature-probs"),
    (TRAIN + ["--feature-probs", ""], "--feature-probs"),
    (TRAIN + ["--feature-probs", "nan"], "--feature-probs"),
    (TRAIN + ["--feature-probs", "file:/nonexistent/probs.npy"], "--feature-probs"),
    (TRAIN + ["--feature-probs", "file:{tmp}/probs.txt"], "--feature-probs"),
    (TRAIN + ["--feature-probs", "file:{tmp}/bad_probs.npy"], "--feature-probs"),
    (TRAIN + ["--feature-probs", "file:{tmp}/short.npy"], "--feature-probs"),
    (LAW + ["--importance", "constant:-1"], "--importance"),
    (LAW + ["--importance", "linear:1:-1"], "--importance"),
    (LAW + ["--importance", "geometric:-0.5"], "--importance"),
    (LAW + ["--importance", "inf"], "--importance"),
    (LAW + ["--importance", "geometric"], "--importance"),
    (LAW + ["--importance", "file:{tmp}/neg_imp.npy"], "--importance"),
    (LAW + ["--importance", "file:/nonexistent/imp.npy"], "--importance"),
    ([*TRAIN, "--feature-prob", "0.1", "--importance", "constant:-2"], "--importance"),
    (LAW + ["--magnitudes", "exponential:-1"], "--magnitudes"),
    (LAW + ["--magnitudes", "gaussian"], "--magnitudes"),
    (LAW + ["--pairs", "0:1:2"], "--pairs"),
    (LAW + ["--pairs", "0:0:0.5"], "--pairs"),
    (LAW + ["--pairs", "0:99:0.5"], "--pairs"),
    (LAW + ["--pairs", "0:1:-0.9"], "--pairs"),
    (LAW + ["--exclusive", "0"], "--exclusive"),
    (LAW + ["--exclusive", "0:1,1:2"], "--exclusive"),
    ([*TRAIN, "--feature-probs", "constant:0.6", "--exclusive", "0:1"], "--exclusive"),
    ([*LAW, "--feature-prob", "0.1"], "--feature-prob"),
    ([*LAW, "--init", "kaiming"], "--init"),
    ([*TRAIN, "--feature-prob", "0.1", "--init", ""], "--init"),
]


def _files(tmp_path):
    np.save(tmp_path / "bad_probs.npy", np.array([0.5, 1.5] + [0.1] * 14))
    np.save(tmp_path / "neg_imp.npy", np.array([1.0, -1.0] + [1.0] * 14))
    np.save(tmp_path / "short.npy", np.full(3, 0.1))
    (tmp_path / "probs.txt").write_text("0.1\n")
    return sorted(tmp_path.iterdir())


@pytest.mark.parametrize(("argv", "flag"), CASES)
def test_bad_laws_refused_in_one_line_before_any_work(argv, flag, tmp_path, capsys):
    inputs = _files(tmp_path)
    out = tmp_path / "out" / "model.npz"
    (tmp_path / "out").mkdir()
    argv = [part.replace("{tmp}", str(tmp_path)) for part in argv]
    try:
        status = main([*argv, "--out", str(out)])
    except SystemExit as exit_:  # argparse: both of --feature-prob and --feature-probs
        status = exit_.code
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert status == 2
    assert len(lines) == 1, lines
    assert flag in lines[0]
    assert sorted(tmp_path.iterdir()) == sorted([*inputs, tmp_path / "out"])
    assert not list((tmp_path / "out").iterdir())
