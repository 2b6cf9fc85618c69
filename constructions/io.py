"""Weight files: ``save(model, path)`` and ``load(path)`` for every registered architecture.

Two formats, chosen by the file suffix (spec aesthetics_ecosystem.md §4.4):

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

from toyforge.core.errors import CorruptFile, IncompatibleWeights, InvalidParameter, ToyforgeError
from toyforge.core.fileio import atomic_path, atomic_write
from toyforge.core.serde import to_jsonable

__all__ = ["FORMATS", "SCHEMA_VERSION", "WeightFileInfo", "load", "read_info", "save"]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
"""Version of the config JSON layout; files with a larger version are refused."""

FORMATS = (".npz", ".safetensors")
CONFIG_KEY = "config"
FORMAT_TAG = "toyforge-weights"
_NPZ_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


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
    target = Path(path)
    suffix = _suffix(target)
    arrays = _model_arrays(model)
    config = _config_json(model, metadata)
    if suffix == ".npz":
        _save_npz(target, arrays, config)
    else:
        _save_safetensors(target, arrays, config)
    logger.info("saved %s (%s) to %s", model.architecture, suffix, target)
    return target


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
    from toyforge import __version__

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
    safetensors_numpy = _import_safetensors()
    with atomic_path(target, suffix=".safetensors") as temp:
        safetensors_numpy.save_file(arrays, str(temp), metadata={CONFIG_KEY: config})


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
    target = Path(path)
    config, arrays = _read(target)
    cls = architecture_class(config["architecture"], target)
    return _build(cls, arrays, config, target)


def read_info(path: str | os.PathLike[str]) -> WeightFileInfo:
    """The config and array shapes of a weight file, without building the model."""
    target = Path(path)
    config, arrays = _read(target)
    return WeightFileInfo(
        path=str(target),
        architecture=config["architecture"],
        schema_version=config["schema_version"],
        hyperparameters=dict(config.get("hyperparameters") or {}),
        metadata=dict(config.get("metadata") or {}),
        arrays={name: tuple(int(s) for s in value.shape) for name, value in arrays.items()},
        dtypes={name: value.dtype.name for name, value in arrays.items()},
    )


def _read(target: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    suffix = _suffix(target)
    if not target.is_file():
        raise FileNotFoundError(f"{target}: no such weight file")
    if suffix == ".npz":
        config_text, arrays = _read_npz(target)
    else:
        config_text, arrays = _read_safetensors(target)
    return _parse_config(config_text, target), arrays


def _read_npz(target: Path) -> tuple[str, dict[str, np.ndarray]]:
    with open(target, "rb") as handle:
        head = handle.read(4)
    if head not in _NPZ_MAGIC:
        raise CorruptFile(f"{target}: not an .npz (zip) file (starts with {head!r})")
    try:
        with open(target, "rb") as handle, np.load(handle, allow_pickle=False) as archive:
            entries = {name: archive[name] for name in archive.files}
    except ValueError as error:
        if "pickle" in str(error).lower() or "object" in str(error).lower():
            raise CorruptFile(
                f"{target}: contains a pickled (object) array; refused "
                "(weight files are loaded with allow_pickle=False)"
            ) from error
        raise CorruptFile(f"{target}: unreadable .npz ({error})") from error
    except (
        OSError,
        EOFError,
        zipfile.BadZipFile,
        zlib.error,
        KeyError,
        NotImplementedError,
    ) as error:
        raise CorruptFile(f"{target}: truncated or damaged .npz ({error})") from error
    not_arrays = sorted(
        name for name, value in entries.items() if not isinstance(value, np.ndarray)
    )
    if not_arrays:
        raise CorruptFile(f"{target}: entries {not_arrays} are not .npy arrays")
    if CONFIG_KEY not in entries:
        raise CorruptFile(
            f"{target}: no {CONFIG_KEY!r} entry; not a toyforge weight file "
            f"(entries: {sorted(entries)})"
        )
    config = entries.pop(CONFIG_KEY)
    if config.shape != () or config.dtype.kind != "U":
        raise CorruptFile(
            f"{target}: the {CONFIG_KEY!r} entry is not a JSON string "
            f"(dtype {config.dtype}, shape {config.shape})"
        )
    return str(config[()]), entries


def _read_safetensors(target: Path) -> tuple[str, dict[str, np.ndarray]]:
    _import_safetensors()
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(target), framework="np") as handle:
            header = handle.metadata() or {}
            arrays = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as error:
        raise CorruptFile(f"{target}: truncated or damaged .safetensors ({error})") from error
    if CONFIG_KEY not in header:
        raise CorruptFile(
            f"{target}: no {CONFIG_KEY!r} entry in the safetensors header "
            "metadata; not a toyforge weight file"
        )
    return header[CONFIG_KEY], arrays


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
    from toyforge.constructions.models import ARCHITECTURES

    if name not in ARCHITECTURES:
        import_construction_modules()
    if name not in ARCHITECTURES:
        raise IncompatibleWeights(
            f"{target}: unknown architecture {name!r}; known: {sorted(ARCHITECTURES)}"
        )
    return ARCHITECTURES[name]


def import_construction_modules() -> None:
    """Import every module of toyforge.constructions so their architectures register."""
    import toyforge.constructions

    for info in pkgutil.iter_modules(toyforge.constructions.__path__):
        if info.name == "io":
            continue
        importlib.import_module(f"toyforge.constructions.{info.name}")


def _build(cls: type, arrays: dict[str, np.ndarray], config: dict[str, Any], target: Path) -> Any:
    name = config["architecture"]
    missing = _missing_arrays(cls, arrays, config)
    if missing:
        raise IncompatibleWeights(
            f"{target}: {name} needs arrays {missing}, which the file "
            f"lacks (it holds {sorted(arrays)})"
        )
    try:
        return cls.from_arrays(arrays, config.get("hyperparameters") or {})  # type: ignore[attr-defined]
    except ToyforgeError as error:
        raise IncompatibleWeights(f"{target}: {error}") from error
    except (TypeError, ValueError) as error:
        raise IncompatibleWeights(
            f"{target}: arrays/hyperparameters do not fit {name} ({error})"
        ) from error


def _missing_arrays(
    cls: type, arrays: Mapping[str, np.ndarray], config: Mapping[str, Any]
) -> list[str]:
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
