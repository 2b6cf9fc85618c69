"""Initial weights for the trainers: PyTorch ``nn.Linear`` defaults, aligned, or Xavier-normal.

See ``docs/training.md#the-trainer-protocol``.
"""

from __future__ import annotations

import math

import numpy as np

from toyforge.constructions.models import MLP, ReluAutoencoder
from toyforge.core.validate import as_rng, check_choice, check_int

__all__ = ["INIT_SCHEMES", "init_mlp", "init_relu_autoencoder"]

INIT_SCHEMES = ("torch", "aligned", "xavier_normal")


def _uniform(rng: np.random.Generator, bound: float, shape: tuple[int, ...]) -> np.ndarray:
    return rng.uniform(-bound, bound, size=shape)


def init_relu_autoencoder(
    n_features: int,
    n_hidden: int,
    seed: int | np.random.Generator | None = 0,
    *,
    tied: bool = False,
    scheme: str = "torch",
) -> ReluAutoencoder:
    """A freshly initialised :class:`ReluAutoencoder` (float64).

    ``scheme="torch"``: PyTorch ``nn.Linear`` defaults, uniform on ±1/√fan_in for weights and
    bias (the Persian-rug code): ``W_in`` ±1/√n_features, ``W_out`` and ``b`` ±1/√n_hidden.
    ``scheme="aligned"``: ``W_in`` as for ``"torch"``, ``W_out = √(n_features/n_hidden)·W_inᵀ``
    (each output row starts along its own feature's embedding; its entries have the ``"torch"``
    law ±1/√n_hidden) and ``b = 0``, so every output starts alive: ``(W_out W_in)_ii > 0 =
    −b_i`` and no feature is silent at step 0 (:mod:`toyforge.verify.train.diagnostics`).
    Under ``"torch"`` about half the features start silent (``b_i < 0`` swamps the tiny
    ``(W_out W_in)_ii``) and at very sparse points never recover
    (``docs/training.md#silent-features``). Tied models: ``W_out = W_inᵀ``, ``b = 0``.
    ``scheme="xavier_normal"``: the TMS colab, ``W`` ~ N(0, 2/(n_features + n_hidden)), b = 0
    (Elhage et al. 2022). Tied models use ``W_in`` for both layers.
    """
    n_features = check_int("n_features", n_features, minimum=1)
    n_hidden = check_int("n_hidden", n_hidden, minimum=1)
    check_choice("scheme", scheme, INIT_SCHEMES)
    rng = as_rng(seed)
    if scheme == "xavier_normal":
        std = math.sqrt(2.0 / (n_features + n_hidden))
        W_in = rng.normal(0.0, std, size=(n_hidden, n_features))
        W_out = W_in.T if tied else rng.normal(0.0, std, size=(n_features, n_hidden))
        b = np.zeros(n_features)
    elif scheme == "aligned":
        W_in = _uniform(rng, 1.0 / math.sqrt(n_features), (n_hidden, n_features))
        W_out = W_in.T if tied else math.sqrt(n_features / n_hidden) * W_in.T
        b = np.zeros(n_features)
    else:
        W_in = _uniform(rng, 1.0 / math.sqrt(n_features), (n_hidden, n_features))
        W_out = W_in.T if tied else _uniform(rng, 1.0 / math.sqrt(n_hidden), (n_features, n_hidden))
        b = _uniform(rng, 1.0 / math.sqrt(n_hidden), (n_features,))
    if tied:
        return ReluAutoencoder.tied_from(W_in, b)
    return ReluAutoencoder(W_in=W_in, W_out=W_out, b=b)


def init_mlp(
    n_inputs: int,
    n_hidden: int,
    n_outputs: int,
    seed: int | np.random.Generator | None = 0,
    *,
    activation: str = "relu",
    output_relu: bool = False,
    embedding: np.ndarray | None = None,
    scheme: str = "torch",
) -> MLP:
    """A freshly initialised :class:`MLP` (float64).

    ``scheme="torch"``: ``nn.Linear`` defaults (uniform ±1/√fan_in for weights and biases);
    ``"xavier_normal"``: N(0, 2/(fan_in + fan_out)) weights, zero biases. ``embedding``
    (n_inputs, n_features) is kept fixed by the trainer.
    """
    n_inputs = check_int("n_inputs", n_inputs, minimum=1)
    n_hidden = check_int("n_hidden", n_hidden, minimum=1)
    n_outputs = check_int("n_outputs", n_outputs, minimum=1)
    check_choice("scheme", scheme, INIT_SCHEMES)
    rng = as_rng(seed)
    if scheme == "xavier_normal":
        W1 = rng.normal(0.0, math.sqrt(2.0 / (n_inputs + n_hidden)), size=(n_hidden, n_inputs))
        W2 = rng.normal(0.0, math.sqrt(2.0 / (n_hidden + n_outputs)), size=(n_outputs, n_hidden))
        b1, b2 = np.zeros(n_hidden), np.zeros(n_outputs)
    else:
        W1 = _uniform(rng, 1.0 / math.sqrt(n_inputs), (n_hidden, n_inputs))
        b1 = _uniform(rng, 1.0 / math.sqrt(n_inputs), (n_hidden,))
        W2 = _uniform(rng, 1.0 / math.sqrt(n_hidden), (n_outputs, n_hidden))
        b2 = _uniform(rng, 1.0 / math.sqrt(n_hidden), (n_outputs,))
    return MLP(
        W1=W1,
        b1=b1,
        W2=W2,
        b2=b2,
        activation=activation,
        output_relu=output_relu,
        embedding=embedding,
    )
