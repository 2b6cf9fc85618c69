"""``toyforge compare KIND ...``: one member per ``toyforge/commands/_compare_*.py`` module."""

from __future__ import annotations

from typing import Any

from toyforge.commands._common import register_family


def register(subparsers: Any) -> None:
    register_family(subparsers, "compare", "compare theory, construction and trained models")
