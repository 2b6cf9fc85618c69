"""Sampling of synthetic data: sparse feature batches, fixed datasets, modular pairs.

Public names are re-exported here and imported lazily from their modules
(sampling), so importing one module does not import its siblings.
"""

from __future__ import annotations

from toyforge.core.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "CorrelatedPair": "toyforge.verify.data.feature_sampler",
    "FeatureDistribution": "toyforge.verify.data.feature_sampler",
    "FeatureLaw": "toyforge.verify.data.laws",
    "MagnitudeLaw": "toyforge.verify.data.laws",
    "SparseBatch": "toyforge.verify.data.sampling",
    "VALUE_DISTRIBUTIONS": "toyforge.verify.data.sampling",
    "fixed_dataset": "toyforge.verify.data.sampling",
    "modular_addition_pairs": "toyforge.verify.data.sampling",
    "parse_law": "toyforge.verify.data.laws",
    "parse_magnitudes": "toyforge.verify.data.laws",
    "sample_dense_reference": "toyforge.verify.data.feature_sampler",
    "sample_sparse_batch": "toyforge.verify.data.sampling",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
