"""Many small modular-addition MLPs trained together: one numba kernel over a batch of models.

The model is PAIR's tied-embedding MLP (docs/grokking.md#the-model-and-the-recipe)::

    W_in  = E · H,   W_out = O · Eᵀ          E: p x d,  H: d x N,  O: N x d
    logits(a, b) = ReLU(W_in[a] + W_in[b]) · W_out

trained full batch on PAIR's loss (cross-entropy / p, i.e. ``-mean(onehot ⊙ log_softmax)``)
with AdamW in the optax/torch form of :mod:`toyforge.verify.train.optim` (decoupled decay on
all three matrices). Every model of the batch has its own parameters, Adam moments, training
pairs, learning rate and weight decay; they share p, d, N, β1, β2, ε and the step counter.
Tiny models spend most of a numpy step in call overhead, so advancing the whole batch inside
one compiled loop is where the speed is (``benchmarks/bench_modular.py`` measures it).

The kernel computes the softmax gradient of the target class as ``−Σ_{c≠t} softmax_c`` rather
than ``softmax_t − 1``: the two are equal in exact arithmetic, but once an example is fitted to
a loss below the rounding unit the second form cancels to zero while the wrong-class terms do
not (docs/grokking.md#why-precision-mattered). Arithmetic is float64 throughout.

Entry points: :func:`train_steps_kernel` (advance the batch ``n_steps`` steps) and
:func:`evaluate_kernel` (loss and accuracy of every model on its train and test pairs).
Plain-numpy references: :func:`train_steps_reference` (built on
:class:`toyforge.verify.train.optim.Adam`) and :func:`evaluate_reference`.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from toyforge.verify.train.optim import Adam, AdamConfig

# "reassoc"/"contract" let LLVM vectorise the short reductions over neurons; no NaN/inf
# assumptions are made.
_FASTMATH = {"reassoc", "contract"}

__all__ = [
    "evaluate_kernel",
    "evaluate_reference",
    "loss_and_grads_reference",
    "train_steps_kernel",
    "train_steps_reference",
]


@numba.njit(cache=True, fastmath=_FASTMATH)
def _matrices(E, H, Ot, W_in, W_outT):
    """W_in = E·H and W_outᵀ = E·Oᵀ (both p x N) of one model (Ot = Oᵀ, d x N)."""
    p, d = E.shape
    n_hidden = H.shape[1]
    W_in[:, :] = 0.0
    W_outT[:, :] = 0.0
    for x in range(p):
        for j in range(d):
            e = E[x, j]
            for n in range(n_hidden):
                W_in[x, n] += e * H[j, n]
                W_outT[x, n] += e * Ot[j, n]


@numba.njit(cache=True, fastmath=_FASTMATH)
def _pair_forward(W_in, W_outT, a, b, pre, hidden, logits):
    """Fill pre/hidden/logits for the pair (a, b); return the index of the largest logit."""
    p, n_hidden = W_in.shape
    for n in range(n_hidden):
        pre[n] = W_in[a, n] + W_in[b, n]
        hidden[n] = pre[n] if pre[n] > 0.0 else 0.0
    best = 0
    for c in range(p):
        acc = 0.0
        for n in range(n_hidden):
            acc += hidden[n] * W_outT[c, n]
        logits[c] = acc
        if acc > logits[best]:
            best = c
    return best


@numba.njit(cache=True, fastmath=_FASTMATH)
def _softmax_gradient(logits, best, target, scale, dz):
    """Cross-entropy of one pair; dz = scale · d CE / d logits (stable target term).

    ``dz`` may be ``logits`` itself (overwritten in place).
    """
    p = logits.shape[0]
    top = logits[best]
    target_shift = logits[target] - top
    total = 0.0
    for c in range(p):
        dz[c] = math.exp(logits[c] - top)
        total += dz[c]
    others = 0.0
    for c in range(p):
        dz[c] /= total
        if c != target:
            others += dz[c]
    for c in range(p):
        dz[c] *= scale
    dz[target] = -others * scale
    return math.log(total) - target_shift


@numba.njit(cache=True, fastmath=_FASTMATH)
def _model_gradient(E, H, Ot, pairs, train_index, n_train, gE, gH, gOt):
    """PAIR loss (CE / p) of one model on its training pairs; fills its gradients.

    The matrix products go to BLAS (``np.dot``); gathers, softmax and scatters are loops.
    """
    p = E.shape[0]
    n_hidden = H.shape[1]
    W_in = np.dot(E, H)
    W_outT = np.dot(E, Ot)
    pre = np.empty((n_train, n_hidden))
    hidden = np.empty((n_train, n_hidden))
    for i in range(n_train):
        q = train_index[i]
        a, b = pairs[q, 0], pairs[q, 1]
        for n in range(n_hidden):
            value = W_in[a, n] + W_in[b, n]
            pre[i, n] = value
            hidden[i, n] = value if value > 0.0 else 0.0
    logits = np.dot(hidden, W_outT.T)
    scale = 1.0 / (n_train * p)
    loss = 0.0
    for i in range(n_train):
        q = train_index[i]
        target = (pairs[q, 0] + pairs[q, 1]) % p
        best = 0
        for c in range(p):
            if logits[i, c] > logits[i, best]:
                best = c
        loss += _softmax_gradient(logits[i], best, target, scale, logits[i])
    d_logits = logits  # overwritten in place by _softmax_gradient
    gW_outT = np.dot(d_logits.T, hidden)
    d_hidden = np.dot(d_logits, W_outT)
    gW_in = np.zeros((p, n_hidden))
    for i in range(n_train):
        q = train_index[i]
        a, b = pairs[q, 0], pairs[q, 1]
        for n in range(n_hidden):
            if pre[i, n] > 0.0:
                gW_in[a, n] += d_hidden[i, n]
                gW_in[b, n] += d_hidden[i, n]
    # chain rule through W_in = E·H and W_outᵀ = E·Oᵀ
    gE[:, :] = np.dot(gW_in, H.T) + np.dot(gW_outT, Ot.T)
    gH[:, :] = np.dot(E.T, gW_in)
    gOt[:, :] = np.dot(E.T, gW_outT)
    return loss / n_train


@numba.njit(cache=True, fastmath=_FASTMATH)
def _adamw(param, grad, m, v, lr, wd, beta1, beta2, eps, correction1, correction2):
    """One AdamW update of a 2-d array in place (optim.Adam's order: decay, then Adam)."""
    step_size = lr / correction1
    shrink = 1.0 - lr * wd
    for i in range(param.shape[0]):
        for j in range(param.shape[1]):
            g = grad[i, j]
            m[i, j] = beta1 * m[i, j] + (1.0 - beta1) * g
            v[i, j] = beta2 * v[i, j] + (1.0 - beta2) * g * g
            param[i, j] *= shrink
            param[i, j] -= step_size * m[i, j] / (math.sqrt(v[i, j] / correction2) + eps)


@numba.njit(cache=True, fastmath=_FASTMATH)
def train_steps_kernel(
    params, moments, pairs, train_index, n_train, lr, wd, active, betas, eps, first_step, n_steps
):
    """Advance every active model ``n_steps`` full-batch AdamW steps, in place.

    Parameters
    ----------
    params : tuple of float64 arrays (E, H, Oᵀ), shapes (B, p, d), (B, d, N), (B, d, N)
        Parameters of the B models, the readout stored transposed (C-contiguous; updated in
        place).
    moments : tuple of six float64 arrays (m_E, v_E, m_H, v_H, m_Oᵀ, v_Oᵀ)
        Adam moments, shaped like the parameters; updated in place.
    pairs : int64 (P, 2)
        All pairs (a, b) the models may train on.
    train_index, n_train : int64 (B, max_train), int64 (B,)
        Row ``b`` lists model b's training pairs (its first ``n_train[b]`` entries).
    lr, wd : float64 (B,)
        Learning rate and decoupled weight decay of each model.
    active : bool (B,)
        Inactive models are left untouched.
    betas : float64 (2,)
        β1, β2.
    eps : float
    first_step : int
        Steps already taken (Adam's bias corrections continue from it).
    n_steps : int

    Returns
    -------
    float64 (B,)
        Training loss (CE / p) of each model before its last step (nan if inactive).
    """
    E, H, Ot = params
    n_models, p, d = E.shape
    n_hidden = H.shape[2]
    beta1, beta2 = betas[0], betas[1]
    losses = np.full(n_models, np.nan)
    gE = np.empty((p, d))
    gH = np.empty((d, n_hidden))
    gOt = np.empty((d, n_hidden))
    grads = (gE, gH, gOt)
    for b in range(n_models):
        if not active[b]:
            continue
        for t in range(first_step + 1, first_step + n_steps + 1):
            losses[b] = _model_gradient(
                E[b], H[b], Ot[b], pairs, train_index[b], n_train[b], gE, gH, gOt
            )
            c1 = 1.0 - beta1**t
            c2 = 1.0 - beta2**t
            for k in range(3):
                _adamw(
                    params[k][b],
                    grads[k],
                    moments[2 * k][b],
                    moments[2 * k + 1][b],
                    lr[b],
                    wd[b],
                    beta1,
                    beta2,
                    eps,
                    c1,
                    c2,
                )
    return losses


@numba.njit(cache=True, fastmath=_FASTMATH)
def evaluate_kernel(E, H, Ot, pairs, is_train):
    """Cross-entropy (nats, not ÷ p) and accuracy of every model on its train and test pairs.

    Returns float64 (B, 4): train loss, train accuracy, test loss, test accuracy (nan where a
    model has no pair of that kind).
    """
    n_models, p, _ = E.shape
    n_hidden = H.shape[2]
    out = np.empty((n_models, 4))
    W_in = np.empty((p, n_hidden))
    W_outT = np.empty((p, n_hidden))
    pre = np.empty(n_hidden)
    hidden = np.empty(n_hidden)
    logits = np.empty(p)
    dz = np.empty(p)
    for b in range(n_models):
        _matrices(E[b], H[b], Ot[b], W_in, W_outT)
        sums = np.zeros(6)  # loss, correct, count for train then test
        for q in range(pairs.shape[0]):
            a, c0 = pairs[q, 0], pairs[q, 1]
            target = (a + c0) % p
            best = _pair_forward(W_in, W_outT, a, c0, pre, hidden, logits)
            loss = _softmax_gradient(logits, best, target, 1.0, dz)
            offset = 0 if is_train[b, q] else 3
            sums[offset] += loss
            sums[offset + 1] += 1.0 if best == target else 0.0
            sums[offset + 2] += 1.0
        for k in range(2):
            count = sums[3 * k + 2]
            out[b, 2 * k] = sums[3 * k] / count if count > 0 else np.nan
            out[b, 2 * k + 1] = sums[3 * k + 1] / count if count > 0 else np.nan
    return out


# --------------------------------------------------------------------------- numpy references


def loss_and_grads_reference(
    E: np.ndarray, H: np.ndarray, readout: np.ndarray, train_pairs: np.ndarray
) -> tuple[float, dict[str, np.ndarray]]:
    """PAIR loss (CE / p) of one model and its gradients, with explicit one-hot matrices.

    ``readout`` is O (N x d) as PAIR stores it (the kernel keeps Oᵀ); gradient keys E, H, O.
    """
    p = E.shape[0]
    a, b = train_pairs[:, 0], train_pairs[:, 1]
    onehot_a, onehot_b = np.eye(p)[a], np.eye(p)[b]
    target = np.eye(p)[(a + b) % p]
    W_in, W_out = E @ H, readout @ E.T
    pre = onehot_a @ W_in + onehot_b @ W_in
    hidden = np.maximum(pre, 0.0)
    logits = hidden @ W_out
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    d_logits = (np.exp(log_probs) - target) / target.size
    d_W_out = hidden.T @ d_logits
    d_W_in = (onehot_a + onehot_b).T @ ((d_logits @ W_out.T) * (pre > 0))
    grads = {"E": d_W_in @ H.T + d_W_out.T @ readout, "H": E.T @ d_W_in, "O": d_W_out @ E}
    return float(-np.mean(target * log_probs)), grads


def train_steps_reference(
    params: list[dict[str, np.ndarray]],
    train_pairs: list[np.ndarray],
    lr: np.ndarray,
    wd: np.ndarray,
    betas: tuple[float, float],
    eps: float,
    n_steps: int,
) -> list[dict[str, np.ndarray]]:
    """Each model trained alone with :class:`~toyforge.verify.train.optim.Adam` (copies)."""
    trained = []
    for model, pairs, rate, decay in zip(params, train_pairs, lr, wd, strict=True):
        state = {name: np.array(value, dtype=np.float64) for name, value in model.items()}
        config = AdamConfig(
            lr=float(rate), beta1=betas[0], beta2=betas[1], eps=eps, weight_decay=float(decay)
        )
        optimiser = Adam(config=config)
        for _ in range(n_steps):
            _, grads = loss_and_grads_reference(state["E"], state["H"], state["O"], pairs)
            optimiser.step(state, grads)
        trained.append(state)
    return trained


def evaluate_reference(params: dict[str, np.ndarray], pairs: np.ndarray) -> tuple[float, float]:
    """Mean cross-entropy (nats) and accuracy of one model on ``pairs`` (plain numpy)."""
    E, H, readout = params["E"], params["H"], params["O"]
    p = E.shape[0]
    W_in = E @ H
    logits = np.maximum(W_in[pairs[:, 0]] + W_in[pairs[:, 1]], 0.0) @ (readout @ E.T)
    target = (pairs[:, 0] + pairs[:, 1]) % p
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1))
    rows = np.arange(len(pairs))
    loss = float(np.mean(log_norm - shifted[rows, target]))
    accuracy = float(np.mean(np.argmax(logits, axis=1) == target))
    return loss, accuracy
