"""``toyforge figure KIND ...``: one member per ``toyforge/commands/_figure_*.py`` module."""

from __future__ import annotations

from typing import Any

from toyforge.commands._common import register_family


def register(subparsers: Any) -> None:
    register_family(subparsers, "figure", "draw a figure")
