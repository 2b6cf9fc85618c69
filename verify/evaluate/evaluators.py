"""Evaluate any model: a registry ``architecture -> evaluator`` and :func:`evaluate`.

* :func:`evaluate` — ``Estimate(value, stderr, n_samples)`` of the loss of a model on a data
  distribution: a Monte Carlo estimate for ReLU autoencoders
  (:mod:`toyforge.verify.evaluate.autoencoder`), the exact cross-entropy over all p² pairs for
  modular-addition MLPs (:mod:`toyforge.verify.evaluate.modular_addition`).
* A registry ``architecture -> evaluator`` (:func:`register_evaluator`) used by
  :func:`evaluate` and by ``toyforge evaluate``, so other architectures (e.g. the matrix-free
  Persian-rug model of :mod:`toyforge.verify.evaluate.rug_monte_carlo`) plug in without
  editing this module.

The request and data-distribution dataclasses live in :mod:`toyforge.verify.evaluate.config`
and are importable from here as well.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from toyforge.constructions.io import import_construction_modules
from toyforge.core.errors import InvalidParameter
from toyforge.verify.evaluate.autoencoder import AutoencoderEvaluation, evaluate_autoencoder
from toyforge.verify.evaluate.config import (
    DEFAULT_BATCH,
    DEFAULT_SAMPLES,
    PATHS,
    EvaluationRequest,
    SparseDataSpec,
)
from toyforge.verify.evaluate.estimate import Estimate
from toyforge.verify.evaluate.modular_addition import (
    ModularAdditionReport,
    evaluate_modular_addition,
    modular_addition_evaluator,
)

__all__ = [
    "EVALUATORS",
    "PATHS",
    "AutoencoderEvaluation",
    "EvaluationRequest",
    "ModularAdditionReport",
    "SparseDataSpec",
    "evaluate",
    "evaluate_model",
    "evaluate_modular_addition",
    "evaluator_for",
    "register_evaluator",
]


Evaluator = Callable[[Any, EvaluationRequest], Any]
EVALUATORS: dict[str, Evaluator] = {}
"""architecture name -> ``evaluator(model, request) -> result dataclass``.

A result should be a frozen dataclass of scalars (the CLI prints its fields); if it has an
``estimate`` property, :func:`evaluate` returns that."""


def register_evaluator(
    architecture: str, evaluator: Evaluator, *, replace: bool = False
) -> Evaluator:
    """Register ``evaluator(model, request)`` for models of ``architecture``."""
    if architecture in EVALUATORS and EVALUATORS[architecture] is not evaluator and not replace:
        raise InvalidParameter(
            "architecture",
            architecture,
            "a name without an evaluator yet (pass replace=True to override)",
        )
    EVALUATORS[architecture] = evaluator
    return evaluator


def evaluator_for(model: Any) -> Evaluator:
    """The evaluator registered for ``model.architecture``."""
    name = getattr(model, "architecture", type(model).__name__)
    if name not in EVALUATORS:
        _import_construction_modules()
    if name not in EVALUATORS:
        raise InvalidParameter(
            "model", name, "an architecture with an evaluator: " + ", ".join(sorted(EVALUATORS))
        )
    return EVALUATORS[name]


# Modules of toyforge.verify that register evaluators for architectures defined elsewhere.
EVALUATOR_MODULES: tuple[str, ...] = ("toyforge.verify.evaluate.rug_monte_carlo",)


def _import_construction_modules() -> None:
    """Import every toyforge.constructions module and the evaluator modules (they register)."""
    import_construction_modules()
    for name in EVALUATOR_MODULES:
        importlib.import_module(name)


def evaluate_model(model: Any, request: EvaluationRequest) -> Any:
    """Run the evaluator registered for ``model``'s architecture on ``request``."""
    return evaluator_for(model)(model, request)


def evaluate(
    model: Any,
    data_spec: SparseDataSpec | None = None,
    n_samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
    *,
    batch_size: int = DEFAULT_BATCH,
    path: str = "auto",
) -> Estimate:
    """Loss of ``model`` on ``data_spec`` as an :class:`Estimate`.

    Parameters
    ----------
    model : a registered architecture
        ReLU autoencoders give a Monte Carlo estimate of the per-feature MSE; modular-addition
        models give their exact cross-entropy over all p² pairs (``data_spec`` ignored).
    data_spec : SparseDataSpec
        The data distribution (required for sampled evaluators).
    n_samples : int
        Number of i.i.d. samples (>= 2).
    seed : int
        Seed of ``numpy.random.default_rng``; same seed, same samples, same estimate.
    batch_size : int
        Samples per batch (memory ~ batch_size × n_features floats).
    path : {"auto", "hidden", "product", "dense"}
        Autoencoder evaluation path (:func:`choose_path`).
    """
    if data_spec is not None and not isinstance(data_spec, SparseDataSpec):
        raise InvalidParameter(
            "data_spec", type(data_spec).__name__, "a SparseDataSpec (or None for exact models)"
        )
    request = EvaluationRequest(
        feature_prob=None if data_spec is None else data_spec.feature_prob,
        n_samples=n_samples,
        seed=seed,
        batch_size=batch_size,
        value_dist="uniform" if data_spec is None else data_spec.value_dist,
        importance=None if data_spec is None else data_spec.importance,
        path=path,
    )
    result = evaluate_model(model, request)
    estimate = getattr(result, "estimate", None)
    if not isinstance(estimate, Estimate):
        raise InvalidParameter(
            "model",
            getattr(model, "architecture", type(model).__name__),
            "an architecture whose evaluator returns an estimate",
        )
    return estimate


register_evaluator("relu-autoencoder", evaluate_autoencoder)
register_evaluator("modular-addition-mlp", modular_addition_evaluator)
