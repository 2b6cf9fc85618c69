"""Weight files: save/load round trips and every kind of bad file refused with a clear error."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

from toyforge.constructions.io import load, read_info, save
from toyforge.constructions.models import MLP, ModularAdditionMLP, ReluAutoencoder
from toyforge.core.errors import CorruptFile, IncompatibleWeights, InvalidParameter

SUFFIXES = (".npz", ".safetensors")


def models():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(3, 8))
    yield ReluAutoencoder(
        W_in=W.astype(np.float32),
        W_out=rng.normal(size=(8, 3)).astype(np.float32),
        b=np.zeros(8, np.float32),
    )
    yield ReluAutoencoder.tied_from(W, rng.normal(size=8))
    yield MLP(
        W1=rng.normal(size=(4, 5)),
        b1=np.zeros(4),
        W2=rng.normal(size=(2, 4)),
        b2=np.ones(2),
        activation="quadratic",
        output_relu=True,
        embedding=rng.normal(size=(5, 9)),
    )
    yield ModularAdditionMLP(
        W_out=rng.normal(size=(6, 5)),
        embedding=rng.normal(size=(5, 2)),
        projection=rng.normal(size=(2, 6)),
        activation="quadratic",
    )


def assert_same_model(loaded, model):
    assert type(loaded) is type(model)
    assert loaded.hyperparameters() == model.hyperparameters()
    original, restored = model.to_arrays(), loaded.to_arrays()
    assert sorted(original) == sorted(restored)
    for name, array in original.items():
        assert restored[name].dtype == array.dtype
        np.testing.assert_array_equal(restored[name], array)


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("model", list(models()), ids=lambda m: m.architecture)
def test_round_trip(tmp_path, suffix, model):
    path = save(model, tmp_path / f"weights{suffix}", metadata={"run": {"steps": 3}})
    assert_same_model(load(path), model)
    info = read_info(path)
    assert info.architecture == model.architecture and info.schema_version == 1
    assert info.metadata == {"run": {"steps": 3}}
    assert info.arrays == {name: a.shape for name, a in model.to_arrays().items()}
    assert [p.name for p in tmp_path.iterdir()] == [f"weights{suffix}"]  # no temp file left


def test_npz_layout_is_documented_one(tmp_path):
    model = next(models())
    path = save(model, tmp_path / "w.npz")
    with np.load(path, allow_pickle=False) as archive:
        assert sorted(archive.files) == ["W_in", "W_out", "b", "config"]
        config = json.loads(str(archive["config"][()]))
    assert config["architecture"] == "relu-autoencoder"
    assert config["hyperparameters"] == {"tied": False} and config["schema_version"] == 1


def test_save_refuses_bad_targets(tmp_path):
    model = next(models())
    with pytest.raises(InvalidParameter, match="npz"):
        save(model, tmp_path / "w.pt")
    with pytest.raises(InvalidParameter, match="metadata"):
        save(model, tmp_path / "w.npz", metadata={"x": object()})
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.npz")


def write_npz(path, **entries):
    np.savez(path, **entries)
    return path


def config_for(architecture="relu-autoencoder", **extra):
    return np.array(
        json.dumps(
            {"architecture": architecture, "schema_version": 1, "hyperparameters": {}, **extra}
        )
    )


GOOD = dict(W_in=np.ones((2, 4)), W_out=np.ones((4, 2)), b=np.zeros(4))


def bad_files(tmp_path):
    """(name, path, expected exception, fragment of the message)."""
    good = save(ReluAutoencoder(**GOOD), tmp_path / "good.npz")
    data = good.read_bytes()
    (tmp_path / "truncated.npz").write_bytes(data[: len(data) // 2])
    (tmp_path / "random.npz").write_bytes(np.random.default_rng(0).bytes(500))
    (tmp_path / "pickle.npz").write_bytes(b"\x80\x04\x95" + b"\x00" * 40)
    np.savez(
        tmp_path / "object.npz",
        config=config_for(),
        W_in=np.array([{"a": 1}], object),
        W_out=GOOD["W_out"],
        b=GOOD["b"],
    )
    with zipfile.ZipFile(tmp_path / "empty.npz", "w"):
        pass
    yield "truncated", tmp_path / "truncated.npz", CorruptFile, "truncated"
    yield "random bytes", tmp_path / "random.npz", CorruptFile, "not an .npz"
    yield "raw pickle", tmp_path / "pickle.npz", CorruptFile, "not an .npz"
    yield "pickled object array", tmp_path / "object.npz", CorruptFile, "pickle"
    yield "empty zip", tmp_path / "empty.npz", CorruptFile, "config"
    yield ("no config", write_npz(tmp_path / "noconfig.npz", **GOOD), CorruptFile, "config")
    yield (
        "config not JSON",
        write_npz(tmp_path / "notjson.npz", config=np.array("{oops"), **GOOD),
        CorruptFile,
        "JSON",
    )
    yield (
        "config a number",
        write_npz(tmp_path / "number.npz", config=np.array(3.0), **GOOD),
        CorruptFile,
        "JSON string",
    )
    yield (
        "config a list",
        write_npz(tmp_path / "list.npz", config=np.array("[1, 2]"), **GOOD),
        CorruptFile,
        "JSON object",
    )
    yield (
        "newer schema",
        write_npz(
            tmp_path / "newer.npz",
            config=np.array(json.dumps({"architecture": "relu-autoencoder", "schema_version": 99})),
            **GOOD,
        ),
        CorruptFile,
        "schema_version",
    )
    yield (
        "wrong architecture",
        write_npz(tmp_path / "arch.npz", config=config_for("gpt-5"), **GOOD),
        IncompatibleWeights,
        "unknown architecture",
    )
    yield (
        "wrong shapes",
        write_npz(
            tmp_path / "shape.npz",
            config=config_for(),
            W_in=np.ones((2, 4)),
            W_out=np.ones((5, 2)),
            b=np.zeros(4),
        ),
        IncompatibleWeights,
        "shape",
    )
    yield (
        "missing arrays",
        write_npz(tmp_path / "missing.npz", config=config_for(), W_in=np.ones((2, 4))),
        IncompatibleWeights,
        "W_out",
    )
    yield (
        "extra arrays",
        write_npz(tmp_path / "extra.npz", config=config_for(), extra=np.ones(2), **GOOD),
        IncompatibleWeights,
        "extra",
    )
    yield (
        "mlp arrays under autoencoder",
        write_npz(tmp_path / "mix.npz", config=config_for("mlp"), **GOOD),
        IncompatibleWeights,
        "mlp",
    )
    yield (
        "bad hyperparameter",
        write_npz(
            tmp_path / "hyper.npz",
            config=np.array(
                json.dumps(
                    {
                        "architecture": "relu-autoencoder",
                        "schema_version": 1,
                        "hyperparameters": {"colour": "red"},
                    }
                )
            ),
            **GOOD,
        ),
        IncompatibleWeights,
        "colour",
    )
    yield (
        "NaN weights",
        write_npz(
            tmp_path / "nan.npz",
            config=config_for(),
            W_in=np.full((2, 4), np.nan),
            W_out=GOOD["W_out"],
            b=GOOD["b"],
        ),
        IncompatibleWeights,
        "NaN",
    )


def test_every_bad_npz_is_refused_naming_file_and_problem(tmp_path):
    cases = list(bad_files(tmp_path))
    assert len(cases) >= 15
    for name, path, error, fragment in cases:
        with pytest.raises(error) as caught:
            load(path)
        message = str(caught.value)
        assert str(path) in message, name
        assert fragment.lower() in message.lower(), (name, message)


def test_safetensors_bad_files(tmp_path):
    import safetensors.numpy

    good = save(ReluAutoencoder(**GOOD), tmp_path / "good.safetensors")
    data = good.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[:-7])
    (tmp_path / "noise.safetensors").write_bytes(np.random.default_rng(1).bytes(300))
    safetensors.numpy.save_file(GOOD, str(tmp_path / "plain.safetensors"))
    safetensors.numpy.save_file(
        {"W_in": GOOD["W_in"]},
        str(tmp_path / "few.safetensors"),
        metadata={"config": str(config_for()[()])},
    )
    for name, error, fragment in [
        ("cut", CorruptFile, "damaged"),
        ("noise", CorruptFile, "damaged"),
        ("plain", CorruptFile, "config"),
        ("few", IncompatibleWeights, "W_out"),
    ]:
        path = tmp_path / f"{name}.safetensors"
        with pytest.raises(error, match=fragment) as caught:
            load(path)
        assert str(path) in str(caught.value)


def test_a_zip_member_damaged_inside_is_refused(tmp_path):
    """Flip bytes inside a compressed-free member: the CRC check must catch it."""
    path = save(ReluAutoencoder(**GOOD), tmp_path / "w.npz")
    data = bytearray(path.read_bytes())
    start = data.find(b"\x93NUMPY") + 200
    data[start : start + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))
    with pytest.raises((CorruptFile, IncompatibleWeights)) as caught:
        load(path)
    assert str(path) in str(caught.value)


def test_the_loader_never_unpickles(tmp_path, monkeypatch):
    """An npz whose member is a pickle stream is refused without calling pickle.loads."""
    import pickle  # noqa: TID251 - only to build the hostile file and to trap its use

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.npy", pickle.dumps({"evil": True}))
    path = tmp_path / "evil.npz"
    path.write_bytes(buffer.getvalue())

    def trap(*args, **kwargs):
        raise AssertionError("pickle.load was called")

    monkeypatch.setattr(pickle, "load", trap)
    monkeypatch.setattr(pickle, "loads", trap)
    with pytest.raises(CorruptFile):
        load(path)


def test_a_registered_architecture_from_elsewhere_loads(tmp_path):
    from toyforge.constructions.models import ARCHITECTURES, register_architecture

    @register_architecture
    @dataclass(frozen=True, kw_only=True, slots=True, eq=False)
    class Scalar:
        value: np.ndarray
        scale: float = 1.0
        architecture: ClassVar[str] = "test-scalar-architecture"

        def to_arrays(self):
            return {"value": self.value}

        def hyperparameters(self):
            return {"scale": self.scale}

        @classmethod
        def from_arrays(cls, arrays, hyperparameters=None):
            return cls(**arrays, **(hyperparameters or {}))

    try:
        path = save(Scalar(value=np.arange(3.0), scale=2.0), tmp_path / "s.npz")
        loaded = load(path)
        assert loaded.scale == 2.0 and np.array_equal(loaded.value, np.arange(3.0))
    finally:
        ARCHITECTURES.pop("test-scalar-architecture", None)
