"""Exact metrics of modular-addition MLPs: accuracy, cross-entropy and margin.

:func:`evaluate_modular_addition` enumerates all p² ordered pairs (or a given subset) in
float64; it is the evaluator registered for ``"modular-addition-mlp"`` (through
:func:`modular_addition_evaluator`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from toyforge.constructions.models import apply_activation
from toyforge.core.errors import InvalidParameter
from toyforge.verify.evaluate.config import EvaluationRequest
from toyforge.verify.evaluate.estimate import Estimate

__all__ = [
    "ModularAdditionReport",
    "evaluate_modular_addition",
    "modular_addition_evaluator",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class ModularAdditionReport:
    """Exact metrics of a modular-addition model over a set of pairs
    (docs/modular_addition.md#margins-and-exactness).

    Parameters
    ----------
    accuracy : float
        Fraction of pairs whose correct logit is strictly above every wrong logit.
    cross_entropy : float
        Mean over pairs of ``logsumexp(logits) − logit[(a+b) mod p]`` (natural log).
    margin : float
        Min over pairs of (correct logit − best wrong logit); > 0 iff accuracy is 1.
    normalised_margin : float
        ``margin / (‖W_in‖_F^d ‖W_out‖_F)``, d = 1 for ReLU, 2 for x²
        (docs/modular_addition.md#margins-and-exactness).
    worst_pair : tuple of int
        A pair ``(a, b)`` attaining the margin.
    n_pairs, n_correct, modulus : int
    """

    accuracy: float
    cross_entropy: float
    margin: float
    normalised_margin: float
    worst_pair: tuple[int, int]
    n_pairs: int
    n_correct: int
    modulus: int

    @property
    def estimate(self) -> Estimate:
        """The cross-entropy as an exact :class:`Estimate`."""
        return Estimate(value=self.cross_entropy, stderr=0.0, n_samples=self.n_pairs, exact=True)


def _pair_array(model: Any, pairs: Any) -> np.ndarray:
    modulus = model.modulus
    if pairs is None:
        a, b = np.meshgrid(np.arange(modulus), np.arange(modulus), indexing="ij")
        return np.stack([a.ravel(), b.ravel()], axis=1)
    array = np.asarray(pairs)
    if array.dtype.kind not in "iu" or array.ndim != 2 or array.shape[1] != 2 or not array.size:
        raise InvalidParameter(
            "pairs",
            getattr(array, "shape", None),
            "a non-empty integer array of shape (n_pairs, 2)",
        )
    if array.min() < 0 or array.max() >= modulus:
        raise InvalidParameter("pairs", "out of range", f"residues in [0, {modulus})")
    return array.astype(np.int64)


def evaluate_modular_addition(
    model: Any, pairs: Any = None, *, chunk_elements: int = 1 << 22
) -> ModularAdditionReport:
    """Exact accuracy, cross-entropy and margin of a modular-addition model.

    Logits ``act(W_in[a] + W_in_right[b]) W_out`` (docs/modular_addition.md#the-architecture) are
    computed in float64 for every pair, ``chunk_elements`` logits at a time.

    Parameters
    ----------
    model : ModularAdditionMLP
    pairs : int array, shape (n_pairs, 2), optional
        Restrict to these pairs (e.g. the test split of
        :func:`toyforge.verify.data.sampling.modular_addition_pairs`); default all p² ordered pairs.

    Returns
    -------
    ModularAdditionReport
    """
    if getattr(model, "architecture", None) != "modular-addition-mlp":
        raise InvalidParameter(
            "model", type(model).__name__, "a ModularAdditionMLP (constructions.models)"
        )
    modulus = model.modulus
    pair_array = _pair_array(model, pairs)
    left = np.asarray(model.input_matrix(), dtype=np.float64)
    right = np.asarray(model.right_input_matrix(), dtype=np.float64)
    W_out = np.asarray(model.W_out, dtype=np.float64)
    chunk = max(1, chunk_elements // modulus)
    ce_sum, n_correct = 0.0, 0
    margin, worst = math.inf, (0, 0)
    for start in range(0, len(pair_array), chunk):
        a, b = pair_array[start : start + chunk, 0], pair_array[start : start + chunk, 1]
        logits = apply_activation(model.activation, left[a] + right[b]) @ W_out
        rows = np.arange(len(a))
        correct = logits[rows, (a + b) % modulus]
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(shifted).sum(axis=1)) + logits.max(axis=1)
        ce_sum += float((log_norm - correct).sum())
        logits[rows, (a + b) % modulus] = -np.inf
        gaps = correct - logits.max(axis=1)
        n_correct += int(np.count_nonzero(gaps > 0))
        index = int(np.argmin(gaps))
        if gaps[index] < margin:
            margin, worst = float(gaps[index]), (int(a[index]), int(b[index]))
    degree = 2 if model.activation == "quadratic" else 1
    scale = np.linalg.norm(left) ** degree * np.linalg.norm(W_out)
    n_pairs = len(pair_array)
    return ModularAdditionReport(
        accuracy=n_correct / n_pairs,
        cross_entropy=ce_sum / n_pairs,
        margin=margin,
        normalised_margin=margin / scale if scale > 0 else 0.0,
        worst_pair=worst,
        n_pairs=n_pairs,
        n_correct=n_correct,
        modulus=modulus,
    )


def modular_addition_evaluator(model: Any, request: EvaluationRequest) -> ModularAdditionReport:
    """The registered evaluator: :func:`evaluate_modular_addition` on all pairs."""
    del request  # exact: nothing to sample
    return evaluate_modular_addition(model)
