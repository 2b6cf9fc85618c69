"""Weight files are judged from their headers before any array data is read."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from toyforge.constructions import io as weights_io
from toyforge.constructions import weight_headers
from toyforge.constructions.io import load, read_info, save
from toyforge.constructions.models import ReluAutoencoder
from toyforge.core.budget import memory_limit_set_to
from toyforge.core.errors import CorruptFile, IncompatibleWeights, InvalidParameter

GOOD = dict(W_in=np.ones((2, 4)), W_out=np.ones((4, 2)), b=np.zeros(4))
CONFIG = json.dumps({"architecture": "relu-autoencoder", "schema_version": 1})


def npy_bytes(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def npy_header(shape, dtype="<f8"):
    buffer = io.BytesIO()
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()


def write_zip(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(f"{name}.npy", data)
    return path


def with_config(**arrays):
    return {"config": npy_bytes(np.array(CONFIG)), **arrays}


@pytest.fixture
def no_data_reads(monkeypatch):
    """Fail if any array other than the config is read."""
    original = weight_headers.read_npz_array

    def trapped(archive, header):
        assert header.name == "config", f"array {header.name} was read"
        return original(archive, header)

    monkeypatch.setattr(weights_io, "read_npz_array", trapped)
    monkeypatch.setattr(weights_io, "read_safetensors_array", lambda *a: pytest.fail("read"))


def test_a_header_claiming_2_to_the_40_elements_is_refused_unread(tmp_path, no_data_reads):
    members = with_config(W_in=npy_header((2**40,)) + b"\x00" * 64)
    members.update(W_out=npy_bytes(GOOD["W_out"]), b=npy_bytes(GOOD["b"]))
    path = write_zip(tmp_path / "huge.npz", members)
    with pytest.raises(CorruptFile, match="declares 8796093022208 data bytes"):
        load(path)


def test_a_zip_bomb_is_refused_before_it_is_inflated(tmp_path, no_data_reads):
    zeros = np.zeros(2**23)  # 64 MiB that deflate to about 64 KiB
    members = with_config(W_in=npy_bytes(zeros.reshape(2**11, 2**12)))
    members.update(W_out=npy_bytes(np.zeros((2**12, 2**11))), b=npy_bytes(np.zeros(2**12)))
    path = write_zip(tmp_path / "bomb.npz", members, zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 2**20
    with memory_limit_set_to(2**24), pytest.raises(InvalidParameter, match=r"128\.0 MiB"):
        load(path)


def test_extra_and_text_arrays_are_refused_unread(tmp_path, no_data_reads):
    extra = write_zip(
        tmp_path / "extra.npz",
        with_config(**{k: npy_bytes(v) for k, v in GOOD.items()}, junk=npy_bytes(np.ones(3))),
    )
    with pytest.raises(IncompatibleWeights, match="junk"):
        load(extra)
    text = write_zip(tmp_path / "text.npz", with_config(W_in=npy_bytes(np.array(["a", "b"]))))
    with pytest.raises(CorruptFile, match="not numeric"):
        load(text)


def test_too_many_entries_and_non_npy_members(tmp_path):
    many = write_zip(tmp_path / "many.npz", {f"a{i}": npy_bytes(np.ones(1)) for i in range(65)})
    with pytest.raises(CorruptFile, match="65 entries"):
        load(many)
    with zipfile.ZipFile(tmp_path / "odd.npz", "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(CorruptFile, match="readme.txt"):
        load(tmp_path / "odd.npz")


def safetensors_file(path, header, data=b""):
    text = json.dumps(header).encode()
    path.write_bytes(len(text).to_bytes(8, "little") + text + data)
    return path


@pytest.mark.parametrize(
    ("header", "data", "fragment"),
    [
        ({"W": {"dtype": "F64", "shape": [2**40], "data_offsets": [0, 8 * 2**40]}}, b"", "holds 0"),
        ({"W": {"dtype": "BF16", "shape": [1], "data_offsets": [0, 2]}}, b"\0\0", "dtype"),
        ({"W": {"dtype": "F64", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8, "offsets"),
        ({"W": {"dtype": "F64", "shape": [-1], "data_offsets": [0, 8]}}, b"\0" * 8, "shape"),
        ({"__metadata__": {"config": 3}}, b"", "metadata"),
        ({"W": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 16, "holds 16"),
    ],
)
def test_crafted_safetensors_headers_are_refused(tmp_path, header, data, fragment):
    path = safetensors_file(tmp_path / "w.safetensors", header, data)
    with pytest.raises(CorruptFile, match=fragment) as caught:
        load(path)
    assert str(path) in str(caught.value) and "damaged" in str(caught.value)


def test_a_safetensors_header_length_beyond_the_file_is_refused(tmp_path):
    path = tmp_path / "w.safetensors"
    path.write_bytes((2**60).to_bytes(8, "little") + b"{}")
    with pytest.raises(CorruptFile, match="header length"):
        load(path)


def test_safetensors_round_trip_and_budget(tmp_path, no_data_reads):
    pytest.importorskip("safetensors")
    model = ReluAutoencoder(**GOOD)
    path = save(model, tmp_path / "w.safetensors")
    assert [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]
    info = read_info(path)
    assert info.arrays == {"W_in": (2, 4), "W_out": (4, 2), "b": (4,)}
    with memory_limit_set_to(100), pytest.raises(InvalidParameter, match="160 B"):
        load(path)


def test_read_info_reads_no_data(tmp_path, no_data_reads):
    path = save(ReluAutoencoder(**GOOD), tmp_path / "w.npz")
    info = read_info(path)
    assert info.arrays == {"W_in": (2, 4), "W_out": (4, 2), "b": (4,)}
    assert info.dtypes == {"W_in": "float64", "W_out": "float64", "b": "float64"}


def test_loaded_arrays_equal_and_writable(tmp_path):
    model = ReluAutoencoder(**GOOD)
    for suffix in (".npz", ".safetensors"):
        loaded = load(save(model, tmp_path / f"w{suffix}"))
        assert np.array_equal(loaded.W_in, GOOD["W_in"]) and np.array_equal(loaded.b, GOOD["b"])


@pytest.mark.parametrize("path", [123, None, b"w.npz", ""])
def test_paths_of_the_wrong_type_are_invalid_parameters(path):
    model = ReluAutoencoder(**GOOD)
    with pytest.raises(InvalidParameter, match="path"):
        save(model, path)
    with pytest.raises(InvalidParameter, match="path"):
        load(path)


def test_missing_folder_and_folders_name_the_user_path(tmp_path):
    model = ReluAutoencoder(**GOOD)
    target = tmp_path / "nowhere" / "w.npz"
    with pytest.raises(FileNotFoundError) as caught:
        save(model, target)
    assert caught.value.filename == str(target)
    (tmp_path / "dir.npz").mkdir()
    with pytest.raises(IsADirectoryError) as caught:
        load(tmp_path / "dir.npz")
    assert caught.value.filename == str(tmp_path / "dir.npz")
    with pytest.raises(IsADirectoryError):
        save(model, tmp_path / "dir.npz")
    with pytest.raises(InvalidParameter, match="model"):
        save("not a model", tmp_path / "w.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.npz"]


def test_non_finite_metadata_is_stored_as_standard_json(tmp_path):
    path = save(ReluAutoencoder(**GOOD), tmp_path / "w.npz", metadata={"x": float("nan")})
    with zipfile.ZipFile(path) as archive, archive.open("config.npy") as member:
        text = str(np.lib.format.read_array(member)[()])
    assert json.loads(text)["metadata"] == {"x": None}
    assert "NaN" not in text
