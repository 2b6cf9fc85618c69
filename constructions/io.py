"""Weight files: ``save(model, path)`` and ``load(path)`` for every registered architecture.

Two formats, chosen by the file suffix (docs/evaluation.md#weight-files):

* ``.npz`` (default, no extra dependency): one array per model array, stored under the model's
  field name (``to_arrays()``), plus an entry ``config``: a 0-d unicode array holding one JSON
  string. Loaded with ``allow_pickle=False``, so object (pickled) arrays are refused.
* ``.safetensors`` (the ``safetensors`` extra, through ``safetensors.numpy``, which does not
  import torch): the same arrays; the JSON string is the header metadata entry ``config``.

The config JSON is ``{"format": "toyforge-weights", "schema_version": 1, "architecture": ...,
"hyperparameters": {...}, "metadata": {...}, "toyforge_version": ...}``. ``metadata`` is any
JSON-able mapping the caller adds (e.g. a training summary). Writes go to a temporary file
renamed into place (:mod:`toyforge.core.fileio`). Never pickle.

Architectures are looked up by name in :data:`toyforge.constructions.models.ARCHITECTURES`. A
class registered in any module of :mod:`toyforge.constructions` is found: if the name is not
registered yet, every module of the package is imported (modules that fail to import are
skipped) and the lookup is repeated.

Every failure to read a file raises :class:`~toyforge.core.errors.CorruptFile` (not a toyforge
weight file, truncated, pickled, config missing or not JSON) or
:class:`~toyforge.core.errors.IncompatibleWeights` (unknown architecture, missing, unexpected or
wrongly shaped arrays), with a message that names the file and the problem.
"""

from __future__ import annotations

import dataclasses
import errno
import importlib
import json
import logging
import os
import pkgutil
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from toyforge.constructions.models import ARCHITECTURES
from toyforge.constructions.weight_headers import (
    ArrayHeader,
    check_total_size,
    npz_headers,
    read_npz_array,
    read_safetensors_array,
    safetensors_header,
)
from toyforge.core.errors import CorruptFile, IncompatibleWeights, InvalidParameter, ToyforgeError
from toyforge.core.fileio import atomic_write, atomic_write_bytes
from toyforge.core.serde import to_jsonable
from toyforge.core.version import __version__

__all__ = ["FORMATS", "SCHEMA_VERSION", "WeightFileInfo", "load", "read_info", "save"]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
"""Version of the config JSON layout; files with a larger version are refused."""

FORMATS = (".npz", ".safetensors")
CONFIG_KEY = "config"
FORMAT_TAG = "toyforge-weights"
_NPZ_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
MAX_CONFIG_BYTES = 16 * 2**20
"""A config entry above this size is refused before it is read."""


@dataclass(frozen=True, kw_only=True, slots=True)
class WeightFileInfo:
    """What a weight file says about itself, read without building the model.

    Parameters
    ----------
    path : str
    architecture : str
    schema_version : int
    hyperparameters : dict
    metadata : dict
        The caller's extra metadata (e.g. a training summary); empty if none was saved.
    arrays : dict of str to tuple of int
        Array name -> shape.
    dtypes : dict of str to str
        Array name -> dtype name.
    """

    path: str
    architecture: str
    schema_version: int
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, tuple[int, ...]] = field(default_factory=dict)
    dtypes: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- save


def save(
    model: Any, path: str | os.PathLike[str], *, metadata: Mapping[str, Any] | None = None
) -> Path:
    """Write ``model`` to ``path`` (``.npz`` or ``.safetensors``, by suffix), atomically.

    Parameters
    ----------
    model : a registered architecture
        Any object with ``architecture``, ``to_arrays()`` and ``hyperparameters()`` (see
        :class:`toyforge.constructions.models.Model`).
    path : str or PathLike
        Target file; its folder must exist. The suffix picks the format.
    metadata : mapping, optional
        Extra JSON-able information stored in the config (e.g. a training summary).

    Returns
    -------
    Path
        The written path.
    """
    target = _as_path(path)
    suffix = _suffix(target)
    arrays = _model_arrays(model)
    config = _config_json(model, metadata)
    _check_folder(target)
    if suffix == ".npz":
        _save_npz(target, arrays, config)
    else:
        _save_safetensors(target, arrays, config)
    logger.info("saved %s (%s) to %s", model.architecture, suffix, target)
    return target


def _as_path(path: Any) -> Path:
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise InvalidParameter("path", path, "a file path (str or os.PathLike)")
    return Path(path)


def _check_folder(target: Path) -> None:
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(errno.ENOENT, "no such folder for the weight file", str(target))
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, "a folder, not a weight file path", str(target))


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise InvalidParameter("path", str(path), "a file name ending in .npz or .safetensors")
    return suffix


def _model_arrays(model: Any) -> dict[str, np.ndarray]:
    if not hasattr(model, "to_arrays") or not hasattr(model, "architecture"):
        raise InvalidParameter(
            "model",
            type(model).__name__,
            "a model with architecture and to_arrays() (constructions.models)",
        )
    arrays = {name: np.ascontiguousarray(value) for name, value in model.to_arrays().items()}
    for name, value in arrays.items():
        if name == CONFIG_KEY:
            raise InvalidParameter("model", name, f"array names other than {CONFIG_KEY!r}")
        if value.dtype.hasobject:
            raise InvalidParameter(name, value.dtype, "a numeric array (object arrays pickle)")
    return arrays


def _config_json(model: Any, metadata: Mapping[str, Any] | None) -> str:
    if metadata is not None and not isinstance(metadata, Mapping):
        raise InvalidParameter("metadata", type(metadata).__name__, "a mapping or None")
    config = {
        "format": FORMAT_TAG,
        "schema_version": SCHEMA_VERSION,
        "architecture": model.architecture,
        "hyperparameters": to_jsonable(model.hyperparameters()),
        "metadata": to_jsonable(dict(metadata or {})),
        "toyforge_version": __version__,
    }
    try:
        return json.dumps(config, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as error:
        raise InvalidParameter(
            "metadata", "not JSON-serialisable", f"JSON-able values ({error})"
        ) from error


def _save_npz(target: Path, arrays: dict[str, np.ndarray], config: str) -> None:
    # Through a file handle: np.savez would append ".npz" to a temporary file name.
    atomic_write(
        target, lambda handle: np.savez(handle, **{CONFIG_KEY: np.array(config)}, **arrays)
    )


def _save_safetensors(target: Path, arrays: dict[str, np.ndarray], config: str) -> None:
    # Serialised to bytes here and written into toyforge's own temporary file: the library's
    # save_file would leave a temporary file of its own when killed mid-write.
    data = _import_safetensors().save(arrays, metadata={CONFIG_KEY: config})
    atomic_write_bytes(target, data)


def _import_safetensors() -> Any:
    try:
        import safetensors.numpy as safetensors_numpy
    except ImportError as error:
        raise InvalidParameter(
            "path",
            ".safetensors",
            "a .npz path, or install the extra: pip install 'toyforge[safetensors]'",
        ) from error
    return safetensors_numpy


# --------------------------------------------------------------------------- load


def load(path: str | os.PathLike[str]) -> Any:
    """Read a weight file written by :func:`save` and rebuild the model.

    Parameters
    ----------
    path : str or PathLike
        A ``.npz`` or ``.safetensors`` file.

    Returns
    -------
    model
        An instance of the architecture named in the file's config.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    CorruptFile
        Not a toyforge weight file: truncated, random bytes, pickled (object) arrays, no or
        invalid ``config``, a newer schema.
    IncompatibleWeights
        Unknown architecture, or arrays missing, unexpected or of the wrong shape.
    """
    target = _as_path(path)
    config, headers, arrays = _read(target, with_data=True)
    cls = architecture_class(config["architecture"], target)
    return _build(cls, arrays, config, target)


def read_info(path: str | os.PathLike[str]) -> WeightFileInfo:
    """The config and array shapes of a weight file, from its headers (no array data read)."""
    target = _as_path(path)
    config, headers, _ = _read(target, with_data=False)
    return WeightFileInfo(
        path=str(target),
        architecture=config["architecture"],
        schema_version=config["schema_version"],
        hyperparameters=dict(config.get("hyperparameters") or {}),
        metadata=dict(config.get("metadata") or {}),
        arrays={name: header.shape for name, header in headers.items()},
        dtypes={name: header.dtype.name for name, header in headers.items()},
    )


_Read = tuple[dict[str, Any], dict[str, ArrayHeader], dict[str, np.ndarray]]


def _read(target: Path, *, with_data: bool) -> _Read:
    """Config, array headers and (``with_data``) arrays; every header is checked first."""
    suffix = _suffix(target)
    if not target.is_file():
        if target.exists():
            raise IsADirectoryError(errno.EISDIR, "not a weight file", str(target))
        raise FileNotFoundError(errno.ENOENT, "no such weight file", str(target))
    reader = _read_npz if suffix == ".npz" else _read_safetensors
    try:
        return reader(target, with_data)
    except ToyforgeError:
        raise
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError, ValueError) as error:
        raise CorruptFile(f"{target}: truncated or damaged {suffix} ({error})") from error
    except NotImplementedError as error:
        raise CorruptFile(f"{target}: unsupported {suffix} feature ({error})") from error


def _check_before_reading(
    target: Path, config: dict[str, Any], headers: dict[str, ArrayHeader], with_data: bool
) -> None:
    """Dtypes, array names against the architecture, and the memory budget."""
    text_arrays = sorted(name for name, h in headers.items() if h.dtype.kind == "U")
    if text_arrays:
        raise CorruptFile(f"{target}: entries {text_arrays} are not numeric arrays")
    if not with_data:
        return
    cls = architecture_class(config["architecture"], target)
    fields = getattr(cls, "_array_fields", None)
    unknown = sorted(set(headers) - set(fields)) if fields is not None else []
    if unknown:
        raise IncompatibleWeights(
            f"{target}: {config['architecture']} has no arrays named {unknown}; "
            f"expected {list(fields)}"
        )
    _raise_if_missing(cls, headers, config, target)
    check_total_size(target, headers)


def _read_npz(target: Path, with_data: bool) -> _Read:
    with open(target, "rb") as handle:
        head = handle.read(4)
    if head not in _NPZ_MAGIC:
        raise CorruptFile(f"{target}: not an .npz (zip) file (starts with {head!r})")
    with zipfile.ZipFile(target) as archive:
        headers = npz_headers(target, archive)
        if CONFIG_KEY not in headers:
            raise CorruptFile(
                f"{target}: no {CONFIG_KEY!r} entry; not a toyforge weight file "
                f"(entries: {sorted(headers)})"
            )
        config_header = headers.pop(CONFIG_KEY)
        if config_header.shape != () or config_header.dtype.kind != "U":
            raise CorruptFile(
                f"{target}: the {CONFIG_KEY!r} entry is not a JSON string "
                f"(dtype {config_header.dtype}, shape {config_header.shape})"
            )
        if config_header.n_bytes > MAX_CONFIG_BYTES:
            raise CorruptFile(
                f"{target}: the {CONFIG_KEY!r} entry is over {MAX_CONFIG_BYTES} bytes"
            )
        config = _parse_config(str(read_npz_array(archive, config_header)[()]), target)
        _check_before_reading(target, config, headers, with_data)
        if not with_data:
            return config, headers, {}
        arrays = {name: read_npz_array(archive, header) for name, header in headers.items()}
    return config, headers, arrays


def _read_safetensors(target: Path, with_data: bool) -> _Read:
    metadata, headers = safetensors_header(target)
    if CONFIG_KEY not in metadata:
        raise CorruptFile(
            f"{target}: no {CONFIG_KEY!r} entry in the safetensors header "
            "metadata; not a toyforge weight file"
        )
    config = _parse_config(metadata[CONFIG_KEY], target)
    _check_before_reading(target, config, headers, with_data)
    if not with_data:
        return config, headers, {}
    with open(target, "rb") as handle:
        arrays = {name: read_safetensors_array(handle, h) for name, h in headers.items()}
    return config, headers, arrays


def _parse_config(text: str, target: Path) -> dict[str, Any]:
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise CorruptFile(f"{target}: the config entry is not valid JSON ({error})") from error
    if not isinstance(config, dict):
        raise CorruptFile(
            f"{target}: the config must be a JSON object, got {type(config).__name__}"
        )
    architecture = config.get("architecture")
    if not isinstance(architecture, str):
        raise CorruptFile(f"{target}: the config has no architecture name")
    version = config.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise CorruptFile(f"{target}: the config has no integer schema_version")
    if version > SCHEMA_VERSION:
        raise CorruptFile(
            f"{target}: schema_version {version} is newer than this toyforge "
            f"reads ({SCHEMA_VERSION}); upgrade toyforge"
        )
    for key in ("hyperparameters", "metadata"):
        if not isinstance(config.get(key) or {}, dict):
            raise CorruptFile(f"{target}: the config's {key} must be a JSON object")
    return config


def architecture_class(name: str, target: Path | str = "<model>") -> type:
    """The class registered under architecture ``name`` (importing construction modules).

    Raises :class:`IncompatibleWeights` naming ``target`` and the known architectures.
    """
    if name not in ARCHITECTURES:
        import_construction_modules()
    if name not in ARCHITECTURES:
        raise IncompatibleWeights(
            f"{target}: unknown architecture {name!r}; known: {sorted(ARCHITECTURES)}"
        )
    return ARCHITECTURES[name]


def import_construction_modules() -> None:
    """Import every module of toyforge.constructions so their architectures register."""
    for info in pkgutil.iter_modules([str(Path(__file__).resolve().parent)]):
        if info.name == "io":
            continue
        importlib.import_module(f"toyforge.constructions.{info.name}")


def _build(cls: type, arrays: dict[str, np.ndarray], config: dict[str, Any], target: Path) -> Any:
    name = config["architecture"]
    _raise_if_missing(cls, arrays, config, target)
    try:
        return cls.from_arrays(arrays, config.get("hyperparameters") or {})  # type: ignore[attr-defined]
    except ToyforgeError as error:
        raise IncompatibleWeights(f"{target}: {error}") from error
    except (TypeError, ValueError) as error:
        raise IncompatibleWeights(
            f"{target}: arrays/hyperparameters do not fit {name} ({error})"
        ) from error


def _raise_if_missing(
    cls: type, arrays: Mapping[str, Any], config: Mapping[str, Any], target: Path
) -> None:
    missing = _missing_arrays(cls, arrays, config)
    if missing:
        raise IncompatibleWeights(
            f"{target}: {config['architecture']} needs arrays {missing}, which the file "
            f"lacks (it holds {sorted(arrays)})"
        )


def _missing_arrays(cls: type, arrays: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    """Required dataclass fields of ``cls`` that neither the arrays nor the config provide."""
    if not dataclasses.is_dataclass(cls):
        return []
    hyper = config.get("hyperparameters") or {}
    required = [
        f.name
        for f in dataclasses.fields(cls)
        if f.init and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    return [name for name in required if name not in arrays and name not in hyper]
