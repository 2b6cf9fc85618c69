"""Evaluation of models: Monte Carlo estimates with standard errors, exact enumeration,
dimensionality.

Public names are re-exported here and imported lazily from their modules
(estimate; config: the data distribution and the request; evaluators: the registry and
evaluate; autoencoder; modular_addition; rug_monte_carlo; dimensionality), so importing one
module does not import more than it needs.
"""

from __future__ import annotations

from toyforge.core.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "AutoencoderEvaluation": "toyforge.verify.evaluate.autoencoder",
    "EVALUATORS": "toyforge.verify.evaluate.evaluators",
    "Estimate": "toyforge.verify.evaluate.estimate",
    "EvaluationRequest": "toyforge.verify.evaluate.config",
    "ModularAdditionReport": "toyforge.verify.evaluate.modular_addition",
    "PATHS": "toyforge.verify.evaluate.config",
    "RugEvaluation": "toyforge.verify.evaluate.rug_monte_carlo",
    "SparseDataSpec": "toyforge.verify.evaluate.config",
    "autoencoder_batch_losses": "toyforge.verify.evaluate.autoencoder",
    "choose_path": "toyforge.verify.evaluate.autoencoder",
    "data_dimensionality": "toyforge.verify.evaluate.dimensionality",
    "dimensions_per_feature": "toyforge.verify.evaluate.dimensionality",
    "evaluate": "toyforge.verify.evaluate.evaluators",
    "evaluate_autoencoder": "toyforge.verify.evaluate.autoencoder",
    "evaluate_model": "toyforge.verify.evaluate.evaluators",
    "evaluate_modular_addition": "toyforge.verify.evaluate.modular_addition",
    "evaluator_for": "toyforge.verify.evaluate.evaluators",
    "evaluate_persian_rug": "toyforge.verify.evaluate.rug_monte_carlo",
    "evaluation_batches": "toyforge.verify.evaluate.autoencoder",
    "feature_dimensionality": "toyforge.verify.evaluate.dimensionality",
    "feature_interference": "toyforge.verify.evaluate.dimensionality",
    "max_data_dimensionality": "toyforge.verify.evaluate.dimensionality",
    "reference_losses": "toyforge.verify.evaluate.autoencoder",
    "register_evaluator": "toyforge.verify.evaluate.evaluators",
    "rug_batch_losses": "toyforge.verify.evaluate.rug_monte_carlo",
    "rug_monte_carlo": "toyforge.verify.evaluate.rug_monte_carlo",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
