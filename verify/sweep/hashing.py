"""Grid points of a sweep: canonical JSON, the content hash of a task, its seed.

The hash of a task is the first :data:`HASH_LENGTH` hex digits of the SHA-256 of the canonical
JSON of ``{"params": ..., "schema": SCHEMA_VERSION, "task": ...}`` (sorted keys, no spaces),
never Python's ``hash()``: it is stable across processes, machines and versions.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from toyforge.core.validate import check_int

__all__ = [
    "HASH_LENGTH",
    "SCHEMA_VERSION",
    "TaskPoint",
    "canonical_json",
    "point_seed",
    "task_hash",
]

SCHEMA_VERSION = 1
"""Version of the task-hash and record format; bump it when a task's meaning changes."""

HASH_LENGTH = 16
"""Hex digits kept of the SHA-256 (64 bits: collisions are negligible below ~10^8 tasks)."""


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
