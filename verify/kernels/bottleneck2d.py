"""Full-batch AdamW training of the tied ReLU-output model with a 2-d bottleneck (m = 2).

The model of the data double-descent experiment (Henighan et al. 2023, "Superposition,
Memorization, and Double Descent"; docs/memorisation.md#data-double-descent)::

    h_t = W x_t                 (W: 2 x n, x_t sparse)
    x'_t = ReLU(Wᵀ h_t + b)
    L = (1/T) Σ_t Σ_i (x'_ti − x_ti)²

trained full batch over a fixed dataset of T points held in CSR form. The kernel exploits two
facts (docs/memorisation.md#data-double-descent): with m = 2 the pre-activation of output i is three
multiply-adds, and each point has only ~k ≈ 10 active features out of n. One dense pass over
the outputs assumes x = 0; a correction over the sparse support then fixes the active entries.
The gradient is (with g_ti = (2/T)(x'_ti − x_ti)·[z_ti > 0], z the pre-activation)::

    ∂L/∂b_i = Σ_t g_ti
    ∂L/∂W_i = Σ_t g_ti h_t  +  Σ_t x_ti (Σ_j g_tj W_j)      (decoder + encoder side)

followed by the AdamW update of :mod:`toyforge.verify.train.optim` (torch convention, decoupled
weight
decay on both W and b, as in the replications of docs/memorisation.md#data-double-descent).

Entry kernels (numba, ``cache=True``): :func:`loss_and_gradient_kernel` and
:func:`train_steps_kernel`. Plain-numpy references: :func:`loss_and_gradient_reference` and
:func:`train_steps_reference` (the latter uses :class:`toyforge.verify.train.optim.Adam`).
"""

from __future__ import annotations

import numba
import numpy as np

from toyforge.verify.train.optim import Adam, AdamConfig

__all__ = [
    "loss_and_gradient_kernel",
    "loss_and_gradient_reference",
    "train_steps_kernel",
    "train_steps_reference",
    "warmup",
]

# "reassoc"/"contract" let LLVM vectorise the reductions; they assume nothing about NaN/inf.
_FASTMATH = {"reassoc", "contract"}


@numba.njit(fastmath=_FASTMATH)
def _point_gradient(W, b, indptr, indices, values, point, scale, grad_W, grad_b):
    """Add point ``point``'s gradient to grad_W/grad_b and return its squared error."""
    n_features = W.shape[1]
    start, stop = indptr[point], indptr[point + 1]
    h0 = 0.0
    h1 = 0.0
    for entry in range(start, stop):
        feature = indices[entry]
        h0 += W[0, feature] * values[entry]
        h1 += W[1, feature] * values[entry]
    d0 = 0.0
    d1 = 0.0
    error = 0.0
    # dense pass: every output as if x = 0, so the residual is ReLU(z)
    for feature in range(n_features):
        z = W[0, feature] * h0 + W[1, feature] * h1 + b[feature]
        y = max(z, 0.0)
        error += y * y
        g = scale * y
        grad_b[feature] += g
        grad_W[0, feature] += g * h0
        grad_W[1, feature] += g * h1
        d0 += g * W[0, feature]
        d1 += g * W[1, feature]
    # correction on the support: residual ReLU(z) − x where z > 0, and −x where z <= 0
    for entry in range(start, stop):
        feature = indices[entry]
        x = values[entry]
        z = W[0, feature] * h0 + W[1, feature] * h1 + b[feature]
        if z > 0.0:
            error += x * x - 2.0 * x * z
            delta = -scale * x
            grad_b[feature] += delta
            grad_W[0, feature] += delta * h0
            grad_W[1, feature] += delta * h1
            d0 += delta * W[0, feature]
            d1 += delta * W[1, feature]
        else:
            error += x * x
    # encoder side: h_t = Σ_i W_i x_ti
    for entry in range(start, stop):
        feature = indices[entry]
        grad_W[0, feature] += d0 * values[entry]
        grad_W[1, feature] += d1 * values[entry]
    return error


@numba.njit(fastmath=_FASTMATH)
def _loss_and_gradient(W, b, indptr, indices, values, grad_W, grad_b):
    """Mean squared error over the T points; fills grad_W (2, n) and grad_b (n,)."""
    n_points = indptr.size - 1
    grad_W[:] = 0.0
    grad_b[:] = 0.0
    scale = 2.0 / n_points
    total = 0.0
    for point in range(n_points):
        total += _point_gradient(W, b, indptr, indices, values, point, scale, grad_W, grad_b)
    return total / n_points


@numba.njit(fastmath=_FASTMATH)
def _adamw_update(
    param, grad, first, second, lr, beta1, beta2, eps, weight_decay, correction1, correction2
):
    """In-place AdamW step on a flat view (same formula as verify/optim.py)."""
    decay = 1.0 - lr * weight_decay
    step_size = lr / correction1
    for index in range(param.size):
        g = grad[index]
        first[index] = beta1 * first[index] + (1.0 - beta1) * g
        second[index] = beta2 * second[index] + (1.0 - beta2) * (g * g)
        param[index] *= decay
        param[index] -= step_size * first[index] / (np.sqrt(second[index] / correction2) + eps)


@numba.njit(cache=True)
def loss_and_gradient_kernel(W, b, indptr, indices, values):
    """Loss and gradient of the m = 2 model on a CSR dataset.

    Parameters
    ----------
    W : float64 array, shape (2, n_features)
    b : float64 array, shape (n_features,)
    indptr : int64 array, shape (n_points + 1,)
    indices : int32/int64 array, shape (nnz,)
    values : float64 array, shape (nnz,)

    Returns
    -------
    loss : float
    grad_W : float64 array, shape (2, n_features)
    grad_b : float64 array, shape (n_features,)
    """
    grad_W = np.zeros_like(W)
    grad_b = np.zeros_like(b)
    loss = _loss_and_gradient(W, b, indptr, indices, values, grad_W, grad_b)
    return loss, grad_W, grad_b


@numba.njit(cache=True)
def train_steps_kernel(
    W,
    b,
    first_W,
    second_W,
    first_b,
    second_b,
    indptr,
    indices,
    values,
    learning_rates,
    step_offset,
    beta1,
    beta2,
    eps,
    weight_decay,
    losses,
):
    """Run ``learning_rates.size`` full-batch AdamW steps in place.

    ``W``, ``b`` and the four moment arrays are updated in place; ``losses[s]`` receives the
    training loss evaluated before step s (as a trainer logs it). ``step_offset`` is the number
    of steps already taken (for the bias corrections).
    """
    grad_W = np.zeros_like(W)
    grad_b = np.zeros_like(b)
    flat_W = W.reshape(W.size)
    flat_grad_W = grad_W.reshape(grad_W.size)
    flat_first_W = first_W.reshape(first_W.size)
    flat_second_W = second_W.reshape(second_W.size)
    for step in range(learning_rates.size):
        losses[step] = _loss_and_gradient(W, b, indptr, indices, values, grad_W, grad_b)
        count = step_offset + step + 1
        correction1 = 1.0 - beta1**count
        correction2 = 1.0 - beta2**count
        lr = learning_rates[step]
        _adamw_update(
            flat_W,
            flat_grad_W,
            flat_first_W,
            flat_second_W,
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            correction1,
            correction2,
        )
        _adamw_update(
            b,
            grad_b,
            first_b,
            second_b,
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            correction1,
            correction2,
        )


# --------------------------------------------------------------------------- numpy references


def loss_and_gradient_reference(
    W: np.ndarray, b: np.ndarray, indptr: np.ndarray, indices: np.ndarray, values: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """Plain-numpy loss and gradient; same contract as :func:`loss_and_gradient_kernel`.

    X is a ``scipy.sparse`` CSR matrix; the T x n pre-activations are dense temporaries (the
    "plain numpy step" of docs/memorisation.md#data-double-descent).
    """
    from scipy.sparse import csr_matrix

    n_points, n_features = indptr.size - 1, W.shape[1]
    X = csr_matrix((values, indices, indptr), shape=(n_points, n_features))
    rows = np.repeat(np.arange(n_points), np.diff(indptr))
    H = np.asarray(X @ W.T)  # (T, 2)
    Z = H @ W + b  # (T, n)
    residual = np.maximum(Z, 0.0)
    residual[rows, indices] -= values
    G = (2.0 / n_points) * residual * (Z > 0)
    grad_b = G.sum(axis=0)
    grad_W = H.T @ G + np.asarray(X.T @ (G @ W.T)).T
    loss = float(np.sum(residual * residual) / n_points)
    return loss, grad_W, grad_b


def train_steps_reference(
    W: np.ndarray,
    b: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    values: np.ndarray,
    learning_rates: np.ndarray,
    *,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Numpy reference of :func:`train_steps_kernel` from zero moments, using verify/optim.

    Returns the trained copies of W and b and the per-step losses.
    """

    W = np.array(W, dtype=np.float64)
    b = np.array(b, dtype=np.float64)
    losses = np.empty(len(learning_rates))
    optimiser = Adam(config=AdamConfig())
    for step, lr in enumerate(learning_rates):
        loss, grad_W, grad_b = loss_and_gradient_reference(W, b, indptr, indices, values)
        losses[step] = loss
        optimiser.config = AdamConfig(
            lr=max(float(lr), 1e-300), beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay
        )
        optimiser.step({"W": W, "b": b}, {"W": grad_W, "b": grad_b})
    return W, b, losses


def warmup() -> None:
    """Compile (or load from cache) both entry kernels on a tiny problem."""
    W = np.full((2, 3), 0.5)
    b = np.zeros(3)
    indptr = np.array([0, 1, 3], dtype=np.int64)
    indices = np.array([0, 1, 2], dtype=np.int64)
    values = np.array([1.0, 0.6, 0.8])
    loss_and_gradient_kernel(W, b, indptr, indices, values)
    moments = [np.zeros_like(W), np.zeros_like(W), np.zeros_like(b), np.zeros_like(b)]
    train_steps_kernel(
        W,
        b,
        *moments,
        indptr,
        indices,
        values,
        np.full(2, 1e-3),
        0,
        0.9,
        0.999,
        1e-8,
        0.0,
        np.empty(2),
    )
