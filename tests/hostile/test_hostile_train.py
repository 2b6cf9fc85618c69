"""Hostile input to ``toyforge train relu-ae``: one stderr line, exit 2, nothing written."""

from __future__ import annotations

import pytest

from toyforge.cli import main


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    try:
        status = main(argv)
    except SystemExit as exit_:  # argparse errors
        status = exit_.code
    err = capsys.readouterr().err
    return status, [line for line in err.splitlines() if line.strip()]


TRAIN = ["train", "relu-ae", "--no-progress", "--features", "16", "--ratio", "0.25"]
TRAIN_P = [*TRAIN, "--feature-prob", "0.1"]

CASES = [
    (TRAIN_P + ["--max-steps", "0"], "--max-steps"),
    (TRAIN_P + ["--max-steps", "-5"], "--max-steps"),
    (TRAIN_P + ["--max-steps", "1e3"], "--max-steps"),
    (TRAIN_P + ["--steps", "0"], "--max-steps"),
    (TRAIN_P + ["--tol", "-0.1"], "--tol"),
    (TRAIN_P + ["--tol", "1"], "--tol"),
    (TRAIN_P + ["--tol", "nan"], "--tol"),
    (TRAIN_P + ["--tol", "inf"], "--tol"),
    (TRAIN_P + ["--window", "0"], "--window"),
    (TRAIN_P + ["--window", "-200"], "--window"),
    (TRAIN_P + ["--window", "2.5"], "--window"),
    (TRAIN_P + ["--patience", "0"], "--patience"),
    (TRAIN_P + ["--lr-decays", "-1"], "--lr-decays"),
    (TRAIN_P + ["--restarts", "0"], "--restarts"),
    (TRAIN_P + ["--lr", "0"], "--lr"),
    (TRAIN_P + ["--lr", "-1e-3"], "--lr"),
    (TRAIN_P + ["--batch", "0"], "--batch"),
    (TRAIN_P + ["--warmup", "-1"], "--warmup"),
    (TRAIN_P + ["--seeds", "1,1"], "--seeds"),
    (TRAIN_P + ["--seeds", "-3"], "--seeds"),
    (TRAIN_P + ["--seeds", "a,b"], "--seeds"),
    (TRAIN_P + ["--eval-samples", "1"], "--eval-samples"),
    (TRAIN_P + ["--features", "0"], "--features"),
    (TRAIN_P + ["--features", "100000000000"], "--features"),
    (TRAIN + ["--feature-prob", "0"], "--feature-prob"),
    (TRAIN + ["--feature-prob", "0.1,1.5"], "--feature-prob"),
    ([*TRAIN[:-1], "0.25,0", "--feature-prob", "0.1"], "--ratio"),
]


@pytest.mark.parametrize(("argv", "flag"), CASES)
def test_refused_in_one_line_before_any_work(argv, flag, tmp_path, capsys):
    out = tmp_path / "model.npz"
    status, lines = _run([*argv, "--out", str(out)], capsys)
    assert status == 2
    assert len(lines) == 1, lines
    assert flag in lines[0]
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("out", ["missing/model.npz", "model.txt", "."])
def test_bad_output_path_refused_before_training(out, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, lines = _run([*TRAIN_P, "--out", out], capsys)
    assert status == 2 and len(lines) == 1 and "--out" in lines[0]
    assert not list(tmp_path.iterdir())


def test_ctrl_c_writes_nothing_and_says_how_far(tmp_path, capsys, monkeypatch):
    """A KeyboardInterrupt at step 7 of the second model: exit 130, one line, no file."""
    from toyforge.verify.train import autoencoder

    original = autoencoder.TrainingRun.advance
    calls = {"n": 0}

    def interrupted(self):
        calls["n"] += 1
        if calls["n"] == 14:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(autoencoder.TrainingRun, "advance", interrupted)
    argv = [*TRAIN_P, "--seeds", "0,1", "--max-steps", "50", "--out", str(tmp_path / "m.npz")]
    status, lines = _run(argv, capsys)
    assert status == 130
    assert lines == [
        "toyforge train: interrupted at step 7/50, 6/50 of 2 model(s); nothing written"
    ]
    assert not list(tmp_path.iterdir())
