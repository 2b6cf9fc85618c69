"""``toyforge build|train|figure`` for modular addition, through ``toyforge.cli.main``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from toyforge.cli import main


def _json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out)


def test_build_default_is_exact(tmp_path, capsys):
    out = tmp_path / "m.npz"
    assert main(["build", "modular-addition", "--modulus", "67", "--out", str(out), "--json"]) == 0
    info = _json(capsys)
    assert info["accuracy"] == 1.0 and info["margin"] > 0
    assert info["n_hidden"] == 5 * len(info["frequencies"])
    from toyforge.constructions.io import load
    from toyforge.constructions.modular_addition import exactness

    model = load(out)
    assert model.activation == "relu" and exactness(model).margin == pytest.approx(
        info["margin"], rel=1e-9
    )


def test_build_factored_quadratic_and_untied(tmp_path, capsys):
    out = tmp_path / "q.npz"
    assert (
        main(
            [
                "build",
                "modular-addition",
                "--modulus",
                "31",
                "--activation",
                "quadratic",
                "--frequencies",
                "1,5",
                "--neurons-per-frequency",
                "3",
                "--factored",
                "--out",
                str(out),
                "--json",
            ]
        )
        == 0
    )
    info = _json(capsys)
    assert info["factored"] and info["n_hidden"] == 6 and info["accuracy"] == 1.0
    assert (
        main(
            [
                "build",
                "modular-addition",
                "--modulus",
                "31",
                "--activation",
                "quadratic",
                "--untied",
                "--out",
                str(out),
                "--json",
            ]
        )
        == 0
    )
    info = _json(capsys)
    assert info["untied"] and info["n_hidden"] == 6 and info["accuracy"] == 1.0


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--modulus", "65"], "prime"),
        (
            [
                "--modulus",
                "67",
                "--activation",
                "quadratic",
                "--neurons-per-frequency",
                "4",
                "--frequencies",
                "1",
            ],
            "4φ",
        ),
        (["--modulus", "67", "--neurons-per-frequency", "6", "--frequencies", "1"], "even N"),
        (["--modulus", "127", "--neurons-per-frequency", "5", "--frequencies", "1"], "74.80%"),
    ],
)
def test_build_refusals_exit_2(tmp_path, capsys, argv, message):
    status = main(["build", "modular-addition", *argv, "--out", str(tmp_path / "x.npz")])
    assert status == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()


def test_train_writes_model_history_and_figures(tmp_path, capsys):
    out = tmp_path / "run.npz"
    assert (
        main(
            [
                "train",
                "modular-addition",
                "--modulus",
                "23",
                "--embed",
                "32",
                "--hidden",
                "8",
                "--steps",
                "200",
                "--log-every",
                "50",
                "--out",
                str(out),
                "--json",
                "--no-progress",
            ]
        )
        == 0
    )
    info = _json(capsys)
    for key in (
        "train_accuracy",
        "test_accuracy",
        "memorize_step",
        "grok_step",
        "key_frequencies",
        "fourier_gini",
        "steps_per_second",
    ):
        assert key in info
    assert info["steps_run"] == 200
    history = np.load(tmp_path / "run.history.npz")
    np.testing.assert_array_equal(history["step"], [0, 50, 100, 150, 200])
    for name in ("grokking", "fourier-spectrum", "neuron-activations", "modular-weights"):
        image = tmp_path / f"{name}.png"
        source = (
            ["--history", str(tmp_path / "run.history.npz")]
            if name == "grokking"
            else ["--model", str(out)]
        )
        assert main(["figure", name, *source, "--out", str(image)]) == 0
        assert image.read_bytes()[:4] == b"\x89PNG"


def test_recipes_set_the_learning_rate(tmp_path, capsys):
    base = ["train", "modular-addition", "--modulus", "7", "--embed", "4", "--hidden", "3",
            "--steps", "2", "--no-progress", "--json"]  # fmt: skip
    for extra, lr in (([], 3e-3), (["--recipe", "pair"], 1e-3), (["--lr", "0.02"], 0.02)):
        out = tmp_path / f"m{len(extra)}.npz"
        assert main([*base, *extra, "--out", str(out)]) == 0
        assert _json(capsys)["lr"] == lr
