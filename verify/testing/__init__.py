"""Property testing: hypothesis strategies and checks for constructions and trained baselines.

Public names are re-exported here and imported lazily from their modules
(strategies: Hypothesis strategies; checks: the statistical and exactness checks), so
importing one module does not import its siblings, and Hypothesis is imported only when a
strategy is built.
"""

from __future__ import annotations

from toyforge.core.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "AutoencoderConfig": "toyforge.verify.testing.strategies",
    "CheckResult": "toyforge.verify.testing.checks",
    "KeyValueTable": "toyforge.verify.testing.strategies",
    "assert_exact_on_all_inputs": "toyforge.verify.testing.checks",
    "assert_loss_at_most": "toyforge.verify.testing.checks",
    "assert_theory_matches_monte_carlo": "toyforge.verify.testing.checks",
    "check_exact_on_all_inputs": "toyforge.verify.testing.checks",
    "check_loss_at_most": "toyforge.verify.testing.checks",
    "check_theory_matches_monte_carlo": "toyforge.verify.testing.checks",
    "configurations": "toyforge.verify.testing.strategies",
    "frequency_sets": "toyforge.verify.testing.strategies",
    "key_value_tables": "toyforge.verify.testing.strategies",
    "primes": "toyforge.verify.testing.strategies",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
