"""The PAIR "1s and 0s" task (sparse parity) and an exact ReLU construction for it.

Task (PAIR explorable "Do machine learning models memorize or generalize?", sweep
``source/grokking/sweep-sparse-parity/``; docs/modular_addition.md#sparse-parity): inputs are random
strings of ``n_bits`` = 30 bits in {0, 1}; the label is the parity of the first ``k`` = 3 bits.
The model is a one-hidden-layer ReLU MLP with one output logit (label 1 iff logit > 0), i.e.
:class:`~toyforge.constructions.models.MLP` with ``n_outputs = 1``.

Construction (this module): with s = x_0 + … + x_{k−1} ∈ {0, …, k}, k hidden neurons
``h_j = ReLU(s − j)`` (weights 1 on the k relevant bits, 0 elsewhere, bias −j) and the readout

    logit(s) = −1 + 2·h_0 + Σ_{j=1}^{k−1} (−1)^j · 4 · h_j

interpolate the points (s, (−1)^{s+1}) piecewise linearly, so logit = +1 for odd s and −1 for
even s. The irrelevant bits have weight exactly 0, so the logit depends on the 2^k patterns of
the relevant bits only: checking those 2^k patterns (:func:`verify_parity_construction`) proves
exactness on all 2^n_bits inputs, with margin 1 (logit · (2·label − 1) = 1 everywhere).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from toyforge.constructions.models import MLP
from toyforge.core.errors import InvalidParameter
from toyforge.core.validate import as_rng, check_int

__all__ = [
    "ParityCheck",
    "parity_construction",
    "sparse_parity_data",
    "verify_parity_construction",
]


def _check_sizes(n_bits: int, k: int) -> tuple[int, int]:
    n_bits = check_int("n_bits", n_bits, minimum=1)
    k = check_int("k", k, minimum=1)
    if k > n_bits:
        raise InvalidParameter("k", k, f"1 <= k <= n_bits = {n_bits}")
    return n_bits, k


def sparse_parity_data(
    n_examples: int, n_bits: int = 30, k: int = 3, seed: int | np.random.Generator | None = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Random bit strings and the parity of their first ``k`` bits.

    Returns
    -------
    x : ndarray of float64, shape (n_examples, n_bits), entries 0.0 / 1.0
    y : ndarray of int64, shape (n_examples,), entries 0 / 1
    """
    n_examples = check_int("n_examples", n_examples, minimum=1)
    n_bits, k = _check_sizes(n_bits, k)
    rng = as_rng(seed)
    x = rng.integers(0, 2, size=(n_examples, n_bits)).astype(np.float64)
    y = (x[:, :k].sum(axis=1).astype(np.int64)) % 2
    return x, y


def parity_construction(n_bits: int = 30, k: int = 3, *, scale: float = 1.0) -> MLP:
    """The k-neuron ReLU MLP that computes the parity of the first k bits exactly (see module).

    ``scale`` multiplies the readout (the logit is ±scale).
    """
    n_bits, k = _check_sizes(n_bits, k)
    if not np.isfinite(scale) or scale <= 0:
        raise InvalidParameter("scale", scale, "a positive finite number")
    W1 = np.zeros((k, n_bits))
    W1[:, :k] = 1.0
    b1 = -np.arange(k, dtype=np.float64)
    readout = np.array([2.0] + [4.0 * (-1) ** j for j in range(1, k)])
    return MLP(W1=W1, b1=b1, W2=scale * readout[None, :], b2=np.array([-scale]), activation="relu")


@dataclass(frozen=True, kw_only=True, slots=True)
class ParityCheck:
    """Exact check of a parity MLP over the 2^k relevant patterns.

    ``proof_complete`` is True when every weight on the irrelevant bits is exactly 0, so the
    patterns cover all 2^n_bits inputs; ``margin`` = min over patterns of logit·(2·label − 1).
    """

    n_bits: int
    k: int
    n_patterns: int
    accuracy: float
    margin: float
    proof_complete: bool


def verify_parity_construction(model: MLP, k: int = 3) -> ParityCheck:
    """Evaluate ``model`` on all 2^k settings of the first k bits (the others 0).

    If the first-layer weights of bits k… are exactly zero this is a proof of exactness on all
    2^n_bits inputs; otherwise the check covers only the enumerated patterns and
    ``proof_complete`` is False.
    """
    n_bits = model.n_features
    n_bits, k = _check_sizes(n_bits, k)
    if model.n_outputs != 1:
        raise InvalidParameter("model", f"{model.n_outputs} outputs", "an MLP with one output")
    patterns = np.array(list(itertools.product((0.0, 1.0), repeat=k)))
    x = np.zeros((len(patterns), n_bits))
    x[:, :k] = patterns
    labels = patterns.sum(axis=1).astype(np.int64) % 2
    logits = model.forward(x)[:, 0]
    signed = logits * (2 * labels - 1)
    weights = model.W1 if model.embedding is None else model.W1 @ model.embedding
    return ParityCheck(
        n_bits=n_bits,
        k=k,
        n_patterns=len(patterns),
        accuracy=float(np.mean(signed > 0)),
        margin=float(signed.min()),
        proof_complete=bool(np.all(weights[:, k:] == 0)),
    )
