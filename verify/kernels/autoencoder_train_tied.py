"""Training step of the tied ReLU autoencoder ``y = ReLU(Wᵀ W x + b)`` on dense batches.

The TMS setting (Elhage et al. 2022): few features, a tiny hidden layer, a fixed dataset,
importance-weighted squared error. At these sizes a numpy step is dominated by the overhead of
a dozen small array operations; :func:`tied_loss_gradients` does the three products as BLAS
calls from numba and the elementwise work (ReLU, loss, ``G``, ``db``) in one fused pass::

    h = W x,  u = Wᵀ h + b,  y = ReLU(u),  G = 2 s I (y − t) [u > 0]
    dW = h Gᵀ + (W G) xᵀ   (summed over the batch),   db = Σ G

(``s`` = 1/(B·n) for the mean loss, 1/B for the per-sample sum). The update is the fused Adam
of :mod:`toyforge.verify.kernels.autoencoder_train_adam`. The numpy reference is
:func:`toyforge.verify.train.gradients.relu_autoencoder_loss_gradients` with ``tied=True``
(tests/verify/kernels/test_autoencoder_tied_kernel.py). See ``docs/training.md#speed``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from toyforge.verify.kernels.autoencoder_train_adam import adam_coefficients, adam_flat
from toyforge.verify.train.optim import Adam, AdamConfig

__all__ = ["TiedStepper", "tied_loss_gradients", "warmup"]

_REASSOC = {"reassoc"}


@njit(cache=True, fastmath=_REASSOC)
def tied_loss_gradients(x, targets, W, b, importance, scale, grad_W, grad_b):
    """Loss of the batch; ``grad_W`` (n_hidden, n_features) and ``grad_b`` overwritten.

    ``x``, ``targets``: (batch, n_features) dense, C-contiguous; ``W``: (n_hidden,
    n_features). The three products are BLAS calls; ReLU, the loss, ``G`` and ``db`` are one
    fused pass.
    """
    hidden = np.dot(x, np.ascontiguousarray(W.T))
    pre = np.dot(hidden, W)
    batch, n_features = pre.shape
    loss = 0.0
    grad_b[:] = 0.0
    two_scale = 2.0 * scale
    for row in range(batch):
        for f in range(n_features):
            u = pre[row, f] + b[f]
            y = u if u > 0.0 else 0.0
            residual = y - targets[row, f]
            weighted = importance[f] * residual
            loss += weighted * residual
            g = two_scale * weighted if u > 0.0 else 0.0
            pre[row, f] = g
            grad_b[f] += g
    back = np.dot(pre, np.ascontiguousarray(W.T))
    grad_W[:, :] = np.dot(np.ascontiguousarray(hidden.T), pre) + np.dot(
        np.ascontiguousarray(back.T), x
    )
    return loss * scale


class TiedStepper:
    """Weights, moments and one Adam step of a tied autoencoder on dense batches.

    Parameters
    ----------
    W : ndarray, shape (n_hidden, n_features)
    b : ndarray, shape (n_features,)
        Initial weights (copied, cast to ``dtype``).
    optimizer : Adam
        Its config, schedule and step count drive the update (moments kept here).
    importance : ndarray, shape (n_features,), optional
    reduction : {"mean", "sum_features"}
    decay_bias : bool
        Apply weight decay to ``b``.
    """

    def __init__(self, W, b, optimizer: Adam, *, dtype=np.float32, importance=None,
                 reduction: str = "mean", decay_bias: bool = True) -> None:  # fmt: skip
        self.dtype = np.dtype(dtype)
        self.W = np.array(W, dtype=self.dtype, order="C")
        self.b = np.array(b, dtype=self.dtype)
        n_features = self.W.shape[1]
        self.importance = np.ones(n_features, dtype=self.dtype) if importance is None else (
            np.asarray(importance, dtype=self.dtype))  # fmt: skip
        self.reduction, self.decay_bias, self.optimizer = reduction, decay_bias, optimizer
        self.moments = {name: (np.zeros_like(a), np.zeros_like(a)) for name, a in
                        (("W", self.W), ("b", self.b))}  # fmt: skip
        self.grad_W, self.grad_b = np.empty_like(self.W), np.empty_like(self.b)

    def step(self, inputs: np.ndarray, targets: np.ndarray | None = None) -> float:
        """One Adam step on the dense batch; returns its loss."""
        x = np.ascontiguousarray(inputs, dtype=self.dtype)
        t = x if targets is None else np.ascontiguousarray(targets, dtype=self.dtype)
        n_features = self.W.shape[1]
        batch = x.shape[0]
        scale = 1.0 / (batch * n_features) if self.reduction == "mean" else 1.0 / batch
        loss = tied_loss_gradients(
            x, t, self.W, self.b, self.importance, scale, self.grad_W, self.grad_b
        )
        coefs, bias_coefs = self._coefficients()
        adam_flat(self.W.reshape(-1), *(m.reshape(-1) for m in self.moments["W"]),
                  self.grad_W.reshape(-1), coefs)  # fmt: skip
        adam_flat(self.b, *self.moments["b"], self.grad_b, bias_coefs)
        return float(loss)

    def _coefficients(self) -> tuple[np.ndarray, np.ndarray]:
        optimizer = self.optimizer
        config = optimizer.config
        lr = optimizer.learning_rate()
        optimizer.step_count += 1
        t = optimizer.step_count
        hyper = (lr, config.beta1, config.beta2, config.eps, 1.0 - config.beta1**t,
                 1.0 - config.beta2**t)  # fmt: skip
        decay = config.weight_decay if self.decay_bias else 0.0
        return (
            adam_coefficients(*hyper, config.weight_decay, config.decoupled, self.dtype),
            adam_coefficients(*hyper, decay, config.decoupled, self.dtype),
        )

    def arrays(self) -> dict[str, np.ndarray]:
        """Copies of the weights: ``W_in`` (= W) and ``b``."""
        return {"W_in": self.W.copy(), "b": self.b.copy()}


def warmup() -> list[str]:
    """Compile (or load from cache) the tied kernel for float32 and float64."""
    names = []
    for dtype in (np.float32, np.float64):
        stepper = TiedStepper(np.ones((2, 3)), np.zeros(3), Adam(config=AdamConfig()), dtype=dtype)
        stepper.step(np.eye(3))
        names.append(f"tied autoencoder step ({np.dtype(dtype).name})")
    return names
