"""Atomic file writes: write to a temporary name in the target folder, then rename into place.

A crash or an error while writing never leaves a half-written file at the target path.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds.

    ``suffix`` is appended to the temporary name (numpy's ``savez`` insists on ``.npz``).
    The folder must exist; an unwritable folder raises ``OSError`` before anything is written.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    handle, temp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp" + suffix, dir=folder
    )
    os.close(handle)
    temp_path = Path(temp_name)
    try:
        yield temp_path
        os.chmod(temp_path, _default_file_mode())  # mkstemp creates 0600
        os.replace(temp_path, target)
    finally:
        if temp_path.exists():
            temp_path.unlink()


def _default_file_mode() -> int:
    """0666 minus the process umask: the mode ``open(path, "w")`` would have given."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write(binary_file)`` on a temporary file, then rename it onto ``path``."""
    with atomic_path(path) as temp_path, open(temp_path, "wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))
