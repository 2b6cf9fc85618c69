"""``toyforge build|train sparse-parity`` end to end."""

from __future__ import annotations

import json

from toyforge.cli import main
from toyforge.constructions.io import load
from toyforge.constructions.sparse_parity import sparse_parity_data


def test_build_writes_an_exact_model(tmp_path, capsys):
    out = tmp_path / "parity.npz"
    assert main(["build", "sparse-parity", "--bits", "12", "--k", "4", "--out", str(out),
                 "--json"]) == 0  # fmt: skip
    info = json.loads(capsys.readouterr().out)
    assert info["proof_complete"] and info["accuracy"] == 1.0 and info["n_hidden"] == 4
    model = load(out)
    x, y = sparse_parity_data(500, 12, 4, seed=3)  # independent of the 2^k check
    assert ((model.forward(x)[:, 0] > 0) == (y == 1)).all()


def test_train_both_decays_writes_two_models(tmp_path, capsys):
    out = tmp_path / "run.npz"
    argv = ["train", "sparse-parity", "--train-size", "100", "--test-size", "100",
            "--hidden", "4", "--steps", "20", "--out", str(out), "--json"]  # fmt: skip
    assert main(argv) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["decay"] for row in rows] == ["l2", "l1"]
    assert [row["weight_decay"] for row in rows] == [0.1, 1e-3]
    assert (tmp_path / "run.l2.npz").exists() and (tmp_path / "run.l1.npz").exists()
