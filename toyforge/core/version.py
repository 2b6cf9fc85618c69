"""The installed toyforge version (``0+unknown`` when running from an uninstalled tree).

Ground floor: imports nothing of the project, so every layer may read the version without
importing the front package :mod:`toyforge`.
"""

from __future__ import annotations

from importlib import metadata as _metadata

__all__ = ["__version__"]

try:
    __version__ = _metadata.version("toyforge")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
    __version__ = "0+unknown"
