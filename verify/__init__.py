"""Evaluation, training and comparison of models: numba kernels with numpy references.

Public API (numba kernels load lazily, on the first call that needs them):

* data: :class:`SparseBatch`, :func:`sample_sparse_batch`, :func:`fixed_dataset`,
  :func:`modular_addition_pairs`;
* evaluation: :func:`evaluate` -> :class:`Estimate`, :class:`SparseDataSpec`,
  :func:`evaluate_modular_addition` -> :class:`ModularAdditionReport`,
  :func:`register_evaluator`;
* weight files (re-exported from :mod:`toyforge.constructions.io`): :func:`save`, :func:`load`.
"""

from toyforge.constructions.io import load, save
from toyforge.verify.data.sampling import (
    SparseBatch,
    fixed_dataset,
    modular_addition_pairs,
    sample_sparse_batch,
)
from toyforge.verify.evaluate.autoencoder import AutoencoderEvaluation
from toyforge.verify.evaluate.config import EvaluationRequest, SparseDataSpec
from toyforge.verify.evaluate.estimate import Estimate
from toyforge.verify.evaluate.evaluators import evaluate, evaluate_model, register_evaluator
from toyforge.verify.evaluate.modular_addition import (
    ModularAdditionReport,
    evaluate_modular_addition,
)

__all__ = [
    "AutoencoderEvaluation",
    "Estimate",
    "EvaluationRequest",
    "ModularAdditionReport",
    "SparseBatch",
    "SparseDataSpec",
    "evaluate",
    "evaluate_model",
    "evaluate_modular_addition",
    "fixed_dataset",
    "load",
    "modular_addition_pairs",
    "register_evaluator",
    "sample_sparse_batch",
    "save",
]
