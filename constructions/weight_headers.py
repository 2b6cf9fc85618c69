"""Weight-file headers, read and checked before any array data is read.

A weight file is data from anywhere. Before toyforge reads an array it reads what the file says
about it — the ``.npy`` header of each member of an ``.npz`` (magic, dtype, shape), or the JSON
header of a ``.safetensors`` file (dtype, shape, byte offsets) — and checks that the dtype is
numeric (never an object array, which would unpickle), that the declared sizes agree with the
container's (a truncated or padded member, a zip member whose declared size disagrees with its
header), and that the total fits the memory budget (:mod:`toyforge.core.budget`). Data are then
read with the declared size as a hard bound: a zip member is inflated to its declared size at
most, and its CRC is checked (``docs/safety.md#what-loading-checks``).
"""

from __future__ import annotations

import json
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from toyforge.core.budget import check_memory
from toyforge.core.errors import CorruptFile

__all__ = [
    "ArrayHeader",
    "check_total_size",
    "npz_headers",
    "read_npz_array",
    "read_safetensors_array",
    "safetensors_header",
]

MAX_ENTRIES = 64
"""More arrays than any architecture has: a file with more entries is refused."""

MAX_SAFETENSORS_HEADER = 16 * 2**20
"""A safetensors JSON header above this size is refused before it is read."""

_NUMERIC_KINDS = "biuf"
_SAFETENSORS_DTYPES = {
    "BOOL": "|b1",
    "U8": "|u1",
    "I8": "|i1",
    "U16": "<u2",
    "I16": "<i2",
    "F16": "<f2",
    "U32": "<u4",
    "I32": "<i4",
    "F32": "<f4",
    "U64": "<u8",
    "I64": "<i8",
    "F64": "<f8",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class ArrayHeader:
    """What a file declares about one array: dtype, shape, and where its bytes are."""

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    fortran_order: bool = False
    offset: int = 0
    """Byte offset of the data (safetensors: from the start of the file)."""

    @property
    def n_bytes(self) -> int:
        """Bytes of the data, from the header (exact integers: no overflow)."""
        return math.prod(self.shape) * self.dtype.itemsize


def check_total_size(target: Path, headers: dict[str, ArrayHeader]) -> None:
    """Refuse a file whose declared arrays do not fit the memory budget."""
    total = sum(header.n_bytes for header in headers.values())
    check_memory("path", str(target), float(total), what="the arrays this file declares")


# --------------------------------------------------------------------------- npz


def _member_header(target: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> ArrayHeader:
    name = info.filename[: -len(".npy")]
    with archive.open(info) as member:
        try:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
            else:
                raise CorruptFile(f"{target}: entry {name!r} has .npy version {version}")
        except ValueError as error:
            raise CorruptFile(f"{target}: entry {name!r} is not a .npy array ({error})") from error
        header_bytes = member.tell()
    header = ArrayHeader(name=name, dtype=dtype, shape=tuple(shape), fortran_order=fortran)
    if dtype.hasobject:
        raise CorruptFile(
            f"{target}: entry {name!r} is a pickled (object) array; refused "
            "(weight files are loaded with allow_pickle=False)"
        )
    if dtype.kind not in _NUMERIC_KINDS + "U" or dtype.fields is not None:
        raise CorruptFile(f"{target}: entry {name!r} has dtype {dtype}, not a numeric array")
    if header_bytes + header.n_bytes != info.file_size:
        raise CorruptFile(
            f"{target}: entry {name!r} is truncated or damaged (its header declares "
            f"{header.n_bytes} data bytes, the archive {info.file_size - header_bytes})"
        )
    return header


def npz_headers(target: Path, archive: zipfile.ZipFile) -> dict[str, ArrayHeader]:
    """The header of every member of an open ``.npz``, checked; no array data is read."""
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        raise CorruptFile(
            f"{target}: {len(infos)} entries; a weight file has at most {MAX_ENTRIES}"
        )
    headers = {}
    for info in infos:
        if not info.filename.endswith(".npy") or info.is_dir():
            raise CorruptFile(f"{target}: entry {info.filename!r} is not a .npy array")
        if info.flag_bits & 0x1:
            raise CorruptFile(f"{target}: entry {info.filename!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise CorruptFile(f"{target}: entry {info.filename!r} uses an unsupported compression")
        header = _member_header(target, archive, info)
        headers[header.name] = header
    return headers


def read_npz_array(archive: zipfile.ZipFile, header: ArrayHeader) -> np.ndarray:
    """The data of one checked member: inflated to its declared size at most, CRC checked."""
    with archive.open(f"{header.name}.npy") as member:
        return np.lib.format.read_array(member, allow_pickle=False)


# --------------------------------------------------------------------------- safetensors


def _tensor_header(target: Path, name: str, entry: Any, data_start: int) -> ArrayHeader:
    damaged = f"{target}: truncated or damaged .safetensors (tensor {name!r}"
    if not isinstance(entry, dict) or entry.get("dtype") not in _SAFETENSORS_DTYPES:
        raise CorruptFile(f"{damaged}: no supported dtype)")
    shape, offsets = entry.get("shape"), entry.get("data_offsets")
    if not isinstance(shape, list) or not all(
        isinstance(size, int) and not isinstance(size, bool) and size >= 0 for size in shape
    ):
        raise CorruptFile(f"{damaged}: shape {shape!r})")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(value, int) and not isinstance(value, bool) for value in offsets)
        or not 0 <= offsets[0] <= offsets[1]
    ):
        raise CorruptFile(f"{damaged}: data_offsets {offsets!r})")
    header = ArrayHeader(
        name=name,
        dtype=np.dtype(_SAFETENSORS_DTYPES[entry["dtype"]]),
        shape=tuple(shape),
        offset=data_start + offsets[0],
    )
    if header.n_bytes != offsets[1] - offsets[0]:
        raise CorruptFile(f"{damaged}: {header.n_bytes} bytes for its shape, offsets differ)")
    return header


def _read_header_json(target: Path, handle: IO[bytes], size: int) -> tuple[dict[str, Any], int]:
    damaged = f"{target}: truncated or damaged .safetensors"
    prefix = handle.read(8)
    if len(prefix) < 8:
        raise CorruptFile(f"{damaged} (shorter than its 8-byte header length)")
    length = int.from_bytes(prefix, "little")
    if length > min(size - 8, MAX_SAFETENSORS_HEADER):
        raise CorruptFile(f"{damaged} (header length {length}, file size {size})")
    try:
        header = json.loads(handle.read(length).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise CorruptFile(f"{damaged} (header is not JSON: {error})") from error
    if not isinstance(header, dict):
        raise CorruptFile(f"{damaged} (header is not a JSON object)")
    return header, 8 + length


def safetensors_header(target: Path) -> tuple[dict[str, str], dict[str, ArrayHeader]]:
    """``(metadata, headers)`` of a ``.safetensors`` file, checked; no tensor data is read.

    The tensors must tile the data region exactly (a truncated or padded file is refused).
    """
    size = target.stat().st_size
    with open(target, "rb") as handle:
        header, data_start = _read_header_json(target, handle, size)
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
        isinstance(value, str) for value in metadata.values()
    ):
        raise CorruptFile(f"{target}: truncated or damaged .safetensors (metadata not strings)")
    if len(header) > MAX_ENTRIES:
        raise CorruptFile(
            f"{target}: {len(header)} tensors; a weight file has at most {MAX_ENTRIES}"
        )
    headers = {
        name: _tensor_header(target, name, entry, data_start) for name, entry in header.items()
    }
    end = max((h.offset + h.n_bytes for h in headers.values()), default=data_start)
    covered = sum(h.n_bytes for h in headers.values())
    if end != size or covered != size - data_start:
        raise CorruptFile(
            f"{target}: truncated or damaged .safetensors (the header describes "
            f"{covered} data bytes, the file holds {size - data_start})"
        )
    return metadata, headers


def read_safetensors_array(handle: IO[bytes], header: ArrayHeader) -> np.ndarray:
    """The data of one checked tensor (little-endian, C order), as a writable array."""
    buffer = bytearray(header.n_bytes)
    handle.seek(header.offset)
    if handle.readinto(buffer) != header.n_bytes:
        raise CorruptFile(f"tensor {header.name!r}: truncated data")
    return np.frombuffer(buffer, dtype=header.dtype).reshape(header.shape)
