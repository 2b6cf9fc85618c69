"""Atomic file writes: write to a temporary name in the target folder, then rename into place.

A crash or an error while writing never leaves a half-written file at the target path. The
temporary file is toyforge's own: ``.NAME.toyforge-HOST-PID-RANDOM.tmp`` beside the target
(``HOST`` a short hash of the host name, ``PID`` the writing process). A process killed mid-write
(SIGKILL) cannot remove it, so the next write into the same folder removes every such file whose
process, on this host, is no longer alive (``docs/safety.md#signals-and-temporary-files``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

__all__ = [
    "atomic_path",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "remove_stale_temporaries",
    "temporary_name",
]

_TEMP_PATTERN = re.compile(
    r"^\.(?P<name>.+)\.toyforge-(?P<host>[0-9a-f]{6})-(?P<pid>[0-9]+)-[0-9a-f]{8}\.tmp"
)
_cleaned: set[str] = set()


def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:6]


def temporary_name(target_name: str, suffix: str = "") -> str:
    """The name of a temporary file for ``target_name`` written by this process."""
    token = secrets.token_hex(4)
    return f".{target_name}.toyforge-{_host_tag()}-{os.getpid()}-{token}.tmp{suffix}"


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's), or we cannot tell: keep the file
    return True


def remove_stale_temporaries(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove toyforge temporary files in ``folder`` left by dead processes of this host.

    Returns the removed paths. Files of live processes, of other hosts (a shared filesystem)
    and every other file are left alone.
    """
    removed = []
    host = _host_tag()
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            match = _TEMP_PATTERN.match(entry.name)
            if match is None or match["host"] != host or _process_alive(int(match["pid"])):
                continue
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _clean_once(folder: Path) -> None:
    key = str(folder.resolve())
    if key not in _cleaned:
        _cleaned.add(key)
        remove_stale_temporaries(folder)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds.

    ``suffix`` is appended to the temporary name (numpy's ``savez`` insists on ``.npz``).
    The folder must exist; an unwritable folder raises ``OSError`` before anything is written.
    Stale temporary files of dead processes in the folder are removed on the first write there.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    _clean_once(folder)
    temp_path = folder / temporary_name(target.name, suffix)
    handle = os.open(temp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(handle)
    try:
        yield temp_path
        os.chmod(temp_path, _default_file_mode())  # created 0600 like mkstemp
        os.replace(temp_path, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
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


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    atomic_write(path, lambda handle: handle.write(data))


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))
