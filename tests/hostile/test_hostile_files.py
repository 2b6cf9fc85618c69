"""Hostile files and API calls: crafted weight files and sweep specs through the CLI, wrong
types through the Python API. Every one is refused with toyforge's own error (one stderr line,
exit 2 on the command line), before any data is read, leaving nothing behind."""

from __future__ import annotations

import io
import json
import sys
import zipfile

import numpy as np
import pytest

from toyforge.cli import main
from toyforge.constructions.io import load, save
from toyforge.constructions.models import ReluAutoencoder
from toyforge.core.errors import InvalidParameter, ToyforgeError
from toyforge.verify.evaluate import SparseDataSpec, evaluate, evaluate_modular_addition

CONFIG = json.dumps({"architecture": "relu-autoencoder", "schema_version": 1})


def npy(array) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def npy_header_only(shape) -> bytes:
    buffer = io.BytesIO()
    header = {"descr": "<f8", "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()


def zip_of(members, compression=zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(f"{name}.npy", data)
    return buffer.getvalue()


def safetensors_bytes(header: dict, data: bytes = b"") -> bytes:
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + data


def good_arrays(n_features=64, n_hidden=16):
    zeros = np.zeros
    return {
        "W_in": zeros((n_hidden, n_features)),
        "W_out": zeros((n_features, n_hidden)),
        "b": zeros(n_features),
    }


CRAFTED = {
    "huge-claim.npz": zip_of(
        {"config": npy(np.array(CONFIG)), "W_in": npy_header_only((2**40,)) + b"\0" * 8}
    ),
    "bomb.npz": zip_of(
        {
            "config": npy(np.array(CONFIG)),
            **{k: npy(v) for k, v in good_arrays(4096, 1024).items()},
        },
        zipfile.ZIP_DEFLATED,
    ),
    "object.npz": zip_of(
        {
            "config": npy(np.array(CONFIG)),
            "W_in": b"\x93NUMPY\x01\x00v\x00{'descr': '|O', "
            b"'fortran_order': False, 'shape': (1,), }" + b" " * 59 + b"\n" + b"\x80\x04N.",
        }
    ),
    "pickle.npz": b"\x80\x04\x95" + b"\0" * 64,
    "random.npz": np.random.default_rng(0).bytes(2000),
    "empty.npz": zip_of({}),
    "no-npy.npz": zip_of({"config": b"plain text"}),
    "many.npz": zip_of({f"a{i}": npy(np.ones(1)) for i in range(100)}),
    "huge-header.safetensors": (2**62).to_bytes(8, "little") + b"{}",
    "short.safetensors": b"\x01\x02",
    "claim.safetensors": safetensors_bytes(
        {"W_in": {"dtype": "F64", "shape": [2**40], "data_offsets": [0, 8 * 2**40]}}
    ),
    "not-json.safetensors": (5).to_bytes(8, "little") + b"{oops",
    "no-config.safetensors": safetensors_bytes({"__metadata__": {"x": "1"}}),
}


@pytest.fixture
def crafted(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name, data in CRAFTED.items():
        (tmp_path / name).write_bytes(data)
    return tmp_path


def refused(argv, capsys):
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code
    lines = capsys.readouterr().err.splitlines()
    assert status == 2, lines
    assert len(lines) == 1, lines
    assert "Traceback" not in lines[0] and "allow_pickle" not in lines[0]
    return lines[0]


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_crafted_weight_files_are_refused_by_evaluate(name, crafted, capsys):
    before = sorted(p.name for p in crafted.iterdir())
    argv = ["evaluate", name, "--feature-prob", "0.05", "--max-memory", "16M"]
    assert name in refused(argv, capsys) or "--max-memory" in refused(argv, capsys)
    assert sorted(p.name for p in crafted.iterdir()) == before


@pytest.mark.parametrize(
    "name", ["huge-claim.npz", "object.npz", "random.npz", "claim.safetensors"]
)
def test_crafted_files_are_refused_where_a_model_is_read(name, crafted, capsys):
    refused(["figure", "fourier-spectrum", "--model", name, "--out", "f.png"], capsys)
    refused(
        [
            "figure",
            "rug",
            "--features",
            "64",
            "--ratio",
            "0.25",
            "--trained",
            name,
            "--out",
            "r.png",
        ],
        capsys,
    )
    assert not (crafted / "f.png").exists() and not (crafted / "r.png").exists()


SPECS = {
    "run.toml": 'task = "subprocess:run"\n[grid]\ntouch = [1]\npwned = [1]\n',
    "popen.json": json.dumps({"task": "subprocess:Popen", "grid": {"args": ["touch pwned"]}}),
    "os.json": json.dumps({"task": "os:system", "grid": {"x": ["touch pwned"]}}),
    "huge.toml": 'task = "predict"\n[grid]\na = {range = [0, 1000000]}\nb = {range = [0, 10000]}\n',
    "linspace.toml": 'task = "predict"\n[grid]\na = {linspace = [0.0, 1.0, 1000000000000]}\n',
    "deep.json": "[" * 50_000 + "]" * 50_000,
    "longint.json": '{"task": "predict", "grid": {"x": [' + "9" * 5000 + "]}}",
    "seed.toml": 'task = "predict"\n[grid]\nseed = [-1]\n',
    "nan.json": '{"task": "predict", "grid": {"x": [NaN]}}',
    "unknown.toml": 'task = "no-such-task"\n[grid]\nx = [1]\n',
    "keys.toml": 'task = "predict"\nevil = 1\n[grid]\nx = [1]\n',
    "step0.toml": 'task = "predict"\n[grid]\nx = {range = [0, 5, 0]}\n',
    "spec.yaml": "task: predict\n",
    "binary.toml": "\udcff",
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_hostile_sweep_specs_run_nothing_and_create_nothing(name, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "warm.toml").write_text(SPECS["unknown.toml"])
    refused(["sweep", "warm.toml", "--out", "out"], capsys)  # imports the sweep machinery
    (tmp_path / "warm.toml").unlink()
    (tmp_path / name).write_bytes(SPECS[name].encode("utf-8", "surrogateescape"))
    modules = set(sys.modules)
    refused(["sweep", name, "--out", "out", "--workers", "1"], capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no out/, no pwned
    assert set(sys.modules) == modules  # nothing named by the spec was imported


def test_python_api_raises_toyforge_errors_with_the_user_s_names(tmp_path):
    model = ReluAutoencoder(**good_arrays(4, 2))
    spec = SparseDataSpec(feature_prob=0.1)
    with pytest.raises(InvalidParameter, match="data_spec"):
        evaluate(model, 0.1, 100, 0)
    with pytest.raises(InvalidParameter, match="model"):
        evaluate("model.npz", spec, 100, 0)
    with pytest.raises(InvalidParameter, match="n_samples"):
        evaluate(model, spec, "100", 0)
    with pytest.raises(InvalidParameter, match="ModularAdditionMLP"):
        evaluate_modular_addition(model)
    with pytest.raises(InvalidParameter, match="path"):
        load(3)
    with pytest.raises(InvalidParameter, match="path"):
        save(model, None)
    with pytest.raises(InvalidParameter, match="model"):
        save({"W_in": 1}, tmp_path / "w.npz")
    with pytest.raises(InvalidParameter, match="metadata"):
        save(model, tmp_path / "w.npz", metadata=[1, 2])
    target = tmp_path / "missing" / "w.npz"
    with pytest.raises(FileNotFoundError) as caught:
        save(model, target)
    assert caught.value.filename == str(target)
    with pytest.raises(FileNotFoundError) as caught:
        load(tmp_path / "absent.npz")
    assert caught.value.filename == str(tmp_path / "absent.npz")
    assert list(tmp_path.iterdir()) == []
    assert issubclass(InvalidParameter, ToyforgeError)


def test_the_rug_refuses_a_row_choice_that_cannot_fit():
    from toyforge.constructions.persian_rug import persian_rug
    from toyforge.core.budget import memory_limit_set_to

    with memory_limit_set_to(2**33), pytest.raises(InvalidParameter, match="40.0 GiB"):
        persian_rug(2**30, 0.25, 0.05)
    assert persian_rug(1024, 0.25, 0.05).n_hidden == 256


def test_a_file_too_large_for_the_budget_is_named_as_typed(crafted, capsys):
    argv = ["evaluate", "bomb.npz", "--feature-prob", "0.05", "--batch", "1"]
    line = refused([*argv, "--max-memory", "40M"], capsys)
    assert line.startswith("toyforge evaluate: error: FILE='bomb.npz' is invalid")
    assert "--path" not in line and "would need 64.0 MiB" in line
