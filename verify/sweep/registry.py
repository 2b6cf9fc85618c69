"""The sweep's task registry: which functions a sweep may run.

A spec file is data that people share, so it names tasks but never decides what code runs:

* the built-in tasks (``predict``, ``construct+evaluate``, ``train+evaluate``, ``compare``) and
  any function the user registers from their own Python code (:func:`register_task`) run by
  name;
* a ``"package.module:function"`` named in a spec runs only when the caller allows that exact
  reference: ``toyforge sweep --allow-task package.module:function`` on the command line,
  ``allow_tasks=[...]`` in :func:`~toyforge.verify.sweep.run_sweep`.

:func:`resolve_task` decides from the strings alone and imports nothing; the module of a task is
imported only by :func:`load_task_function`, on the workers, after that decision. See
``docs/safety.md#what-a-sweep-spec-may-name``.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from toyforge.core.errors import InvalidParameter

__all__ = [
    "TaskInfo",
    "check_task_name",
    "load_task_function",
    "register_task",
    "registered_tasks",
    "resolve_task",
]

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
    batch : str, optional
        ``"package.module:function"`` of the task's batch function, which runs several points
        in one call (:mod:`~toyforge.verify.sweep.batching`); ``None``: one point per job.
    batch_keys : tuple of str
        Parameters whose values the points of one batched job share (``n_features``, ...).
    batch_when : str, optional
        A boolean parameter: only points where it is true are batched (``compare``: ``train``).
    """

    name: str
    reference: str
    cheap: bool = False
    description: str = ""
    batch: str | None = None
    batch_keys: tuple[str, ...] = ()
    batch_when: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidParameter("task name", self.name, "a non-empty string")
        check_reference(self.reference)
        if self.batch is not None:
            check_reference(self.batch, "batch")
        keys = tuple(self.batch_keys)
        if not all(isinstance(key, str) and key for key in keys):
            raise InvalidParameter("batch_keys", self.batch_keys, "parameter names")
        object.__setattr__(self, "batch_keys", keys)


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
    batch: str | None = None,
    batch_keys: tuple[str, ...] = (),
    batch_when: str | None = None,
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
    cheap, description, batch, batch_keys, batch_when
        See :class:`TaskInfo`.
    replace : bool
        Allow overwriting an existing registration.
    """
    if callable(target):
        reference = f"{target.__module__}:{target.__qualname__}"
    else:
        reference = target
    info = TaskInfo(
        name=name,
        reference=reference,
        cheap=cheap,
        description=description,
        batch=batch,
        batch_keys=batch_keys,
        batch_when=batch_when,
    )
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
_BATCHED = {
    "train+evaluate": (
        "toyforge.verify.sweep.batch_tasks:train_evaluate_batch",
        ("n_features", "batch_size", "dtype", "backend"),
        None,
    ),
    "compare": ("toyforge.verify.sweep.batch_tasks:compare_batch", ("n_features",), "train"),
}
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
    _batch, _keys, _when = _BATCHED.get(_name, (None, (), None))
    register_task(
        _name,
        f"toyforge.verify.sweep.tasks:{_function}",
        cheap=_cheap,
        description=_description,
        batch=_batch,
        batch_keys=_keys,
        batch_when=_when,
    )
