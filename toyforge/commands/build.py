"""``toyforge build KIND ...``: one member per ``toyforge/commands/_build_*.py`` module."""

from __future__ import annotations

from typing import Any

from toyforge.commands._common import register_family


def register(subparsers: Any) -> None:
    register_family(subparsers, "build", "build weights directly (constructions)")
