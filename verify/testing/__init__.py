"""Property testing: hypothesis strategies and checks for constructions and trained baselines.

Public names are re-exported here and imported lazily from their modules
(properties), so importing one module does not import its siblings.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "AutoencoderConfig": "toyforge.verify.testing.properties",
    "CheckResult": "toyforge.verify.testing.properties",
    "KeyValueTable": "toyforge.verify.testing.properties",
    "assert_exact_on_all_inputs": "toyforge.verify.testing.properties",
    "assert_loss_at_most": "toyforge.verify.testing.properties",
    "assert_theory_matches_monte_carlo": "toyforge.verify.testing.properties",
    "check_exact_on_all_inputs": "toyforge.verify.testing.properties",
    "check_loss_at_most": "toyforge.verify.testing.properties",
    "check_theory_matches_monte_carlo": "toyforge.verify.testing.properties",
    "configurations": "toyforge.verify.testing.properties",
    "frequency_sets": "toyforge.verify.testing.properties",
    "key_value_tables": "toyforge.verify.testing.properties",
    "primes": "toyforge.verify.testing.properties",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
