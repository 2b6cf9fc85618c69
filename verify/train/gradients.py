"""Plain-numpy forward and backward passes: the reference for every training kernel.

Losses (the Persian-rug paper's mean MSE; the TMS importance-weighted sum):

* ``"mse"``: ``L = (1/(B·n)) Σ_b Σ_i I_i (y_bi − t_bi)²`` with ``reduction="mean"`` (mean over
  batch × outputs, torch ``F.mse_loss``), or ``L = (1/B) Σ_b Σ_i I_i (y_bi − t_bi)²`` with
  ``reduction="sum_features"`` (the TMS / double-descent normalisation). ``I`` is an optional
  per-output importance vector (default all ones).
* ``"cross_entropy"``: ``L = −(1/B) Σ_b Σ_c q_bc log softmax(z_b)_c`` with hard labels
  (integer class per sample, ``q`` one-hot) or soft labels (rows of probabilities).

Models (toyforge.constructions.models):

* :class:`ReluAutoencoder`: ``z = W_in x``, ``u = W_out z + b``, ``y = ReLU(u)``. Gradients
  ``dL/du = dL/dy · [u > 0]``, ``dW_out = (dL/du)ᵀ z``, ``db = Σ_b dL/du``,
  ``dz = dL/du W_out``, ``dW_in = dzᵀ x``. Tied (``W_out = W_inᵀ``): ``dW = dW_in + dW_outᵀ``.
* :class:`MLP`: ``e = E x`` (fixed embedding, optional), ``h = act(W1 e + b1)``,
  ``o = W2 h + b2``, ``y = ReLU(o)`` if ``output_relu``. The embedding is not trained.

The derivative of ReLU at 0 is taken as 0 (as in PyTorch).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from toyforge.constructions.models import MLP, ReluAutoencoder
from toyforge.core.errors import IncompatibleWeights, InvalidParameter
from toyforge.core.validate import check_choice

__all__ = [
    "LOSSES",
    "REDUCTIONS",
    "LossGradients",
    "cross_entropy_loss",
    "loss_and_gradients",
    "mlp_loss_gradients",
    "model_loss",
    "mse_loss",
    "per_sample_losses",
    "relu_autoencoder_loss_gradients",
    "trainable_arrays",
]

LOSSES = ("mse", "cross_entropy")
REDUCTIONS = ("mean", "sum_features")


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class LossGradients:
    """A loss value and the gradient of every trainable array (by the model's array names)."""

    loss: float
    gradients: dict[str, np.ndarray]


# --------------------------------------------------------------------------- losses


def mse_loss(
    outputs: np.ndarray,
    targets: np.ndarray,
    importance: np.ndarray | None = None,
    reduction: str = "mean",
) -> tuple[float, np.ndarray]:
    """Importance-weighted squared error and its gradient with respect to ``outputs``.

    Parameters
    ----------
    outputs, targets : ndarray, shape (batch, n_outputs)
    importance : ndarray, shape (n_outputs,), optional
        Per-output weight ``I_i`` (TMS importance); all ones when None.
    reduction : {"mean", "sum_features"}
        Divide the sum by batch × n_outputs ("mean") or by batch only ("sum_features").

    Returns
    -------
    loss : float
    grad : ndarray, shape (batch, n_outputs)
        ``dL/d outputs``.
    """
    check_choice("reduction", reduction, REDUCTIONS)
    batch, width = outputs.shape
    if targets.shape != outputs.shape:
        raise IncompatibleWeights(
            f"targets have shape {targets.shape}, expected "
            f"{outputs.shape} (the model's output shape)"
        )
    scale = 1.0 / (batch * width) if reduction == "mean" else 1.0 / batch
    residual = outputs - targets
    weighted = residual if importance is None else residual * importance
    loss = float(np.sum(weighted * residual, dtype=np.float64) * scale)
    return loss, (2.0 * scale) * weighted


def cross_entropy_loss(logits: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy and its gradient with respect to ``logits``.

    Parameters
    ----------
    logits : ndarray, shape (batch, n_classes)
    targets : ndarray, shape (batch,) of integer classes, or (batch, n_classes) probabilities
        Hard or soft labels.

    Returns
    -------
    loss : float
    grad : ndarray, shape (batch, n_classes)
        ``(softmax(z) − q) / batch``.
    """
    batch, n_classes = logits.shape
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    log_probs = shifted - log_norm
    probs = np.exp(log_probs)
    soft = _soft_labels(targets, batch, n_classes, logits.dtype)
    loss = float(-np.sum(soft * log_probs, dtype=np.float64) / batch)
    return loss, (probs - soft) / batch


def _soft_labels(targets: np.ndarray, batch: int, n_classes: int, dtype: np.dtype) -> np.ndarray:
    targets = np.asarray(targets)
    if targets.dtype.kind in "iu":
        if targets.shape != (batch,):
            raise IncompatibleWeights(
                f"hard labels must have shape ({batch},), got {targets.shape}"
            )
        if targets.size and (targets.min() < 0 or targets.max() >= n_classes):
            raise InvalidParameter("targets", "out of range", f"class labels in [0, {n_classes})")
        soft = np.zeros((batch, n_classes), dtype=dtype)
        soft[np.arange(batch), targets] = 1.0
        return soft
    if targets.shape != (batch, n_classes):
        raise IncompatibleWeights(
            f"soft labels must have shape ({batch}, {n_classes}), got {targets.shape}"
        )
    return targets.astype(dtype, copy=False)


def _output_loss(
    outputs: np.ndarray,
    targets: np.ndarray,
    loss: str,
    importance: np.ndarray | None,
    reduction: str,
) -> tuple[float, np.ndarray]:
    check_choice("loss", loss, LOSSES)
    if loss == "mse":
        return mse_loss(outputs, np.asarray(targets, dtype=outputs.dtype), importance, reduction)
    if importance is not None:
        raise InvalidParameter("importance", "given", "None with the cross-entropy loss")
    return cross_entropy_loss(outputs, targets)


# --------------------------------------------------------------------------- models


def relu_autoencoder_loss_gradients(
    W_in: np.ndarray,
    W_out: np.ndarray,
    b: np.ndarray,
    inputs: np.ndarray,
    targets: np.ndarray | None = None,
    *,
    tied: bool = False,
    loss: str = "mse",
    importance: np.ndarray | None = None,
    reduction: str = "mean",
) -> LossGradients:
    """Loss and gradients of ``y = ReLU(W_out W_in x + b)`` (module docstring).

    Parameters
    ----------
    W_in : ndarray, shape (n_hidden, n_features)
    W_out : ndarray, shape (n_features, n_hidden)
        Ignored (taken as ``W_in.T``) when ``tied``.
    b : ndarray, shape (n_features,)
    inputs : ndarray, shape (batch, n_features)
    targets : ndarray, shape (batch, n_features), optional
        Defaults to ``inputs`` (autoencoding).
    tied : bool
        Return one gradient ``W_in`` for the shared matrix.

    Returns
    -------
    LossGradients
        Keys ``W_in``, ``W_out``, ``b`` (``W_in``, ``b`` when tied).
    """
    if tied:
        W_out = W_in.T
    hidden = inputs @ W_in.T
    pre = hidden @ W_out.T + b
    outputs = np.maximum(pre, 0.0)
    value, grad_out = _output_loss(
        outputs, inputs if targets is None else targets, loss, importance, reduction
    )
    grad_pre = grad_out * (pre > 0)
    grad_W_out = grad_pre.T @ hidden
    grad_hidden = grad_pre @ W_out
    grad_W_in = grad_hidden.T @ inputs
    grad_b = grad_pre.sum(axis=0)
    if tied:
        return LossGradients(loss=value, gradients={"W_in": grad_W_in + grad_W_out.T, "b": grad_b})
    return LossGradients(
        loss=value, gradients={"W_in": grad_W_in, "W_out": grad_W_out, "b": grad_b}
    )


def _activation_and_derivative(name: str, pre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if name == "relu":
        return np.maximum(pre, 0.0), (pre > 0).astype(pre.dtype)
    if name == "quadratic":
        return pre * pre, 2.0 * pre
    return pre, np.ones_like(pre)


def mlp_loss_gradients(
    params: Mapping[str, np.ndarray],
    inputs: np.ndarray,
    targets: np.ndarray,
    *,
    activation: str = "relu",
    output_relu: bool = False,
    embedding: np.ndarray | None = None,
    loss: str = "mse",
    importance: np.ndarray | None = None,
    reduction: str = "mean",
) -> LossGradients:
    """Loss and gradients of the one-hidden-layer MLP (module docstring).

    Parameters
    ----------
    params : mapping with ``W1`` (n_hidden, n_inputs), ``b1`` (n_hidden,),
        ``W2`` (n_outputs, n_hidden), ``b2`` (n_outputs,)
    inputs : ndarray, shape (batch, n_features)
        n_features = n_inputs, or the embedding's width when ``embedding`` is given.
    targets : ndarray
        (batch, n_outputs) for MSE; classes (batch,) or probabilities (batch, n_outputs) for
        cross-entropy.
    embedding : ndarray, shape (n_inputs, n_features), optional
        Fixed input embedding (no gradient).

    Returns
    -------
    LossGradients
        Keys ``W1``, ``b1``, ``W2``, ``b2``.
    """
    features = inputs if embedding is None else inputs @ embedding.T
    pre_hidden = features @ params["W1"].T + params["b1"]
    hidden, act_derivative = _activation_and_derivative(activation, pre_hidden)
    out = hidden @ params["W2"].T + params["b2"]
    outputs = np.maximum(out, 0.0) if output_relu else out
    value, grad_outputs = _output_loss(outputs, targets, loss, importance, reduction)
    grad_out = grad_outputs * (out > 0) if output_relu else grad_outputs
    grad_hidden = (grad_out @ params["W2"]) * act_derivative
    return LossGradients(
        loss=value,
        gradients={
            "W1": grad_hidden.T @ features,
            "b1": grad_hidden.sum(axis=0),
            "W2": grad_out.T @ hidden,
            "b2": grad_out.sum(axis=0),
        },
    )


def trainable_arrays(model: ReluAutoencoder | MLP) -> dict[str, np.ndarray]:
    """The arrays a trainer updates, by name (``W_in``, ``b`` for a tied autoencoder)."""
    if isinstance(model, ReluAutoencoder):
        if model.tied:
            return {"W_in": model.W_in, "b": model.b}
        return {"W_in": model.W_in, "W_out": model.W_out, "b": model.b}
    if isinstance(model, MLP):
        return {"W1": model.W1, "b1": model.b1, "W2": model.W2, "b2": model.b2}
    raise InvalidParameter("model", type(model).__name__, "a ReluAutoencoder or an MLP")


def loss_and_gradients(
    model: ReluAutoencoder | MLP,
    inputs: np.ndarray,
    targets: np.ndarray | None = None,
    *,
    loss: str = "mse",
    importance: np.ndarray | None = None,
    reduction: str = "mean",
) -> LossGradients:
    """Loss and gradients of ``model`` on one batch (dispatches on the architecture).

    ``targets`` defaults to ``inputs`` for a :class:`ReluAutoencoder`; an :class:`MLP` needs
    them.
    """
    inputs = np.asarray(inputs)
    if isinstance(model, ReluAutoencoder):
        return relu_autoencoder_loss_gradients(
            model.W_in,
            model.W_out,
            model.b,
            inputs,
            targets,
            tied=model.tied,
            loss=loss,
            importance=importance,
            reduction=reduction,
        )
    if isinstance(model, MLP):
        if targets is None:
            raise InvalidParameter("targets", None, "an array (an MLP needs targets)")
        return mlp_loss_gradients(
            trainable_arrays(model),
            inputs,
            targets,
            activation=model.activation,
            output_relu=model.output_relu,
            embedding=model.embedding,
            loss=loss,
            importance=importance,
            reduction=reduction,
        )
    raise InvalidParameter("model", type(model).__name__, "a ReluAutoencoder or an MLP")


def model_loss(
    model: ReluAutoencoder | MLP,
    inputs: np.ndarray,
    targets: np.ndarray | None = None,
    *,
    loss: str = "mse",
    importance: np.ndarray | None = None,
    reduction: str = "mean",
) -> float:
    """The loss alone (forward pass through ``model.forward``)."""
    inputs = np.asarray(inputs)
    outputs = model.forward(inputs)
    if targets is None:
        if not isinstance(model, ReluAutoencoder):
            raise InvalidParameter("targets", None, "an array (an MLP needs targets)")
        targets = inputs
    value, _ = _output_loss(outputs, targets, loss, importance, reduction)
    return value


def per_sample_losses(
    model: ReluAutoencoder | MLP,
    inputs: np.ndarray,
    targets: np.ndarray | None = None,
    *,
    loss: str = "mse",
    importance: np.ndarray | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    """The loss of each sample, shape (batch,); their mean is :func:`model_loss`.

    MSE: ``Σ_i I_i (y_i − t_i)²`` divided by n_outputs (``"mean"``) or not
    (``"sum_features"``). Cross-entropy: ``−Σ_c q_c log softmax(z)_c``.
    """
    check_choice("loss", loss, LOSSES)
    check_choice("reduction", reduction, REDUCTIONS)
    inputs = np.asarray(inputs)
    outputs = model.forward(inputs)
    if targets is None:
        if not isinstance(model, ReluAutoencoder):
            raise InvalidParameter("targets", None, "an array (an MLP needs targets)")
        targets = inputs
    if loss == "cross_entropy":
        if importance is not None:
            raise InvalidParameter("importance", "given", "None with the cross-entropy loss")
        shifted = outputs - outputs.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        soft = _soft_labels(targets, outputs.shape[0], outputs.shape[1], outputs.dtype)
        return -np.sum(soft * log_probs, axis=1, dtype=np.float64)
    residual = outputs - np.asarray(targets, dtype=outputs.dtype)
    weighted = residual if importance is None else residual * importance
    sums = np.sum(weighted * residual, axis=1, dtype=np.float64)
    return sums / outputs.shape[1] if reduction == "mean" else sums
