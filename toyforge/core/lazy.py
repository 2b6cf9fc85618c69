"""Lazy re-exports for package ``__init__`` modules (PEP 562).

A package lists its public names and the module that defines each; a name is imported on first
access, so importing one module of a package does not import its siblings (numba kernels and
matplotlib stay unloaded until used).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module-level ``__getattr__`` and ``__dir__`` of a package with lazy re-exports.

    Parameters
    ----------
    package : str
        The package's ``__name__`` (for the error message).
    exports : mapping of str to str
        Public name -> dotted name of the module that defines it.

    Returns
    -------
    (getattr, dir)
        Assign them to ``__getattr__`` and ``__dir__`` in the package's ``__init__``.
    """

    def module_getattr(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def module_dir() -> list[str]:
        return sorted(exports)

    return module_getattr, module_dir
