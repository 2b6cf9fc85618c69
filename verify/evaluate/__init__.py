"""Evaluation of models: Monte Carlo estimates with standard errors, exact enumeration,
dimensionality.

Public names are re-exported here and imported lazily from their modules
(estimate, evaluators, rug_monte_carlo, dimensionality), so importing one module does not import
its siblings.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "AutoencoderEvaluation": "toyforge.verify.evaluate.evaluators",
    "EVALUATORS": "toyforge.verify.evaluate.evaluators",
    "Estimate": "toyforge.verify.evaluate.estimate",
    "EvaluationRequest": "toyforge.verify.evaluate.evaluators",
    "ModularAdditionReport": "toyforge.verify.evaluate.evaluators",
    "PATHS": "toyforge.verify.evaluate.evaluators",
    "RugEvaluation": "toyforge.verify.evaluate.rug_monte_carlo",
    "SparseDataSpec": "toyforge.verify.evaluate.evaluators",
    "autoencoder_batch_losses": "toyforge.verify.evaluate.evaluators",
    "choose_path": "toyforge.verify.evaluate.evaluators",
    "data_dimensionality": "toyforge.verify.evaluate.dimensionality",
    "dimensions_per_feature": "toyforge.verify.evaluate.dimensionality",
    "evaluate": "toyforge.verify.evaluate.evaluators",
    "evaluate_autoencoder": "toyforge.verify.evaluate.evaluators",
    "evaluate_model": "toyforge.verify.evaluate.evaluators",
    "evaluate_modular_addition": "toyforge.verify.evaluate.evaluators",
    "evaluate_persian_rug": "toyforge.verify.evaluate.rug_monte_carlo",
    "evaluation_batches": "toyforge.verify.evaluate.evaluators",
    "feature_dimensionality": "toyforge.verify.evaluate.dimensionality",
    "feature_interference": "toyforge.verify.evaluate.dimensionality",
    "max_data_dimensionality": "toyforge.verify.evaluate.dimensionality",
    "reference_losses": "toyforge.verify.evaluate.evaluators",
    "register_evaluator": "toyforge.verify.evaluate.evaluators",
    "rug_batch_losses": "toyforge.verify.evaluate.rug_monte_carlo",
    "rug_monte_carlo": "toyforge.verify.evaluate.rug_monte_carlo",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
