"""Declarative, resumable parameter sweeps over a grid of tasks (issue 7, "Sweeps").

A sweep is a spec (TOML or JSON): a *task* name, a *grid* (the product of named axes) and
*fixed* settings. Every grid point becomes one task with a stable content hash: the SHA-256 of
the canonical JSON of ``{"params": ..., "schema": SCHEMA_VERSION, "task": ...}`` (sorted keys,
no spaces), never Python's ``hash()``. The Persian-rug paper's grid (spec persian_rug.md §5) is
20 × 20 (ratio, feature_prob) points at three sizes: 1200 tasks per seed.

Storage in the output folder ``DIR``:

* ``DIR/sweep.json`` — the canonical spec (axes expanded to lists); a different spec in the
  same folder is refused. ``DIR/spec.toml`` (or ``.json``) — a verbatim copy of the source.
* ``DIR/tasks/<hash>.json`` — one record per finished task (done or failed), written atomically
  by the driver as each result arrives. The records are the source of truth: a rerun skips every
  hash that has a record, so a killed sweep loses only the tasks that were running.
* ``DIR/results.parquet`` (pyarrow installed) or ``DIR/results.csv`` — the tidy table, one row
  per finished task in grid order, rebuilt from the records.
* ``DIR/models/<hash>.npz`` — model files, when the spec sets ``save_models = true`` and the
  task returns a ``model``. Written by the worker (a shared filesystem is needed for remote
  Dask workers); records and tables travel back to the driver and need none.

Tasks are functions ``task(params: dict, seed: int) -> dict`` found through a registry
(:func:`register_task`), or named as ``"package.module:function"`` in the spec and allowed by
the caller by name (``--allow-task``; ``allow_tasks=``): a spec file alone never makes a sweep
import or run other code. Only
plain dicts travel to workers, so the in-process, process-pool and Dask executors give identical
results: each task is seeded from its grid point (the ``seed`` parameter when the grid or the
fixed settings have one, else the first 32 bits of the content hash).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import csv
import hashlib
import importlib
import json
import logging
import math
import multiprocessing
import numbers
import os
import re
import socket
import time
import tomllib
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from toyforge.core.errors import CorruptFile, InvalidParameter, ToyforgeError
from toyforge.core.fileio import atomic_path
from toyforge.core.serde import to_jsonable
from toyforge.core.validate import check_choice, check_int

__all__ = [
    "SCHEMA_VERSION",
    "Axis",
    "DaskExecutor",
    "InProcessExecutor",
    "ProcessPoolExecutor",
    "SweepPlan",
    "SweepSpec",
    "SweepStatus",
    "SweepSummary",
    "TaskInfo",
    "TaskPoint",
    "check_task_name",
    "choose_executor",
    "load_spec",
    "plan_sweep",
    "read_records",
    "read_table",
    "register_task",
    "registered_tasks",
    "resolve_task",
    "run_job",
    "run_sweep",
    "sweep_status",
    "table_rows",
    "task_hash",
    "write_table",
]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
"""Version of the task-hash and record format; bump it when a task's meaning changes."""

HASH_LENGTH = 16
"""Hex digits kept of the SHA-256 (64 bits: collisions are negligible below ~10^8 tasks)."""

TINY_SWEEP = 4
"""Sweeps with fewer pending tasks than this run in-process by default."""

CHEAP_IN_PROCESS = 64
"""Sweeps of a cheap task (tens of milliseconds) with at most this many pending tasks run
in-process by default: a spawn pool's start-up (1–2 s) would cost more than it saves."""

SPEC_KEYS = ("name", "task", "grid", "fixed", "save_models")
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
TABLE_FORMATS = ("auto", "parquet", "csv")
_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SCALARS = (bool, int, float, str)


# --------------------------------------------------------------------------------------------
# Task registry
# --------------------------------------------------------------------------------------------


_DOTTED = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_REFERENCE = re.compile(rf"^{_DOTTED}:{_DOTTED}$")
_REFERENCE_WORDS = "'package.module:function' (dotted Python names)"


@dataclass(frozen=True, kw_only=True, slots=True)
class TaskInfo:
    """A registered task.

    Parameters
    ----------
    name : str
        The name a spec uses (``"predict"``).
    reference : str
        ``"package.module:function"``; workers import the function from it, so only this string
        travels to them (the module must be importable on every worker).
    cheap : bool
        Tens of milliseconds per task: small sweeps of it run in-process by default (see
        :data:`~toyforge.verify.sweep.executors.CHEAP_IN_PROCESS`).
    description : str
        One line for ``toyforge sweep --help``-style listings.
    """

    name: str
    reference: str
    cheap: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidParameter("task name", self.name, "a non-empty string")
        check_reference(self.reference)


def check_reference(reference: object, name: str = "task") -> str:
    """``reference`` if it is a well-formed ``"package.module:function"`` (nothing imported)."""
    if not isinstance(reference, str) or not _REFERENCE.match(reference):
        raise InvalidParameter(name, reference, _REFERENCE_WORDS)
    return reference


_REGISTRY: dict[str, TaskInfo] = {}


def register_task(
    name: str,
    target: str | Callable[[dict, int], dict],
    *,
    cheap: bool = False,
    description: str = "",
    replace: bool = False,
) -> TaskInfo:
    """Register a task under ``name``: the way a program allows a custom task.

    Parameters
    ----------
    name : str
        Name used in specs.
    target : str or callable
        ``"package.module:function"`` or a module-level function (its module must be importable
        by the workers; a function defined in ``__main__`` or a test file works in-process
        only).
    cheap, description
        See :class:`TaskInfo`.
    replace : bool
        Allow overwriting an existing registration.
    """
    if callable(target):
        reference = f"{target.__module__}:{target.__qualname__}"
    else:
        reference = target
    info = TaskInfo(name=name, reference=reference, cheap=cheap, description=description)
    if name in _REGISTRY and not replace and _REGISTRY[name] != info:
        raise InvalidParameter("task name", name, "a name not registered yet (or replace=True)")
    _REGISTRY[name] = info
    return info


def registered_tasks() -> dict[str, TaskInfo]:
    """A copy of the registry: name -> :class:`TaskInfo`."""
    return dict(_REGISTRY)


def check_task_name(name: object) -> str:
    """The spec-level check: a registered name or a well-formed reference (nothing imported,
    nothing allowed yet: :func:`resolve_task` decides whether it may run)."""
    if isinstance(name, str) and name in _REGISTRY:
        return name
    if isinstance(name, str) and ":" in name:
        return check_reference(name)
    raise InvalidParameter(
        "task", name, "one of " + ", ".join(sorted(_REGISTRY)) + " or 'package.module:function'"
    )


def resolve_task(name: str, allow: Iterable[str] = ()) -> TaskInfo:
    """The :class:`TaskInfo` of a registered name, or of a ``"module:function"`` reference that
    is in ``allow``; anything else is refused. Decided from the strings alone: nothing is
    imported.

    Parameters
    ----------
    name : str
        The task a spec names.
    allow : iterable of str
        References the caller allows explicitly (``--allow-task`` on the command line).

    Raises
    ------
    InvalidParameter
        ``name`` is neither registered nor allowed.
    """
    allowed = {check_reference(reference, "--allow-task") for reference in allow}
    if isinstance(name, str) and name in _REGISTRY:
        return _REGISTRY[name]
    if isinstance(name, str) and name in allowed:
        return TaskInfo(name=name, reference=name)
    registered = ", ".join(sorted(_REGISTRY))
    raise InvalidParameter(
        "task",
        name,
        f"a registered task ({registered}); a spec cannot run other code by itself: allow a "
        f"'module:function' by name with --allow-task {name} (Python: register_task or "
        "allow_tasks=)",
    )


def load_task_function(reference: str) -> Callable[[dict, int], dict]:
    """Import the function named by ``"package.module:function"`` (workers, after
    :func:`resolve_task` allowed it)."""
    module_name, qualname = check_reference(reference).split(":")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise InvalidParameter("task", reference, f"an importable module ({error})") from error
    for part in qualname.split("."):
        target = getattr(target, part, None)
    if not callable(target):
        raise InvalidParameter("task", reference, f"a function defined in {module_name}")
    return target


# The built-in tasks live in toyforge.verify.sweep.tasks (imported by workers on first use).
for _name, _function, _cheap, _description in (
    ("predict", "predict_task", True, "large-N theory loss (toyforge.theory.predict)"),
    (
        "construct+evaluate",
        "construct_evaluate_task",
        False,
        "Persian-rug construction, Monte Carlo loss",
    ),
    ("train+evaluate", "train_evaluate_task", False, "train a ReLU autoencoder, evaluate it"),
    ("compare", "compare_task", False, "theory vs construction vs trained"),
):
    register_task(
        _name, f"toyforge.verify.sweep.tasks:{_function}", cheap=_cheap, description=_description
    )


# --------------------------------------------------------------------------------------------
# Spec
# --------------------------------------------------------------------------------------------


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


def _spaced(name: str, kind: str, args: Any) -> tuple[Any, ...]:
    """Expand a ``{linspace/logspace = [start, stop, count]}`` or ``{range = [...]}`` axis."""
    if kind == "range":
        if not isinstance(args, list) or len(args) not in (2, 3):
            raise InvalidParameter(
                f"grid.{name}.range", args, "[start, stop] or [start, stop, step]"
            )
        bounds = [check_int(f"grid.{name}.range", value) for value in args]
        return tuple(range(*bounds))
    if not isinstance(args, list) or len(args) != 3:
        raise InvalidParameter(f"grid.{name}.{kind}", args, "[start, stop, count]")
    start, stop = (_check_value(f"grid.{name}.{kind}", value) for value in args[:2])
    count = check_int(f"grid.{name}.{kind} count", args[2], minimum=1)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (start, stop)):
        raise InvalidParameter(f"grid.{name}.{kind}", args, "numeric start and stop")
    if kind == "linspace":
        return _generated(np.linspace(start, stop, count))
    if start <= 0 or stop <= 0:
        raise InvalidParameter(f"grid.{name}.logspace", args, "positive start and stop")
    return _generated(np.geomspace(start, stop, count))


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
    if isinstance(raw, Mapping):
        if len(raw) != 1 or next(iter(raw)) not in ("linspace", "logspace", "range"):
            raise InvalidParameter(
                f"grid.{name}", dict(raw), "a list or one of {linspace|logspace|range = [...]}"
            )
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


@dataclass(frozen=True, kw_only=True, slots=True)
class SweepSpec:
    """A declarative sweep: the task, the grid (product of ``axes``) and the fixed settings.

    Parameters
    ----------
    task : str
        A registered task name (see :func:`registered_tasks`) or ``"package.module:function"``.
    axes : tuple of Axis
        The grid; points are the Cartesian product in axis order (last axis fastest).
    fixed : mapping
        Settings shared by every point (JSON scalars or lists). An axis may not repeat a key.
    name : str
        Free label (shown by the CLI).
    save_models : bool
        Ask the workers to save the ``model`` a task returns as ``DIR/models/<hash>.npz``.
    """

    task: str
    axes: tuple[Axis, ...]
    fixed: Mapping[str, Any] = field(default_factory=dict)
    name: str = ""
    save_models: bool = False

    def __post_init__(self) -> None:
        check_task_name(self.task)
        if not isinstance(self.name, str):
            raise InvalidParameter("name", self.name, "a string")
        if not isinstance(self.save_models, bool):
            raise InvalidParameter("save_models", self.save_models, "true or false")
        axes = tuple(self.axes)
        if not axes or not all(isinstance(axis, Axis) for axis in axes):
            raise InvalidParameter("grid", axes, "at least one axis")
        names = [axis.name for axis in axes]
        if len(set(names)) != len(names):
            raise InvalidParameter("grid", names, "distinct axis names")
        if not isinstance(self.fixed, Mapping):
            raise InvalidParameter("fixed", self.fixed, "a table of settings")
        fixed = {}
        for key, value in self.fixed.items():
            if not isinstance(key, str) or not _NAME_PATTERN.match(key):
                raise InvalidParameter("fixed", key, "names of letters, digits and underscores")
            fixed[key] = _check_value(f"fixed.{key}", value)
        reserved = set(RESERVED_COLUMNS) - {"seed"}
        clashes = sorted((set(names) & set(fixed)) | (set(names) & reserved))
        if clashes:
            raise InvalidParameter(
                "grid",
                clashes,
                f"axis names that are not fixed settings nor reserved columns {RESERVED_COLUMNS}",
            )
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
            "grid": {axis.name: list(axis.values) for axis in self.axes},
            "fixed": dict(self.fixed),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SweepSpec:
        """Build a spec from the parsed TOML/JSON mapping (see :func:`load_spec`)."""
        if not isinstance(data, Mapping):
            raise InvalidParameter("spec", type(data).__name__, "a table of settings")
        unknown = sorted(set(data) - set(SPEC_KEYS))
        if unknown:
            raise InvalidParameter("spec", unknown, f"keys among {list(SPEC_KEYS)}")
        if "task" not in data or "grid" not in data:
            raise InvalidParameter("spec", sorted(data), "a 'task' and a [grid] table")
        grid = data["grid"]
        if not isinstance(grid, Mapping) or not grid:
            raise InvalidParameter("grid", grid, "a table of at least one axis")
        axes = tuple(Axis(name=name, values=expand_axis(name, raw)) for name, raw in grid.items())
        return cls(
            task=data["task"],
            axes=axes,
            fixed=data.get("fixed", {}),
            name=data.get("name", ""),
            save_models=data.get("save_models", False),
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
    text = _read_text(source, "SPEC")
    return SweepSpec.from_dict(_parse_spec_text(text, source))


def _read_text(path: Path, name: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise InvalidParameter(name, str(path), "an existing file") from error
    except UnicodeDecodeError as error:
        raise CorruptFile(f"{path}: not UTF-8 text ({error})") from error


def _parse_spec_text(text: str, source: Path) -> dict[str, Any]:
    suffix = source.suffix.lower()
    if suffix not in (".toml", ".json"):
        raise InvalidParameter("SPEC", str(source), "a .toml or .json file")
    try:
        return tomllib.loads(text) if suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
        raise CorruptFile(f"{source}: not valid {suffix[1:].upper()} ({error})") from error


# --------------------------------------------------------------------------------------------
# Grid points: canonical JSON, content hash, seed
# --------------------------------------------------------------------------------------------


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys, no spaces, ASCII only, no NaN: the input of the content hash."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def task_hash(task: str, params: Mapping[str, Any]) -> str:
    """Content hash of one task: the first :data:`HASH_LENGTH` hex digits of SHA-256 of
    ``canonical_json({"params": params, "schema": SCHEMA_VERSION, "task": task})``."""
    payload = canonical_json({"params": dict(params), "schema": SCHEMA_VERSION, "task": task})
    return hashlib.sha256(payload.encode("ascii")).hexdigest()[:HASH_LENGTH]


def point_seed(params: Mapping[str, Any], digest: str) -> int:
    """The task's seed: ``params["seed"]`` if present, else the hash's first 32 bits."""
    if "seed" in params:
        return check_int("seed", params["seed"], minimum=0)
    return int(digest[:8], 16)


@dataclass(frozen=True, kw_only=True, slots=True)
class TaskPoint:
    """One grid point: its position, hash, axis values, full parameters and seed."""

    index: int
    hash: str
    axis_values: Mapping[str, Any]
    params: Mapping[str, Any]
    seed: int


# --------------------------------------------------------------------------------------------
# The worker side: run one job (a plain dict) and return a record (a plain dict)
# --------------------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _package_version() -> str:
    from toyforge import __version__

    return __version__


def flatten_outputs(outputs: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten a task's outputs into scalar columns.

    Estimates (anything with ``value`` and ``stderr``) become ``<name>`` and ``<name>_stderr``;
    nested mappings become ``<outer>_<inner>``; numpy scalars are unwrapped; ``None`` stays.
    Anything else raises ``TypeError`` (the task is then recorded as failed).
    """
    if not isinstance(outputs, Mapping):
        raise TypeError(f"a task must return a dict of outputs, got {type(outputs).__name__}")
    flat: dict[str, Any] = {}
    for key, value in outputs.items():
        name = f"{prefix}{key}"
        if isinstance(value, np.generic):
            value = value.item()
        if hasattr(value, "value") and hasattr(value, "stderr"):
            flat[name] = float(value.value)
            flat[f"{name}_stderr"] = float(value.stderr)
        elif isinstance(value, Mapping):
            flat.update(flatten_outputs(value, prefix=f"{name}_"))
        elif value is None or isinstance(value, _SCALARS):
            flat[name] = value
        else:
            raise TypeError(
                f"output {name!r} is a {type(value).__name__}; allowed are numbers, "
                "strings, booleans, None, estimates (value, stderr) and dicts"
            )
    return flat


def _save_model(model: Any, model_dir: str, digest: str) -> str:
    """Save ``model`` as ``<model_dir>/<hash>.npz`` (toyforge.constructions.io); the name."""
    from toyforge.constructions.io import save

    path = Path(model_dir) / f"{digest}.npz"
    save(model, path)
    return path.name


def run_job(job: Mapping[str, Any]) -> dict[str, Any]:
    """Run one task and return its record; task exceptions become a ``failed`` record.

    ``job`` holds ``task``, ``reference``, ``hash``, ``params``, ``seed`` and ``model_dir``
    (``None`` unless models are saved). Executed on the workers: plain dicts in, plain dict out.
    """
    record: dict[str, Any] = {
        "hash": job["hash"],
        "task": job["task"],
        "params": dict(job["params"]),
        "seed": job["seed"],
        "status": "done",
        "outputs": {},
        "error": None,
        "started_at": _now(),
        "elapsed_s": 0.0,
        "cpu_s": 0.0,
        "toyforge_version": _package_version(),
        "schema_version": SCHEMA_VERSION,
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        function = load_task_function(job["reference"])
        outputs = dict(function(dict(job["params"]), int(job["seed"])))
        model = outputs.pop("model", None)
        flat = flatten_outputs(outputs)
        clashes = sorted(set(flat) & (set(job["params"]) | set(RESERVED_COLUMNS)))
        if clashes:
            raise ValueError(f"outputs {clashes} clash with parameter or reserved column names")
        if model is not None and job.get("model_dir"):
            record["model_file"] = "models/" + _save_model(model, job["model_dir"], job["hash"])
        record["outputs"] = to_jsonable(flat)
    except Exception as error:  # noqa: BLE001 - every task failure is recorded, not raised
        record["status"] = "failed"
        record["error"] = f"{type(error).__name__}: {error}"
        record["traceback"] = traceback.format_exc(limit=20)[-4000:]
    record["elapsed_s"] = time.perf_counter() - wall
    record["cpu_s"] = time.process_time() - cpu
    return record


def _lost_record(job: Mapping[str, Any], error: BaseException) -> dict[str, Any]:
    """A failed record for a job whose worker died or whose result could not come back."""
    return {
        "hash": job["hash"],
        "task": job["task"],
        "params": dict(job["params"]),
        "seed": job["seed"],
        "status": "failed",
        "outputs": {},
        "error": f"worker lost: {type(error).__name__}: {error}",
        "started_at": None,
        "elapsed_s": None,
        "cpu_s": None,
        "toyforge_version": _package_version(),
        "schema_version": SCHEMA_VERSION,
        "host": None,
        "pid": None,
    }


# --------------------------------------------------------------------------------------------
# Executors: each turns a list of jobs into an iterator of records, in completion order
# --------------------------------------------------------------------------------------------


class Executor(Protocol):
    """What the sweep needs of an executor."""

    label: str

    def run(self, jobs: Sequence[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
        """Yield one record per job as each finishes (any order)."""
        ...


@dataclass(frozen=True, kw_only=True, slots=True)
class InProcessExecutor:
    """Run the tasks one after another in this process (tiny or cheap sweeps, debugging)."""

    @property
    def label(self) -> str:
        return "in-process"

    def run(self, jobs: Sequence[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
        for job in jobs:
            yield run_job(job)


_WORKER_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)


@contextlib.contextmanager
def _single_threaded_children() -> Iterator[None]:
    """Workers started inside this block inherit one BLAS/OpenMP/numba thread each (unless the
    user set these variables), so N workers do not oversubscribe N cores."""
    added = [name for name in _WORKER_THREAD_VARIABLES if name not in os.environ]
    for name in added:
        os.environ[name] = "1"
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


@dataclass(frozen=True, kw_only=True, slots=True)
class ProcessPoolExecutor:
    """A local pool of ``workers`` processes started with ``context`` ("spawn" or "forkserver";
    never fork, which is unsafe with numba's threading layer)."""

    workers: int
    context: str = "spawn"

    def __post_init__(self) -> None:
        check_int("workers", self.workers, minimum=1)
        check_choice("context", self.context, ("spawn", "forkserver"))

    @property
    def label(self) -> str:
        return f"process pool ({self.workers} workers, {self.context})"

    def run(self, jobs: Sequence[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
        if not jobs:
            return
        pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=min(self.workers, len(jobs)),
            mp_context=multiprocessing.get_context(self.context),
        )
        finished = False
        try:
            with _single_threaded_children():  # spawn happens on submit
                futures = {pool.submit(run_job, dict(job)): job for job in jobs}
            for future in concurrent.futures.as_completed(futures):
                try:
                    yield future.result()
                except concurrent.futures.process.BrokenProcessPool as error:
                    raise ToyforgeError(
                        "a worker process died (out of memory, a crash in native code, or a "
                        "script calling the sweep without `if __name__ == '__main__':` — "
                        "spawned workers re-import the main script); the finished tasks are "
                        "saved: rerun the sweep to resume"
                    ) from error
            finished = True
        finally:
            if not finished:
                _terminate(pool)
            pool.shutdown(wait=finished, cancel_futures=not finished)


def _terminate(pool: concurrent.futures.ProcessPoolExecutor) -> None:
    """Stop the running workers of an interrupted pool (best effort; uses the pool's process
    table, which concurrent.futures keeps in ``_processes``)."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(Exception):
            process.terminate()


@dataclass(frozen=True, kw_only=True, slots=True)
class DaskExecutor:
    """Run the tasks on Dask distributed: an existing scheduler (``scheduler="tcp://host:port"``)
    or a ``LocalCluster`` of ``n_workers`` single-threaded processes started for this sweep.

    Workers need toyforge (and the task's module) installed. Records come back to the driver,
    which writes them; only model files (``save_models``) need a filesystem the workers share.
    """

    scheduler: str | None = None
    n_workers: int | None = None

    def __post_init__(self) -> None:
        if (self.scheduler is None) == (self.n_workers is None):
            raise InvalidParameter(
                "executor",
                (self.scheduler, self.n_workers),
                "exactly one of a scheduler address or n_workers",
            )
        if self.n_workers is not None:
            check_int("n_workers", self.n_workers, minimum=1)

    @property
    def label(self) -> str:
        if self.scheduler is not None:
            return f"dask ({self.scheduler})"
        return f"dask LocalCluster ({self.n_workers} workers)"

    @contextlib.contextmanager
    def client(self) -> Iterator[Any]:
        """A connected ``distributed.Client`` (and its LocalCluster, if one is started)."""
        distributed = _import_distributed()
        if self.scheduler is not None:
            try:
                client = distributed.Client(self.scheduler, timeout="20s")
            except (OSError, TimeoutError) as error:
                raise InvalidParameter(
                    "--scheduler", self.scheduler, f"a reachable Dask scheduler ({error})"
                ) from error
            with client:
                yield client
            return
        with (
            distributed.LocalCluster(
                n_workers=self.n_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            yield client

    def run(self, jobs: Sequence[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
        if not jobs:
            return
        distributed = _import_distributed()
        with self.client() as client:
            keys = [f"toyforge-sweep-{job['hash']}-{uuid.uuid4().hex[:8]}" for job in jobs]
            futures = client.map(run_job, [dict(job) for job in jobs], key=keys, pure=False)
            by_key = {key: job for key, job in zip(keys, jobs, strict=True)}
            try:
                for future in distributed.as_completed(futures):
                    try:
                        yield future.result()
                    except Exception as error:  # noqa: BLE001 - e.g. KilledWorker
                        yield _lost_record(by_key[future.key], error)
            finally:
                client.cancel(futures)


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as error:
        raise ToyforgeError(
            "the Dask executor needs the optional extra 'toyforge[distributed]' "
            "(pip install 'toyforge[distributed]', i.e. dask[distributed])"
        ) from error
    return distributed


def available_cpus() -> int:
    """CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return os.cpu_count() or 1


def choose_executor(
    n_pending: int,
    *,
    cheap: bool = False,
    workers: int | None = None,
    dask_local: int | None = None,
    scheduler: str | None = None,
) -> Executor:
    """The executor for a sweep with ``n_pending`` tasks.

    At most one of ``workers``, ``dask_local`` and ``scheduler``. Without any: in-process when
    the sweep is tiny (< :data:`TINY_SWEEP` tasks), the task is cheap and at most
    :data:`CHEAP_IN_PROCESS` tasks are pending, or one CPU is available; else a spawn process
    pool with one worker per CPU. ``workers=1`` means in-process.
    """
    chosen = [
        name
        for name, value in (
            ("workers", workers),
            ("dask_local", dask_local),
            ("scheduler", scheduler),
        )
        if value is not None
    ]
    if len(chosen) > 1:
        raise InvalidParameter("executor", chosen, "at most one of workers, dask_local, scheduler")
    if scheduler is not None:
        return DaskExecutor(scheduler=scheduler)
    if dask_local is not None:
        return DaskExecutor(n_workers=dask_local)
    if workers is None:
        cpus = available_cpus()
        if n_pending < TINY_SWEEP or (cheap and n_pending <= CHEAP_IN_PROCESS) or cpus < 2:
            return InProcessExecutor()
        return ProcessPoolExecutor(workers=min(cpus, n_pending))
    workers = check_int("workers", workers, minimum=1)
    return InProcessExecutor() if workers == 1 else ProcessPoolExecutor(workers=workers)


# --------------------------------------------------------------------------------------------
# The sweep folder: spec, records, table
# --------------------------------------------------------------------------------------------


def _stored_form(spec: SweepSpec) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "spec": spec.to_dict()}


def _differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    keys = sorted(set(old) | set(new))
    return [key for key in keys if old.get(key) != new.get(key)]


def _prepare_folder(spec: SweepSpec, out_dir: Path, source: Path | None) -> None:
    """Create ``out_dir`` with the spec, or check that the spec already there is the same."""
    (out_dir / "tasks").mkdir(parents=True, exist_ok=True)
    stored_path = out_dir / "sweep.json"
    new = _stored_form(spec)
    if stored_path.exists():
        old = _read_stored(out_dir)
        if old != json.loads(canonical_json(new)):
            differing = _differences(old.get("spec", {}), new["spec"])
            if old.get("schema_version") != SCHEMA_VERSION:
                differing.append("schema_version")
            raise InvalidParameter(
                "spec",
                str(source) if source else spec.name,
                f"the spec stored in {stored_path} (they differ in {differing}); "
                "use a new --out folder or the original spec",
            )
    else:
        with atomic_path(stored_path) as temp:
            temp.write_text(json.dumps(new, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    if source is not None:
        copy = out_dir / f"spec{source.suffix.lower()}"
        if not copy.exists():
            with atomic_path(copy) as temp:
                temp.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    if spec.save_models:
        (out_dir / "models").mkdir(exist_ok=True)


def _read_stored(out_dir: Path) -> dict[str, Any]:
    path = out_dir / "sweep.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise InvalidParameter("DIR", str(out_dir), "a sweep folder (with sweep.json)") from error
    except json.JSONDecodeError as error:
        raise CorruptFile(f"{path}: not valid JSON ({error})") from error


def stored_spec(out_dir: str | os.PathLike[str]) -> SweepSpec:
    """The spec stored in a sweep folder."""
    return SweepSpec.from_dict(_read_stored(Path(out_dir))["spec"])


def read_records(out_dir: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Every readable task record in ``out_dir/tasks``: hash -> record.

    Temporary files of interrupted writes are ignored; an unreadable record is logged and
    skipped (its task counts as pending and reruns).
    """
    records = {}
    for path in sorted((Path(out_dir) / "tasks").glob("*.json")):
        if path.name.startswith("."):
            continue
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            records[record["hash"]] = record
        except (OSError, ValueError, KeyError, TypeError) as error:
            logger.warning("ignoring unreadable task record %s (%s)", path, error)
    return records


def _write_record(out_dir: Path, record: Mapping[str, Any]) -> None:
    """Write one record atomically (temp file + rename: a kill never leaves half a record)."""
    text = json.dumps(to_jsonable(record), indent=1, allow_nan=False)
    with atomic_path(out_dir / "tasks" / f"{record['hash']}.json") as temp:
        temp.write_text(text + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------
# Planning and running
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class SweepPlan:
    """What a run of a sweep will do: the spec, its folder, every point and the pending ones."""

    spec: SweepSpec
    out_dir: Path
    points: tuple[TaskPoint, ...]
    pending: tuple[TaskPoint, ...]
    n_done: int
    n_failed: int
    task: TaskInfo

    def jobs(self) -> list[dict[str, Any]]:
        """The pending tasks as plain dicts for :func:`run_job`."""
        model_dir = str((self.out_dir / "models").resolve()) if self.spec.save_models else None
        return [
            {
                "task": self.spec.task,
                "reference": self.task.reference,
                "hash": point.hash,
                "params": dict(point.params),
                "seed": point.seed,
                "model_dir": model_dir,
            }
            for point in self.pending
        ]


def as_spec(spec: SweepSpec | Mapping[str, Any] | str | os.PathLike[str]) -> SweepSpec:
    """A :class:`SweepSpec` from a spec object, a parsed mapping or a spec file path."""
    if isinstance(spec, SweepSpec):
        return spec
    if isinstance(spec, Mapping):
        return SweepSpec.from_dict(spec)
    return load_spec(spec)


def plan_sweep(
    spec: SweepSpec | Mapping[str, Any] | str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    retry_failed: bool = False,
    allow_tasks: Iterable[str] = (),
) -> SweepPlan:
    """Prepare ``out_dir`` (spec copy, or the check that it holds the same spec) and list the
    tasks without a record (plus the failed ones when ``retry_failed``).

    The task must be registered or its ``"module:function"`` listed in ``allow_tasks``; that is
    decided, and every grid point computed, before anything is imported or written.
    """
    source = None if isinstance(spec, (SweepSpec, Mapping)) else Path(spec)
    spec = as_spec(spec)
    task = resolve_task(spec.task, allow_tasks)
    points = tuple(spec.points())
    folder = Path(out_dir)
    _prepare_folder(spec, folder, source)
    records = read_records(folder)
    statuses = {point.hash: records.get(point.hash, {}).get("status") for point in points}
    n_done = sum(status == "done" for status in statuses.values())
    n_failed = sum(status == "failed" for status in statuses.values())
    rerun = {None, "failed"} if retry_failed else {None}
    pending = tuple(point for point in points if statuses[point.hash] in rerun)
    return SweepPlan(
        spec=spec,
        out_dir=folder,
        points=points,
        pending=pending,
        n_done=n_done,
        n_failed=n_failed,
        task=task,
    )


def execute_plan(plan: SweepPlan, executor: Executor | None = None) -> Iterator[dict[str, Any]]:
    """Run the pending tasks of ``plan``; write and yield each record as it arrives."""
    if executor is None:
        executor = choose_executor(len(plan.pending), cheap=plan.task.cheap)
    run_id = uuid.uuid4().hex
    expected = {point.hash for point in plan.pending}
    for record in executor.run(plan.jobs()):
        if record.get("hash") not in expected:  # pragma: no cover - defensive
            logger.warning("ignoring a record for an unknown task %s", record.get("hash"))
            continue
        record["run_id"] = run_id
        _write_record(plan.out_dir, record)
        yield record


@dataclass(frozen=True, kw_only=True, slots=True)
class SweepStatus:
    """Counts of a sweep folder's tasks and the errors of the failed ones."""

    out_dir: Path
    name: str
    task: str
    n_tasks: int
    n_done: int
    n_failed: int
    n_pending: int
    failures: tuple[tuple[str, Mapping[str, Any], str], ...]
    """(hash, axis values, error) of each failed task, in grid order."""


@dataclass(frozen=True, kw_only=True, slots=True)
class SweepSummary:
    """The outcome of :func:`run_sweep`."""

    status: SweepStatus
    n_ran: int
    n_skipped: int
    executor: str
    elapsed_s: float
    table_path: Path | None


def run_sweep(
    spec: SweepSpec | Mapping[str, Any] | str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    executor: Executor | None = None,
    retry_failed: bool = False,
    table_format: str = "auto",
    on_record: Callable[[dict[str, Any]], None] | None = None,
    allow_tasks: Iterable[str] = (),
) -> SweepSummary:
    """Run (or resume) a sweep and write its table.

    Parameters
    ----------
    spec : SweepSpec, mapping or path
        The sweep (a ``.toml``/``.json`` path is also copied into ``out_dir``).
    out_dir : path
        The sweep folder; an existing one must hold the same spec.
    executor : executor, optional
        :class:`InProcessExecutor`, :class:`ProcessPoolExecutor` or :class:`DaskExecutor`;
        default from :func:`choose_executor`.
    retry_failed : bool
        Also rerun the tasks recorded as failed.
    table_format : {"auto", "parquet", "csv"}
        ``auto``: Parquet when pyarrow is installed, else CSV.
    on_record : callable, optional
        Called with each new record (progress reporting).
    allow_tasks : iterable of str
        ``"module:function"`` references a spec may name besides the registered tasks.
    """
    started = time.perf_counter()
    plan = plan_sweep(spec, out_dir, retry_failed=retry_failed, allow_tasks=allow_tasks)
    if executor is None:
        executor = choose_executor(len(plan.pending), cheap=plan.task.cheap)
    n_ran = 0
    for record in execute_plan(plan, executor):
        n_ran += 1
        if on_record is not None:
            on_record(record)
    table_path = write_table(plan.out_dir, table_format=table_format)
    return SweepSummary(
        status=sweep_status(plan.out_dir),
        n_ran=n_ran,
        n_skipped=len(plan.points) - len(plan.pending),
        executor=executor.label,
        elapsed_s=time.perf_counter() - started,
        table_path=table_path,
    )


def sweep_status(out_dir: str | os.PathLike[str]) -> SweepStatus:
    """Done / failed / pending counts of a sweep folder (read from its records)."""
    folder = Path(out_dir)
    spec = stored_spec(folder)
    points = spec.points()
    records = read_records(folder)
    statuses = [records.get(point.hash, {}).get("status") for point in points]
    failures = tuple(
        (point.hash, dict(point.axis_values), records[point.hash].get("error") or "")
        for point, status in zip(points, statuses, strict=True)
        if status == "failed"
    )
    n_done = statuses.count("done")
    return SweepStatus(
        out_dir=folder,
        name=spec.name,
        task=spec.task,
        n_tasks=len(points),
        n_done=n_done,
        n_failed=len(failures),
        n_pending=len(points) - n_done - len(failures),
        failures=failures,
    )


# --------------------------------------------------------------------------------------------
# The tidy table
# --------------------------------------------------------------------------------------------


def table_rows(out_dir: str | os.PathLike[str]) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and rows of the results table: one row per finished task, in grid order.

    Columns: ``hash``, ``status``, the axes, ``seed``, the task's outputs (estimates as
    ``<name>`` and ``<name>_stderr``), ``elapsed_s``, ``cpu_s``, ``toyforge_version``,
    ``error`` and, when models are saved, ``model_file``.
    """
    folder = Path(out_dir)
    spec = stored_spec(folder)
    records = read_records(folder)
    axis_names = [axis.name for axis in spec.axes]
    output_names: dict[str, None] = {}
    rows = []
    for point in spec.points():
        record = records.get(point.hash)
        if record is None:
            continue
        outputs = record.get("outputs") or {}
        output_names.update(dict.fromkeys(outputs))
        rows.append(
            {
                "hash": point.hash,
                "status": record.get("status"),
                **point.axis_values,
                "seed": point.seed,
                **outputs,
                "elapsed_s": record.get("elapsed_s"),
                "cpu_s": record.get("cpu_s"),
                "toyforge_version": record.get("toyforge_version"),
                "error": record.get("error"),
                "model_file": record.get("model_file"),
            }
        )
    head = ["hash", "status", *axis_names]
    if "seed" not in axis_names:
        head.append("seed")
    tail = ["elapsed_s", "cpu_s", "toyforge_version", "error"]
    if spec.save_models:
        tail.append("model_file")
    columns = [*head, *output_names, *tail]
    return columns, [{column: row.get(column) for column in columns} for row in rows]


def _pyarrow_available() -> bool:
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        return False
    return True


def _column_kind(values: Iterable[Any]) -> str:
    present = [value for value in values if value is not None]
    if present and all(isinstance(value, bool) for value in present):
        return "bool"
    if any(isinstance(value, bool) for value in present) or not all(
        isinstance(value, numbers.Real) for value in present
    ):
        return "string"
    if all(isinstance(value, int) for value in present):
        return "int"
    return "float"


def write_table(out_dir: str | os.PathLike[str], *, table_format: str = "auto") -> Path:
    """Rebuild the results table from the records: ``results.parquet`` or ``results.csv``."""
    check_choice("table_format", table_format, TABLE_FORMATS)
    if table_format == "parquet" and not _pyarrow_available():
        raise ToyforgeError("table_format='parquet' needs pyarrow (pip install pyarrow)")
    if table_format == "auto":
        table_format = "parquet" if _pyarrow_available() else "csv"
    folder = Path(out_dir)
    columns, rows = table_rows(folder)
    path = folder / f"results.{table_format}"
    if table_format == "parquet":
        _write_parquet(path, columns, rows, _read_stored(folder))
    else:
        _write_csv(path, columns, rows)
    return path


def _write_parquet(
    path: Path, columns: list[str], rows: list[dict[str, Any]], stored: Mapping[str, Any]
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {"bool": pa.bool_(), "int": pa.int64(), "float": pa.float64(), "string": pa.string()}
    arrays = {}
    for column in columns:
        values = [row[column] for row in rows]
        kind = _column_kind(values)
        if kind == "string":
            values = [None if value is None else str(value) for value in values]
        elif kind == "float":
            values = [None if value is None else float(value) for value in values]
        arrays[column] = pa.array(values, type=types[kind])
    table = pa.table(arrays).replace_schema_metadata(
        {"toyforge.sweep": json.dumps(stored, allow_nan=False)}
    )
    with atomic_path(path, suffix=".parquet") as temp:
        pq.write_table(table, temp)


def _write_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    def cell(value: Any) -> str:
        if value is None:
            return ""
        return repr(value) if isinstance(value, float) else str(value)

    with (
        atomic_path(path, suffix=".csv") as temp,
        open(temp, "w", newline="", encoding="utf-8") as handle,
    ):
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([cell(row[column]) for column in columns])


def _parse_cell(text: str) -> Any:
    if text == "":
        return None
    if text in ("True", "False"):
        return text == "True"
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            continue
    return text


_TEXT_COLUMNS = ("hash", "status", "toyforge_version", "error", "model_file")


def read_table(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Rows of a results table (Parquet or CSV) as dicts.

    CSV cells are parsed back to int, float (exact: floats are written with ``repr``), bool
    and ``None`` (empty cell), except the text columns ``hash``, ``status``,
    ``toyforge_version``, ``error``, ``model_file``; a task's string output that looks like a
    number comes back as a number from CSV (Parquet keeps the types).
    """
    table_path = Path(path)
    if table_path.suffix == ".parquet":
        if not _pyarrow_available():
            raise ToyforgeError("reading a Parquet table needs pyarrow (pip install pyarrow)")
        import pyarrow.parquet as pq

        return pq.read_table(table_path).to_pylist()
    try:
        with open(table_path, newline="", encoding="utf-8") as handle:
            return [
                {
                    key: (value or None) if key in _TEXT_COLUMNS else _parse_cell(value)
                    for key, value in row.items()
                }
                for row in csv.DictReader(handle)
            ]
    except FileNotFoundError as error:
        raise InvalidParameter("table", str(table_path), "an existing results table") from error


def same_results(
    left: Sequence[Mapping[str, Any]],
    right: Sequence[Mapping[str, Any]],
    ignore: Sequence[str] = ("elapsed_s", "cpu_s"),
) -> bool:
    """Whether two tables hold the same rows, ignoring timing columns."""

    def strip(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return [{key: value for key, value in row.items() if key not in ignore} for row in rows]

    return strip(left) == strip(right)
