"""Sweep specs: a task name, a grid (the product of named axes) and fixed settings.

A spec is read from TOML or JSON (:func:`load_spec`) or built from a mapping
(:meth:`SweepSpec.from_dict`). It is data: it names a task but cannot make a sweep run code that
is neither built in, registered nor allowed by the caller (:mod:`.registry`). Its size is
counted before any axis is expanded, and refused above the memory budget
(``docs/safety.md#budgets``).
"""

from __future__ import annotations

import json
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from toyforge.core.budget import check_memory
from toyforge.core.errors import CorruptFile, InvalidParameter
from toyforge.core.validate import check_int
from toyforge.verify.sweep.hashing import TaskPoint, canonical_json, point_seed, task_hash
from toyforge.verify.sweep.registry import check_task_name

__all__ = [
    "EXECUTION_KEYS",
    "RESERVED_COLUMNS",
    "SPEC_KEYS",
    "Axis",
    "SweepSpec",
    "axis_length",
    "expand_axis",
    "load_spec",
]

SPEC_KEYS = ("name", "task", "grid", "fixed", "save_models", "batch_training")
EXECUTION_KEYS = ("batch_training",)
"""Spec keys that change how a sweep runs but not one number it stores: a folder's stored spec
may differ from a new one in them."""
RESERVED_COLUMNS = (
    "hash",
    "status",
    "seed",
    "elapsed_s",
    "cpu_s",
    "toyforge_version",
    "error",
    "model_file",
)
BYTES_PER_TASK = 4096
"""Memory estimate per grid point (its parameters, hash, record and table row)."""

MAX_SPEC_BYTES = 64 * 2**20
"""Spec files above this size are refused before they are read."""

_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SCALARS = (bool, int, float, str)
_SPACINGS = ("linspace", "logspace", "range")


def _check_value(name: str, value: Any) -> Any:
    """A parameter value: a JSON scalar or a (nested) list of them; numpy scalars unwrapped."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (list, tuple)):
        return [_check_value(name, item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidParameter(name, value, "a finite number")
    if not isinstance(value, _SCALARS):
        raise InvalidParameter(name, value, "a number, string, boolean or a list of them")
    return value


def _generated(values: np.ndarray) -> tuple[float, ...]:
    """Generated axis values rounded to 15 significant digits (stable hashes, clean tables)."""
    return tuple(float(f"{value:.15g}") for value in values)


def _range_bounds(name: str, args: Any) -> list[int]:
    if not isinstance(args, list) or len(args) not in (2, 3):
        raise InvalidParameter(f"grid.{name}.range", args, "[start, stop] or [start, stop, step]")
    bounds = [check_int(f"grid.{name}.range", value) for value in args]
    if len(bounds) == 3 and bounds[2] == 0:
        raise InvalidParameter(f"grid.{name}.range", args, "a step other than 0")
    return bounds


def _spaced_count(name: str, kind: str, args: Any) -> int:
    if not isinstance(args, list) or len(args) != 3:
        raise InvalidParameter(f"grid.{name}.{kind}", args, "[start, stop, count]")
    return check_int(f"grid.{name}.{kind} count", args[2], minimum=1)


def axis_length(name: str, raw: Any) -> int:
    """The number of values of one grid axis, counted without expanding it."""
    if isinstance(raw, Mapping):
        if len(raw) != 1 or next(iter(raw)) not in _SPACINGS:
            raise InvalidParameter(
                f"grid.{name}", dict(raw), "a list or one of {linspace|logspace|range = [...]}"
            )
        kind, args = next(iter(raw.items()))
        if kind == "range":
            return len(range(*_range_bounds(name, args)))
        return _spaced_count(name, kind, args)
    return len(raw) if isinstance(raw, (list, tuple)) else 1


def _spaced(name: str, kind: str, args: Any) -> tuple[Any, ...]:
    """Expand a ``{linspace/logspace = [start, stop, count]}`` or ``{range = [...]}`` axis."""
    if kind == "range":
        return tuple(range(*_range_bounds(name, args)))
    count = _spaced_count(name, kind, args)
    start, stop = (_check_value(f"grid.{name}.{kind}", value) for value in args[:2])
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (start, stop)):
        raise InvalidParameter(f"grid.{name}.{kind}", args, "numeric start and stop")
    if kind == "linspace":
        return _generated(np.linspace(start, stop, count))
    if start <= 0 or stop <= 0:
        raise InvalidParameter(f"grid.{name}.logspace", args, "positive start and stop")
    return _generated(np.geomspace(start, stop, count))


def check_grid_size(lengths: Mapping[str, int]) -> int:
    """The number of grid points of axes of these lengths; refused above the memory budget."""
    n_points = math.prod(lengths.values())
    check_memory(
        "grid",
        {name: f"{length} values" for name, length in lengths.items()},
        float(n_points) * BYTES_PER_TASK,
        what=f"its {n_points:.3g} tasks",
    )
    return n_points


def expand_axis(name: str, raw: Any) -> tuple[Any, ...]:
    """The values of one grid axis.

    ``raw`` is a list of values, a single value, or a one-key table: ``{linspace = [start, stop,
    count]}`` (numpy.linspace, endpoints included), ``{logspace = [start, stop, count]}``
    (geometric spacing from ``start`` to ``stop`` inclusive, numpy.geomspace — the endpoints are
    the values, not their logarithms) or ``{range = [start, stop, step]}`` (integers, Python's
    range: ``stop`` excluded). Generated floats are rounded to 15 significant digits.
    """
    if not isinstance(name, str) or not _NAME_PATTERN.match(name):
        raise InvalidParameter("grid axis", name, "a name of letters, digits and underscores")
    check_grid_size({name: axis_length(name, raw)})
    if isinstance(raw, Mapping):
        kind, args = next(iter(raw.items()))
        values = _spaced(name, kind, args)
    elif isinstance(raw, (list, tuple)):
        values = tuple(_check_value(f"grid.{name}", value) for value in raw)
    else:
        values = (_check_value(f"grid.{name}", raw),)
    if not values:
        raise InvalidParameter(f"grid.{name}", raw, "at least one value")
    keys = [canonical_json(value) for value in values]
    if len(set(keys)) != len(keys):
        raise InvalidParameter(f"grid.{name}", list(values), "distinct values")
    return values


@dataclass(frozen=True, kw_only=True, slots=True)
class Axis:
    """One named grid axis with its expanded values (in spec order)."""

    name: str
    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", expand_axis(self.name, list(self.values)))


def _check_fixed(fixed: Any) -> dict[str, Any]:
    if not isinstance(fixed, Mapping):
        raise InvalidParameter("fixed", fixed, "a table of settings")
    checked = {}
    for key, value in fixed.items():
        if not isinstance(key, str) or not _NAME_PATTERN.match(key):
            raise InvalidParameter("fixed", key, "names of letters, digits and underscores")
        checked[key] = _check_value(f"fixed.{key}", value)
    return checked


def _check_seeds(axes: tuple[Axis, ...], fixed: Mapping[str, Any]) -> None:
    """Seeds given in the spec are integers >= 0 (checked before any folder is made)."""
    if "seed" in fixed:
        check_int("fixed.seed", fixed["seed"], minimum=0)
    for axis in axes:
        if axis.name == "seed":
            for value in axis.values:
                check_int("grid.seed", value, minimum=0)


@dataclass(frozen=True, kw_only=True, slots=True)
class SweepSpec:
    """A declarative sweep: the task, the grid (product of ``axes``) and the fixed settings.

    Parameters
    ----------
    task : str
        A registered task name (see :func:`~toyforge.verify.sweep.registered_tasks`) or
        ``"package.module:function"`` (which runs only when the caller allows it).
    axes : tuple of Axis
        The grid; points are the Cartesian product in axis order (last axis fastest).
    fixed : mapping
        Settings shared by every point (JSON scalars or lists). An axis may not repeat a key.
    name : str
        Free label (shown by the CLI).
    save_models : bool
        Ask the workers to save the ``model`` a task returns as ``DIR/models/<hash>.npz``.
    batch_training : bool
        Let a task that trains models run the pending points of one shape together
        (``docs/sweeps.md#batched-training``); ``False``: one point per job. The stored rows
        are the same either way.
    """

    task: str
    axes: tuple[Axis, ...]
    fixed: Mapping[str, Any] = field(default_factory=dict)
    name: str = ""
    save_models: bool = False
    batch_training: bool = True

    def __post_init__(self) -> None:
        check_task_name(self.task)
        if not isinstance(self.name, str):
            raise InvalidParameter("name", self.name, "a string")
        for flag in ("save_models", "batch_training"):
            if not isinstance(getattr(self, flag), bool):
                raise InvalidParameter(flag, getattr(self, flag), "true or false")
        axes = tuple(self.axes)
        if not axes or not all(isinstance(axis, Axis) for axis in axes):
            raise InvalidParameter("grid", axes, "at least one axis")
        names = [axis.name for axis in axes]
        if len(set(names)) != len(names):
            raise InvalidParameter("grid", names, "distinct axis names")
        fixed = _check_fixed(self.fixed)
        reserved = set(RESERVED_COLUMNS) - {"seed"}
        clashes = sorted((set(names) & set(fixed)) | (set(names) & reserved))
        if clashes:
            raise InvalidParameter(
                "grid",
                clashes,
                f"axis names that are not fixed settings nor reserved columns {RESERVED_COLUMNS}",
            )
        check_grid_size({axis.name: len(axis.values) for axis in axes})
        _check_seeds(axes, fixed)
        object.__setattr__(self, "axes", axes)
        object.__setattr__(self, "fixed", fixed)

    @property
    def n_points(self) -> int:
        """Number of grid points (tasks)."""
        return math.prod(len(axis.values) for axis in self.axes)

    def to_dict(self) -> dict[str, Any]:
        """The canonical form: axes expanded to explicit lists (written to ``DIR/sweep.json``)."""
        return {
            "name": self.name,
            "task": self.task,
            "save_models": self.save_models,
            "batch_training": self.batch_training,
            "grid": {axis.name: list(axis.values) for axis in self.axes},
            "fixed": dict(self.fixed),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SweepSpec:
        """Build a spec from the parsed TOML/JSON mapping (see :func:`load_spec`); the grid's
        size is checked before any axis is expanded."""
        if not isinstance(data, Mapping):
            raise InvalidParameter("spec", type(data).__name__, "a table of settings")
        unknown = sorted(set(data) - set(SPEC_KEYS))
        if unknown:
            raise InvalidParameter("spec", unknown, f"keys among {list(SPEC_KEYS)}")
        if "task" not in data or "grid" not in data:
            raise InvalidParameter("spec", sorted(data), "a 'task' and a [grid] table")
        check_task_name(data["task"])
        grid = data["grid"]
        if not isinstance(grid, Mapping) or not grid:
            raise InvalidParameter("grid", grid, "a table of at least one axis")
        check_grid_size({str(name): axis_length(str(name), raw) for name, raw in grid.items()})
        axes = tuple(Axis(name=name, values=expand_axis(name, raw)) for name, raw in grid.items())
        return cls(
            task=data["task"],
            axes=axes,
            fixed=data.get("fixed", {}),
            name=data.get("name", ""),
            save_models=data.get("save_models", False),
            batch_training=data.get("batch_training", True),
        )

    def points(self) -> list[TaskPoint]:
        """Every grid point as a :class:`TaskPoint`, in grid order."""
        names = [axis.name for axis in self.axes]
        grids = np.indices([len(axis.values) for axis in self.axes]).reshape(len(names), -1).T
        points = []
        for index, positions in enumerate(grids):
            axis_values = {
                axis.name: axis.values[position]
                for axis, position in zip(self.axes, positions, strict=True)
            }
            params = {**self.fixed, **axis_values}
            digest = task_hash(self.task, params)
            points.append(
                TaskPoint(
                    index=index,
                    hash=digest,
                    axis_values=axis_values,
                    params=params,
                    seed=point_seed(params, digest),
                )
            )
        return points


def load_spec(path: str | os.PathLike[str]) -> SweepSpec:
    """Read a sweep spec from a ``.toml`` or ``.json`` file.

    Format (TOML)::

        name = "small"
        task = "predict"
        [grid]
        ratio = { linspace = [0.05, 0.8, 4] }
        feature_prob = [0.01, 0.05, 0.1]
        [fixed]
        n_features = 1024
    """
    source = Path(path)
    return SweepSpec.from_dict(_parse_spec_text(read_spec_text(source), source))


def read_spec_text(path: Path, name: str = "SPEC") -> str:
    """The text of a spec file: a ``.toml``/``.json`` file of at most :data:`MAX_SPEC_BYTES`."""
    if path.suffix.lower() not in (".toml", ".json"):
        raise InvalidParameter(name, str(path), "a .toml or .json file")
    if not path.is_file():
        raise InvalidParameter(name, str(path), "an existing file")
    if path.stat().st_size > MAX_SPEC_BYTES:
        raise InvalidParameter(name, str(path), f"a spec file of at most {MAX_SPEC_BYTES} bytes")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise CorruptFile(f"{path}: not UTF-8 text ({error})") from error


def _parse_spec_text(text: str, source: Path) -> dict[str, Any]:
    suffix = source.suffix.lower()
    try:
        return tomllib.loads(text) if suffix == ".toml" else json.loads(text)
    except ValueError as error:  # TOMLDecodeError, JSONDecodeError, integer too long
        raise CorruptFile(f"{source}: not valid {suffix[1:].upper()} ({error})") from error
    except RecursionError as error:
        raise CorruptFile(f"{source}: nested too deeply to be a sweep spec") from error
