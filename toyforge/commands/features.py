"""``toyforge features KIND ...``: non-identical features (one member per
``toyforge/commands/_features_*.py`` module): class theory, two-feature diagram, sampling,
the TMS importance sweep, loss against width."""

from __future__ import annotations

from typing import Any

from toyforge.commands._common import register_family


def register(subparsers: Any) -> None:
    register_family(
        subparsers,
        "features",
        "non-identical features: importance, power-law firing rates, correlations",
    )
