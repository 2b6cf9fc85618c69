"""Decompile an MLP into the key → value table it stores, where it is one.

:func:`read_dictionary` reads the table off a one-hidden-layer
:class:`~toyforge.constructions.models.MLP` on a set of inputs and reports how much of the
network's behaviour the table explains; a built
:func:`toyforge.constructions.dictionary.lookup_table` reads back exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from toyforge.constructions.models import MLP
from toyforge.constructions.point_sets import check_points
from toyforge.core.errors import InvalidParameter
from toyforge.core.validate import check_interval

__all__ = ["DictionaryTable", "read_dictionary"]


@dataclass(frozen=True, kw_only=True, slots=True)
class DictionaryTable:
    """The key → value table read off an MLP on a set of inputs.

    Entry e says: neuron ``neurons[e]`` fires for input ``inputs[e]`` alone among the inputs
    (it is that input's dominant neuron and no other input's), with weight direction
    ``keys[e]`` (unit vector in input space), threshold ``thresholds[e]`` (minus its bias)
    and stored value ``values[e]`` (its output contribution on that input, plus the output
    bias).

    Attributes
    ----------
    inputs, neurons : int arrays, shape (n_entries,)
    keys : array, shape (n_entries, n_features)
    thresholds : array, shape (n_entries,)
    values : array, shape (n_entries, n_outputs)
    coverage : float
        Fraction of the inputs that have an entry.
    explained : float
        ``1 − Σ‖f(x) − table(x)‖² / Σ‖f(x) − b2‖²`` over all inputs, where table(x) is b2 plus
        the entry's value for inputs with an entry and b2 otherwise (1: the network is its
        table on these inputs). 1 when the network outputs b2 everywhere.
    """

    inputs: np.ndarray
    neurons: np.ndarray
    keys: np.ndarray
    thresholds: np.ndarray
    values: np.ndarray
    coverage: float
    explained: float


def read_dictionary(model: MLP, inputs: Any, dominance: float = 0.99) -> DictionaryTable:
    """Decompile ``model`` into a key → value table on ``inputs``.

    For every input, the neuron with the largest output contribution ‖a_k(x) W2[:, k]‖ is its
    candidate; it becomes an entry when it carries at least ``dominance`` of the input's total
    contribution Σ_k ‖a_k(x) W2[:, k]‖ and is no other input's candidate. A built
    :func:`lookup_table` reads back exactly (every input an entry, explained = 1).

    Parameters
    ----------
    model : MLP
        Without an output ReLU (the table is additive).
    inputs : array, shape (n_inputs, n_features)
    dominance : float in (0, 1]
    """
    if not isinstance(model, MLP):
        raise InvalidParameter("model", type(model).__name__, "an MLP")
    if model.output_relu:
        raise InvalidParameter("model", "output_relu=True", "an MLP without output ReLU")
    dominance = check_interval("dominance", dominance, 0.0, 1.0, low_open=True)
    X = check_points("inputs", inputs)
    hidden = model.hidden(X)  # (N, H)
    column_norms = np.linalg.norm(model.W2, axis=0)  # (H,)
    contribution = np.abs(hidden) * column_norms[None, :]  # (N, H)
    top = np.argmax(contribution, axis=1)
    total = contribution.sum(axis=1)
    rows = np.arange(X.shape[0])
    dominant = (total > 0) & (contribution[rows, top] >= dominance * total)
    claimed = np.bincount(top[dominant], minlength=model.n_hidden)
    entry = dominant & (claimed[top] == 1)
    inputs_index = rows[entry]
    neurons = top[entry]
    outputs = model.forward(X)
    values = hidden[inputs_index, neurons][:, None] * model.W2[:, neurons].T + model.b2
    table = np.tile(model.b2, (X.shape[0], 1))
    table[inputs_index] = values
    signal = float(np.sum((outputs - model.b2) ** 2))
    error = float(np.sum((outputs - table) ** 2))
    explained = 1.0 if signal == 0 else 1.0 - error / signal
    weights = model.W1 if model.embedding is None else model.W1 @ model.embedding
    key_norms = np.linalg.norm(weights[neurons], axis=1)
    keys = weights[neurons] / np.where(key_norms > 0, key_norms, 1.0)[:, None]
    return DictionaryTable(
        inputs=inputs_index,
        neurons=neurons,
        keys=keys,
        thresholds=-model.b1[neurons] / np.where(key_norms > 0, key_norms, 1),
        values=values,
        coverage=float(entry.mean()),
        explained=explained,
    )
