"""The built-in sweep tasks: thin adapters from a grid point to the library's functions.

Each task is ``task(params: dict, seed: int) -> dict`` and is registered in
:mod:`toyforge.verify.sweep.engine` under the name in brackets. Estimates are returned as
:class:`~toyforge.verify.evaluate.estimate.Estimate` objects; the sweep flattens them into
``<name>``
and ``<name>_stderr`` columns. Library imports happen inside the tasks, so importing this module
is cheap and a task whose library part is missing fails (and is recorded) on its own.

* [``predict``] :func:`toyforge.theory.predict` — the large-N loss
  (docs/large_n_theory.md#the-closed-form-loss).
  With an ``n_features`` parameter the effective ratio ``n_d/n_s`` with
  ``n_d = max(floor(n_s r), 1)`` is used, as the paper's grid does
  (docs/large_n_theory.md#paper-grid-and-training-recipe).
* [``construct+evaluate``] the Persian-rug construction
  (:func:`toyforge.constructions.persian_rug.persian_rug`) and its Monte Carlo loss
  (:func:`toyforge.verify.evaluate.evaluators.evaluate`).
* [``train+evaluate``] a ReLU autoencoder trained by :func:`toyforge.verify.train.autoencoder.train`
  (Adam, fresh sparse batches, docs/large_n_theory.md#paper-grid-and-training-recipe), evaluated
  like the construction.
* [``compare``] :func:`toyforge.verify.compare.persian_rug.compare_persian_rug`: large-N and
finite-N
  theory, the rug's Monte Carlo loss and (with ``train = true``) a trained model.

Parameters a task does not know are refused (a typo in a spec's ``[fixed]`` table must not be
silently ignored). The adapters for the last three are written against the interfaces announced
for those modules; keep them thin: the science lives in the modules they call.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from toyforge.core.errors import InvalidParameter
from toyforge.core.validate import check_choice, check_int, check_probability

__all__ = [
    "compare_task",
    "construct_evaluate_task",
    "predict_task",
    "train_evaluate_task",
]

DEFAULT_EVAL_SAMPLES = 100_000
_SCALARS = (bool, int, float, str)


# --------------------------------------------------------------------------- helpers


def _check_known(task: str, params: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """Refuse parameters the task would ignore."""
    allowed = set(allowed)
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise InvalidParameter(f"{task} parameters", unknown, f"names among {sorted(allowed)}")


def _keyword_names(function: Callable[..., Any]) -> set[str]:
    """Names ``function`` accepts as keywords."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {
        name
        for name, parameter in inspect.signature(function).parameters.items()
        if parameter.kind in kinds
    }


def _matching(
    function: Callable[..., Any], params: Mapping[str, Any], exclude: Iterable[str] = ()
) -> dict[str, Any]:
    """The entries of ``params`` that ``function`` takes as keywords, minus ``exclude``."""
    names = _keyword_names(function) - set(exclude)
    return {name: value for name, value in params.items() if name in names}


def _sub_seeds(seed: int, count: int) -> list[int]:
    """``count`` independent 32-bit seeds derived from ``seed`` (numpy SeedSequence.spawn)."""
    return [int(child.generate_state(1)[0]) for child in np.random.SeedSequence(seed).spawn(count)]


def _scalar_fields(result: Any, skip: Iterable[str]) -> dict[str, Any]:
    """Top-level scalar and estimate fields of ``result.to_dict()``, of a dataclass's fields or
    of a mapping."""
    if hasattr(result, "to_dict"):
        data = result.to_dict()
    elif dataclasses.is_dataclass(result):
        data = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
    else:
        data = dict(result)
    skip = set(skip)
    fields = {}
    for key, value in data.items():
        if key in skip:
            continue
        if isinstance(value, np.generic):
            value = value.item()
        if value is None or isinstance(value, _SCALARS):
            fields[key] = value
        elif isinstance(value, Mapping) and {"value", "stderr"} <= set(value):
            fields[key] = {"value": value["value"], "stderr": value["stderr"]}
        elif hasattr(value, "value") and hasattr(value, "stderr"):
            fields[key] = value
    return _flatten_estimates(fields)


def _flatten_estimates(fields: dict[str, Any]) -> dict[str, Any]:
    flat = {}
    for key, value in fields.items():
        if isinstance(value, Mapping):
            flat[key] = value["value"]
            flat[f"{key}_stderr"] = value["stderr"]
        else:
            flat[key] = value
    return flat


def effective_ratio(n_features: int, ratio: float) -> tuple[int, float]:
    """``(n_hidden, n_hidden / n_features)`` with ``n_hidden = max(floor(n_features·ratio), 1)``
    (the paper's grid, docs/large_n_theory.md#paper-grid-and-training-recipe)."""
    n_hidden = max(math.floor(n_features * ratio), 1)
    return n_hidden, n_hidden / n_features


# --------------------------------------------------------------------------- predict


def predict_task(params: dict[str, Any], seed: int) -> dict[str, Any]:
    """[``predict``] Large-N prediction at ``ratio``, ``feature_prob`` (optional ``n_features``
    for the effective ratio; other keywords of :func:`toyforge.theory.predict` pass through).

    Outputs: the scalar fields of ``Prediction.to_dict()`` (``loss``, ``regime``, …) not named
    like a parameter, plus ``n_hidden`` and ``ratio_effective`` when ``n_features`` is given.
    The theory is deterministic: ``seed`` is unused.
    """
    # deferred: a task loads only its own library part (see the module docstring)
    from toyforge.theory import predict

    _check_known("predict", params, _keyword_names(predict) | {"n_features", "seed"})
    ratio = params["ratio"]
    extra: dict[str, Any] = {}
    if "n_features" in params:
        extra["n_hidden"], ratio = effective_ratio(int(params["n_features"]), ratio)
        extra["ratio_effective"] = ratio
    kwargs = _matching(predict, params, exclude=("ratio", "feature_prob", "seed"))
    prediction = predict(ratio, params["feature_prob"], **kwargs)
    outputs = _scalar_fields(prediction, skip=set(params) | set(extra))
    outputs["loss"] = float(prediction.loss)
    return {**outputs, **extra}


# --------------------------------------------------------------------------- construct+evaluate

_EVALUATION_PARAMS = ("n_samples", "batch_size", "value_dist", "importance")


def _evaluate(model: Any, params: Mapping[str, Any], seed: int) -> Any:
    """Monte Carlo loss of ``model`` on the sparse data of ``params`` (an Estimate)."""
    # deferred: a task loads only its own library part (see the module docstring)
    from toyforge.verify.evaluate.evaluators import SparseDataSpec, evaluate

    data_spec = SparseDataSpec(
        feature_prob=params["feature_prob"],
        value_dist=params.get("value_dist", "uniform"),
        importance=params.get("importance"),
    )
    kwargs = {"batch_size": int(params["batch_size"])} if "batch_size" in params else {}
    return evaluate(
        model, data_spec, int(params.get("n_samples", DEFAULT_EVAL_SAMPLES)), seed, **kwargs
    )


def construct_evaluate_task(params: dict[str, Any], seed: int) -> dict[str, Any]:
    """[``construct+evaluate``] Build the Persian rug at (``n_features``, ``ratio``,
    ``feature_prob``) and estimate its loss from ``n_samples`` (default 100 000) samples.

    Other keywords of :func:`~toyforge.constructions.persian_rug.persian_rug` (``selection``,
    ``n_candidates``) and of the evaluation (``batch_size``, ``value_dist``, ``importance``)
    pass through. Outputs: ``loss``/``loss_stderr``, ``n_hidden``, ``eval_samples``; the model
    (saved when the spec sets ``save_models``). Construction and evaluation use two seeds
    spawned from ``seed``.
    """
    # deferred: a task loads only its own library part (see the module docstring)
    from toyforge.constructions.persian_rug import persian_rug

    _check_known(
        "construct+evaluate",
        params,
        _keyword_names(persian_rug) | set(_EVALUATION_PARAMS) | {"seed"},
    )
    construct_seed, evaluate_seed = _sub_seeds(seed, 2)
    kwargs = _matching(persian_rug, params, exclude=("n_features", "ratio", "feature_prob", "seed"))
    model = persian_rug(
        int(params["n_features"]),
        params["ratio"],
        params["feature_prob"],
        seed=construct_seed,
        **kwargs,
    )
    estimate = _evaluate(model, params, evaluate_seed)
    return {
        "loss": estimate,
        "n_hidden": int(model.n_hidden),
        "eval_samples": int(estimate.n_samples),
        "model": model,
    }


# --------------------------------------------------------------------------- train+evaluate

#: The trainer's initialisation schemes (verify/train/initialisers.py), checked before import.
_INIT_SCHEMES = ("aligned", "torch", "xavier_normal")

_TRAIN_PARAMS = (
    "n_features",
    "ratio",
    "feature_prob",
    "feature_probs",
    "importance",
    "init",
    "steps",
    "batch_size",
    "lr",
    "eps",
    "dtype",
    "backend",
    "seed",
    "n_samples",
    "converge",
    "tol",
    "window",
)


def train_evaluate_task(params: dict[str, Any], seed: int) -> dict[str, Any]:
    """[``train+evaluate``] Train a ReLU autoencoder on fresh sparse data
    (:func:`toyforge.verify.train.runs.train_run`) and estimate its loss like
    ``construct+evaluate``.

    Parameters: ``n_features``, ``ratio`` (``n_hidden = max(floor(n r), 1)``),
    ``feature_prob``, ``steps``; optional ``batch_size`` (1024), ``lr`` (0.03/sqrt(n_features),
    docs/training.md#learning-rate-defaults; the paper used 3e-3/sqrt(n_features)), ``eps``
    (the paper's 1e-7), ``init`` ("aligned"; "torch" for the paper's initialisation,
    docs/training.md#silent-features), ``dtype`` ("float32"), ``backend``
    ("auto": the numba kernel), ``n_samples`` (evaluation, 100 000); ``steps`` is a budget:
    the convergence rule (``converge``, default true; ``tol``, ``window``,
    ``docs/training.md#the-convergence-rule``) stops earlier. Serial kernels (one thread per
    task: the sweep parallelises over tasks). Non-identical features: ``feature_probs`` (a law
    as text, such as ``"zipf:1.2:0.4:5e-4"``, instead of ``feature_prob``) and/or
    ``importance`` (a law as text, such as ``"geometric:0.9"``, weighting the loss; unlike the
    number ``importance`` of ``construct+evaluate``), checked before anything is imported or
    trained (docs/non_uniform_features.md#training-on-non-identical-features).

    Outputs: ``loss``/``loss_stderr`` (held-out), ``converged``, ``steps_run``,
    ``silent_features`` (docs/training.md#silent-features), ``final_train_loss``,
    ``n_hidden``, ``train_seconds``, ``steps_per_second``; the model.
    Initialisation, training data and evaluation use three seeds spawned from ``seed``.
    A sweep may train several points together (:mod:`toyforge.verify.sweep.batch_tasks`);
    both paths use :func:`train_evaluate_run` and :func:`train_evaluate_outputs`.
    """
    run, evaluate_seed = train_evaluate_run(params, seed)  # checks params before any import
    # deferred: a task loads only its own library part (see the module docstring)
    from toyforge.verify.train.runs import train_run

    return train_evaluate_outputs(params, run, train_run(run), evaluate_seed)


def train_evaluate_run(params: Mapping[str, Any], seed: int) -> tuple[Any, int]:
    """The :class:`~toyforge.verify.train.runs.AutoencoderRun` of a ``train+evaluate`` point
    and the seed of its evaluation (see :func:`train_evaluate_task`)."""
    _check_known("train+evaluate", params, _TRAIN_PARAMS)
    init = check_choice("init", params.get("init", "aligned"), _INIT_SCHEMES)
    features = _feature_laws(params)
    # deferred: a task loads only its own library part (see the module docstring)
    from toyforge.verify.train.config import TrainConfig
    from toyforge.verify.train.convergence import ConvergenceRule, default_learning_rate
    from toyforge.verify.train.optim import AdamConfig
    from toyforge.verify.train.runs import AutoencoderRun

    init_seed, train_seed, evaluate_seed = _sub_seeds(seed, 3)
    n_features = int(params["n_features"])
    optimizer = AdamConfig(
        lr=float(params.get("lr", default_learning_rate(n_features))),
        eps=float(params.get("eps", 1e-7)),
    )
    config = TrainConfig(
        steps=int(params["steps"]),
        batch_size=int(params.get("batch_size", 1024)),
        optimizer=optimizer,
        dtype=params.get("dtype", "float32"),
        backend=params.get("backend", "auto"),
        seed=train_seed,
        convergence=ConvergenceRule(
            tol=float(params.get("tol", 1e-3)), window=int(params.get("window", 200))
        )
        if params.get("converge", True)
        else None,
    )
    run = AutoencoderRun(
        n_features=n_features,
        ratio=params["ratio"],
        feature_prob=None if features is not None else params["feature_prob"],
        features=features,
        train=config,
        init_seed=init_seed,
        init=init,
    )
    return run, evaluate_seed


def _feature_laws(params: Mapping[str, Any]) -> Any:
    """The FeatureDistribution of the ``feature_probs`` / ``importance`` laws of a
    ``train+evaluate`` point, or None for identical features (``feature_prob`` alone)."""
    if "feature_probs" not in params and "importance" not in params:
        return None
    if ("feature_probs" in params) == ("feature_prob" in params):
        raise InvalidParameter(
            "feature_probs",
            params.get("feature_probs"),
            "exactly one of feature_prob (a number) and feature_probs (a law as text)",
        )
    for name in ("feature_probs", "importance"):
        if name in params and not isinstance(params[name], str):
            raise InvalidParameter(name, params[name], "a law as text, e.g. 'geometric:0.9'")
    # deferred: a task loads only its own library part (see the module docstring)
    from toyforge.verify.data.feature_sampler import FeatureDistribution

    if "feature_probs" in params:
        probs = params["feature_probs"]
    else:
        probs = f"constant:{check_probability('feature_prob', params['feature_prob'])!r}"
    n_features = check_int("n_features", params["n_features"], minimum=1)
    return FeatureDistribution.from_laws(n_features, probs, params.get("importance", "constant:1"))


def train_evaluate_outputs(
    params: Mapping[str, Any], run: Any, result: Any, evaluate_seed: int
) -> dict[str, Any]:
    """The outputs of a ``train+evaluate`` point from its training result (see
    :func:`train_evaluate_task`)."""
    if getattr(run, "features", None) is None:
        estimate = _evaluate(result.model, params, evaluate_seed)
    else:  # non-identical features: the trainer's held-out evaluator of the same source
        # deferred: a task loads only its own library part (see the module docstring)
        from toyforge.verify.train.heldout import held_out_loss

        n_samples = int(params.get("n_samples", DEFAULT_EVAL_SAMPLES))
        estimate = held_out_loss(result.model, run.data(), run.train, evaluate_seed, n_samples)
    return {
        "loss": estimate,
        "converged": bool(result.converged),
        "steps_run": int(result.steps),
        "silent_features": result.silent_features,
        "final_train_loss": float(result.history.train_loss[-1]),
        "n_hidden": run.n_hidden,
        "train_seconds": float(result.train_seconds),
        "steps_per_second": float(result.steps_per_second),
        "model": result.model,
    }


# --------------------------------------------------------------------------- compare


def compare_task(params: dict[str, Any], seed: int) -> dict[str, Any]:
    """[``compare``] :func:`toyforge.verify.compare.persian_rug.compare_persian_rug` at one grid
    point.

    Parameters: ``n_features``, ``ratio``, ``feature_prob`` and any field of
    :class:`~toyforge.verify.compare.persian_rug.RugCompareConfig` (``n_samples``, ``selection``,
    ``train``,
    ``train_steps``, …; unknown names are refused). The construction seed and the Monte Carlo
    seed (``mc_seed``, unless given) are spawned from ``seed``. Outputs: the scalar fields of
    the :class:`~toyforge.verify.compare.persian_rug.ComparisonResult` (``theory_loss``,
    ``finite_theory_loss``, ``construction_loss``, ``construction_stderr``, ``trained_loss``,
    …) and ``construction_vs_finite_z``.
    """
    # deferred: a task loads only its own library part (see the module docstring)
    from toyforge.verify.compare.persian_rug import compare_persian_rug

    n_features, ratio, feature_prob, options = compare_arguments(params, seed)
    result = compare_persian_rug(n_features, ratio, feature_prob, **options)
    return compare_outputs(params, result)


def compare_arguments(
    params: Mapping[str, Any], seed: int
) -> tuple[int, float, float, dict[str, Any]]:
    """``(n_features, ratio, feature_prob, options)`` of :func:`compare_task` for
    :func:`~toyforge.verify.compare.persian_rug.compare_persian_rug` (parameters checked)."""
    # deferred: a task loads only its own library part (see the module docstring)
    from toyforge.verify.compare.persian_rug import RugCompareConfig

    allowed = {f.name for f in dataclasses.fields(RugCompareConfig)}
    _check_known("compare", params, allowed)
    construct_seed, mc_seed = _sub_seeds(seed, 2)
    options = {
        key: value
        for key, value in params.items()
        if key not in ("n_features", "ratio", "feature_prob")
    }
    options["seed"] = construct_seed
    options.setdefault("mc_seed", mc_seed)
    return int(params["n_features"]), params["ratio"], params["feature_prob"], options


def compare_outputs(params: Mapping[str, Any], result: Any) -> dict[str, Any]:
    """The outputs of :func:`compare_task` from its comparison result."""
    outputs = _scalar_fields(result, skip=set(params) | {"config"})
    z_score = getattr(result, "construction_vs_finite_z", None)
    z_score = z_score() if callable(z_score) else z_score
    if z_score is not None:
        outputs["construction_vs_finite_z"] = float(z_score)
    return outputs
