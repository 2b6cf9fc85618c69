"""Shared figure helpers: the packaged style, new figures, and traceable saving.

Every renderer in :mod:`toyforge.figures` draws inside ``style()`` (never changing global
rcParams), returns a :class:`matplotlib.figure.Figure`, and is saved with :func:`save_figure`,
which writes atomically and stamps the toyforge version and the producing config into the PNG
metadata so an image can be traced to its run.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from toyforge.core.fileio import atomic_path
from toyforge.core.serde import to_json
from toyforge.core.version import __version__

STYLE_FILE = Path(__file__).with_name("toyforge.mplstyle")


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Context in which toyforge's style applies (rcParams restored on exit)."""
    with plt.style.context(str(STYLE_FILE)):
        yield


def new_figure(
    n_rows: int = 1, n_cols: int = 1, *, width: float = 6.0, height: float = 4.0, **kwargs: Any
) -> tuple[Figure, Any]:
    """A Figure (not registered with pyplot's global state) and its axes."""
    figure = Figure(figsize=(width, height), layout="constrained")
    axes = figure.subplots(n_rows, n_cols, **kwargs)
    return figure, axes


def save_figure(
    figure: Figure, path: str | os.PathLike[str], config: Mapping[str, Any] | Any | None = None
) -> Path:
    """Save ``figure`` atomically; PNG metadata holds the version and the config as JSON."""
    target = Path(path)
    suffix = target.suffix.lower() or ".png"
    metadata: dict[str, str] | None = None
    if suffix == ".png":
        metadata = {"Software": f"toyforge {__version__}"}
        if config is not None:
            metadata["Description"] = to_json(config)
    with atomic_path(target, suffix=suffix) as temp_path:
        figure.savefig(temp_path, format=suffix.lstrip("."), metadata=metadata)
    return target
