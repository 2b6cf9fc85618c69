"""``toyforge evaluate`` and ``toyforge warmup`` through toyforge.cli.main."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from toyforge.cli import main
from toyforge.constructions.io import save
from toyforge.constructions.models import ModularAdditionMLP, ReluAutoencoder


@pytest.fixture
def autoencoder_file(tmp_path):
    rng = np.random.default_rng(0)
    model = ReluAutoencoder(
        W_in=rng.normal(size=(4, 20)), W_out=rng.normal(size=(20, 4)), b=np.full(20, -0.5)
    )
    return save(model, tmp_path / "ae.npz", metadata={"training": {"feature_prob": 0.1}})


def test_evaluate_json_reports_loss_and_stderr(autoencoder_file, capsys):
    assert (
        main(
            [
                "evaluate",
                str(autoencoder_file),
                "--feature-prob",
                "0.05",
                "--samples",
                "2000",
                "--seed",
                "3",
                "--json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["architecture"] == "relu-autoencoder"
    assert result["feature_prob"] == 0.05 and result["n_samples"] == 2000
    assert result["loss"] > 0 and 0 < result["stderr"] < result["loss"]
    from toyforge.constructions.io import load
    from toyforge.verify.evaluate import SparseDataSpec, evaluate

    estimate = evaluate(load(autoencoder_file), SparseDataSpec(feature_prob=0.05), 2000, 3)
    assert math.isclose(result["loss"], estimate.value, rel_tol=1e-12)


def test_evaluate_takes_the_feature_prob_from_the_file(autoencoder_file, capsys):
    assert main(["evaluate", str(autoencoder_file), "--samples", "500"]) == 0
    out = capsys.readouterr().out
    assert "loss" in out and "stderr" in out and "0.1" in out


def test_evaluate_modular_addition_exact(tmp_path, capsys):
    rng = np.random.default_rng(1)
    model = ModularAdditionMLP(W_in=rng.normal(size=(5, 6)), W_out=rng.normal(size=(6, 5)))
    path = save(model, tmp_path / "mod.safetensors")
    assert main(["evaluate", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"accuracy", "margin", "cross_entropy"} <= set(result)
    assert result["n_pairs"] == 25


def test_evaluate_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip at all")
    assert main(["evaluate", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.npz" in err[0]
    model = ReluAutoencoder(W_in=np.ones((1, 3)), W_out=np.ones((3, 1)), b=np.zeros(3))
    path = save(model, tmp_path / "noprob.npz")
    assert main(["evaluate", str(path)]) == 2
    assert "--feature-prob" in capsys.readouterr().err
    assert main(["evaluate", str(path), "--feature-prob", "1.5"]) == 2
    assert main(["evaluate", str(tmp_path / "absent.npz"), "--feature-prob", "0.1"]) == 2


def test_warmup_discovers_every_kernel_module():
    import pkgutil

    import toyforge.verify.kernels
    from toyforge.commands.warmup import kernel_modules

    on_disk = {info.name for info in pkgutil.iter_modules(toyforge.verify.kernels.__path__)}
    assert set(kernel_modules()) == on_disk
    assert {"autoencoder_eval", "sparse_sampling"} <= on_disk


def test_warmup_runs_each_module_and_reports_failures(monkeypatch, capsys):
    """Restricted to this area's modules (compiling every area's kernels takes a minute)."""
    import toyforge.commands.warmup as warmup

    monkeypatch.setattr(warmup, "kernel_modules", lambda: ["autoencoder_eval", "sparse_sampling"])
    assert main(["warmup", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["module"] for row in rows] == ["autoencoder_eval", "sparse_sampling"]
    for row in rows:
        assert row["status"] == "ok" and row["kernels"] >= 1 and row["wall_s"] >= 0
    assert "sparse_hidden[float32]" in rows[0]["compiled"]
    monkeypatch.setattr(warmup, "kernel_modules", lambda: ["sparse_sampling", "not_a_module"])
    assert main(["warmup"]) == 1
    out = capsys.readouterr().out
    assert "failed" in out and "sparse_sampling" in out
