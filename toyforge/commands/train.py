"""``toyforge train KIND ...``: one member per ``toyforge/commands/_train_*.py`` module."""

from __future__ import annotations

from typing import Any

from toyforge.commands._common import register_family


def register(subparsers: Any) -> None:
    register_family(subparsers, "train", "train a model with the torch-free trainer")
