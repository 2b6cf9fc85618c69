"""Hostile input to the grokking commands: one stderr line, exit 2, nothing written."""

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


TRAIN = ["train", "modular-addition", "--no-progress", "--steps", "10"]

CASES = [
    (TRAIN + ["--modulus", "65"], "--modulus"),
    (TRAIN + ["--modulus", "1"], "--modulus"),
    (TRAIN + ["--modulus", "-7"], "--modulus"),
    (TRAIN + ["--train-fraction", "0"], "--train-fraction"),
    (TRAIN + ["--train-fraction", "1"], "--train-fraction"),
    (TRAIN + ["--train-fraction", "1.5"], "--train-fraction"),
    (TRAIN + ["--train-fraction", "nan"], "--train-fraction"),
    (TRAIN + ["--hidden", "0"], "--hidden"),
    (TRAIN + ["--hidden", "10000000000000"], "--hidden"),
    (TRAIN + ["--embed", "-3"], "--embed"),
    (TRAIN + ["--steps", "0"], "--steps"),
    (TRAIN + ["--dtype", "float16"], "--dtype"),
    (TRAIN + ["--lr", "-1"], "--lr"),
    (TRAIN + ["--recipe", "fastest"], "--recipe"),
]

PHASE = ["grok-phase", "--no-progress", "--steps", "10"]

CASES += [
    (PHASE + ["--modulus", "33"], "--modulus"),
    (PHASE + ["--grid", "0"], "--grid"),
    (PHASE + ["--grid", "100000000"], "--grid"),
    (PHASE + ["--seeds", "-1"], "--seeds"),
    (PHASE + ["--train-fraction", "1"], "--train-fraction"),
    (PHASE + ["--hidden", "0"], "--hidden"),
    (PHASE + ["--threshold", "0"], "--threshold"),
    (PHASE + ["--axes", "beta-wd"], "--axes"),
]

PARITY = ["train", "sparse-parity", "--steps", "5"]
BUILD = ["build", "sparse-parity"]

CASES += [
    (PARITY + ["--k", "31"], "--k"),
    (PARITY + ["--bits", "0"], "--bits"),
    (PARITY + ["--hidden", "0"], "--hidden"),
    (PARITY + ["--hidden", "100000000000"], "--hidden"),
    (PARITY + ["--l1-decay", "-1"], "--l1-decay"),
    (PARITY + ["--lr", "0"], "--lr"),
    (PARITY + ["--decay", "l3"], "--decay"),
    (BUILD + ["--k", "0"], "--k"),
    (BUILD + ["--k", "25", "--bits", "30"], "--k"),
    (BUILD + ["--scale", "-2"], "--scale"),
]


@pytest.mark.parametrize(("argv", "flag"), CASES)
def test_refused_in_one_line_before_any_work(argv, flag, tmp_path, capsys):
    out = tmp_path / ("phase.json" if argv[0] == "grok-phase" else "model.npz")
    status, lines = _run([*argv, "--out", str(out)], capsys)
    assert status == 2
    assert len(lines) == 1, lines
    assert flag in lines[0]
    assert not out.exists() and not list(tmp_path.iterdir())
