"""Memory and work budgets, checked from a command's arguments before anything is allocated.

A command estimates the bytes of its largest arrays (and, where it is cheap to say, the number of
arithmetic operations) from its arguments and calls :func:`check_memory` / :func:`check_work`
before it allocates, computes, or creates a file or folder. Above the limit it raises
:class:`~toyforge.core.errors.InvalidParameter` naming the flag, its value, what the work would
need and what is available: one line on the command line, exit status 2.

The memory limit is the machine's available memory (``MemAvailable`` in ``/proc/meminfo``, else
``os.sysconf``), unless the user sets one: ``--max-memory SIZE`` on the command line (or the
environment variable ``TOYFORGE_MAX_MEMORY``). See ``docs/safety.md#budgets``.

This module imports nothing of the project but the errors (ground floor).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
from collections.abc import Iterator

from toyforge.core.errors import InvalidParameter

__all__ = [
    "MAX_WORK_OPERATIONS",
    "available_memory",
    "check_memory",
    "check_work",
    "format_bytes",
    "memory_limit",
    "memory_limit_set_to",
    "parse_size",
]

MEMORY_ENV = "TOYFORGE_MAX_MEMORY"
"""Environment variable with a memory limit (same syntax as ``--max-memory``)."""

MAX_WORK_OPERATIONS = 1e14
"""Arithmetic operations above which a command refuses to start (hours of CPU at 1e10/s)."""

FALLBACK_MEMORY = 4 * 2**30
"""Assumed available memory where the platform does not say (4 GiB)."""

_UNITS = {"": 1, "B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([KMGT]?)(?:I?B)?\s*$", re.I)
_override: int | None = None


def parse_size(text: str) -> int:
    """Bytes from ``"512M"``, ``"8G"``, ``"1.5GiB"``, ``"2T"`` or a plain number of bytes.

    Units are binary (K = 1024). Raises ``ValueError`` on anything else or a size below 1 byte
    (argparse turns it into a one-line usage error).
    """
    match = _SIZE.match(str(text))
    if match is None:
        raise ValueError(f"expected a size like 512M, 8G or 1.5GiB, got {text!r}")
    number = float(match.group(1)) * _UNITS[match.group(2).upper()]
    if not math.isfinite(number) or number < 1:
        raise ValueError(f"expected a size of at least one byte, got {text!r}")
    return int(number)


parse_size.__name__ = "size"


def available_memory() -> int:
    """Bytes of memory available to new allocations (Linux ``MemAvailable``; else sysconf)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    with contextlib.suppress(ValueError, OSError, AttributeError):
        pages = os.sysconf("SC_AVPHYS_PAGES")
        page_size = os.sysconf("SC_PAGE_SIZE")
        if pages > 0 and page_size > 0:
            return int(pages * page_size)
    return FALLBACK_MEMORY


def memory_limit() -> int:
    """The limit in bytes: ``--max-memory`` if set, else ``TOYFORGE_MAX_MEMORY``, else the
    available memory."""
    if _override is not None:
        return _override
    text = os.environ.get(MEMORY_ENV)
    if text:
        try:
            return parse_size(text)
        except ValueError as error:
            raise InvalidParameter(MEMORY_ENV, text, "a size like 512M or 8G") from error
    return available_memory()


@contextlib.contextmanager
def memory_limit_set_to(n_bytes: int | None) -> Iterator[None]:
    """Within the block, :func:`memory_limit` is ``n_bytes`` (``None``: the default)."""
    global _override
    previous = _override
    _override = None if n_bytes is None else int(n_bytes)
    try:
        yield
    finally:
        _override = previous


def format_bytes(n_bytes: float) -> str:
    """``1536`` -> ``"1.5 KiB"``; up to EiB, then powers of ten of EiB."""
    value = float(n_bytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.3g} EiB"


def check_memory(flag: str, value: object, n_bytes: float, *, what: str = "its arrays") -> None:
    """Refuse when ``n_bytes`` exceed the memory limit.

    Parameters
    ----------
    flag : str
        The option as the user typed it (``"--features"``), named in the message.
    value : object
        Its value.
    n_bytes : float
        The estimated size of the largest simultaneous allocation (may be huge or inf).
    what : str
        What needs the memory, in words (``"the 1000000 x 1000000 weight matrix"``).

    Raises
    ------
    InvalidParameter
        ``n_bytes`` above :func:`memory_limit`.
    """
    limit = memory_limit()
    if not n_bytes <= limit:
        raise InvalidParameter(
            flag,
            value,
            f"a value whose memory fits: {what} would need {format_bytes(n_bytes)}, "
            f"{format_bytes(limit)} is available (--max-memory sets the limit)",
        )


def check_work(flag: str, value: object, n_operations: float, *, what: str = "the run") -> None:
    """Refuse when ``n_operations`` exceed :data:`MAX_WORK_OPERATIONS` (a run of many hours)."""
    if not n_operations <= MAX_WORK_OPERATIONS:
        raise InvalidParameter(
            flag,
            value,
            f"a value whose work is bounded: {what} would take about {n_operations:.2g} "
            f"operations (more than {MAX_WORK_OPERATIONS:.0e}, many hours of CPU)",
        )
