"""When is a training run finished? The convergence rule of the toyforge trainers.

Every ``window`` steps the trainer measures a *monitor loss*: the loss of the current model on
one fixed held-out set (the same samples at every check, drawn once from a seed of its own, so
two checks differ only because the model changed — common random numbers — and not by
sampling noise). A check is *flat* when it improves on the best monitor loss so far by less
than the relative tolerance ``tol``::

    flat  ⇔  best − loss ≤ tol · best

After ``patience`` flat checks in a row the learning rate is multiplied by ``lr_decay`` (when
decays are left, see ``max_decays``) and the count starts again; with no decay left, the run
has *converged* and stops. A run that reaches its step budget first has not converged.

The Persian-rug authors' rule (training continues while
``log10 mean(losses[-400:-200]) − log10 mean(losses[-200:]) > 0`` over the logged minibatch
losses) is the special case of a training-loss monitor with ``tol = 0`` and ``patience = 1``;
on fresh minibatches its decision is dominated by batch-to-batch noise once the curve
flattens, which is why toyforge measures a fixed held-out set instead. See
``docs/training.md#the-convergence-rule``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from toyforge.core.errors import InvalidParameter
from toyforge.core.validate import check_int, check_interval

__all__ = [
    "DEFAULT_PATIENCE",
    "DEFAULT_TOL",
    "DEFAULT_WINDOW",
    "ConvergenceMonitor",
    "ConvergenceRule",
    "default_learning_rate",
]

DEFAULT_WINDOW = 200
DEFAULT_TOL = 1e-3
DEFAULT_PATIENCE = 2


def default_learning_rate(n_features: int, base: float = 0.03) -> float:
    """Adam learning rate ``base / √n_features`` for the ReLU autoencoder.

    The Persian-rug authors scale the rate as ``3e-3/√n``; toyforge keeps the ``1/√n``
    scaling (the gradient of each output row shrinks with the fan-in) with a larger constant
    and lets the convergence rule's plateau decay bring it down (see
    ``docs/training.md#learning-rate-defaults``).
    """
    n_features = check_int("n_features", n_features, minimum=1)
    check_interval("base", base, 0.0, math.inf, low_open=True)
    return base / math.sqrt(n_features)


@dataclass(frozen=True, kw_only=True, slots=True)
class ConvergenceRule:
    """Stop a run once its held-out loss stops improving (see the module docstring).

    Parameters
    ----------
    window : int
        Steps between two checks of the monitor loss.
    tol : float
        Relative improvement on the best monitor loss below which a check is flat, in [0, 1).
    patience : int
        Flat checks in a row that count as a plateau.
    lr_decay : float
        Learning-rate multiplier applied at a plateau while decays are left, in (0, 1].
    max_decays : int
        Plateaus answered by a decay before the next plateau stops the run (0: the first
        plateau stops it).
    eval_samples : int
        Size of the fixed held-out set (fresh-data runs; fixed datasets use their test set,
        else the training set).
    """

    window: int = DEFAULT_WINDOW
    tol: float = DEFAULT_TOL
    patience: int = DEFAULT_PATIENCE
    lr_decay: float = 0.3
    max_decays: int = 2
    eval_samples: int = 8192

    def __post_init__(self) -> None:
        check_int("window", self.window, minimum=1)
        check_interval("tol", self.tol, 0.0, 1.0, high_open=True)
        check_int("patience", self.patience, minimum=1)
        check_interval("lr_decay", self.lr_decay, 0.0, 1.0, low_open=True)
        check_int("max_decays", self.max_decays, minimum=0)
        check_int("eval_samples", self.eval_samples, minimum=2)


@dataclass(kw_only=True, slots=True)
class ConvergenceMonitor:
    """The state of :class:`ConvergenceRule` during one run.

    Call :meth:`update` with each monitor loss; it answers ``"continue"``, ``"decay"`` (multiply
    the learning rate by :attr:`ConvergenceRule.lr_decay`) or ``"converged"``.
    """

    rule: ConvergenceRule
    best: float = math.inf
    flat: int = 0
    decays: int = 0
    losses: list[float] = field(default_factory=list)

    @property
    def lr_factor(self) -> float:
        """Product of the decays applied so far."""
        return self.rule.lr_decay**self.decays

    def update(self, loss: float) -> str:
        """Record one monitor loss; the decision after it."""
        if not math.isfinite(loss):
            raise InvalidParameter("monitor loss", loss, "a finite number")
        self.losses.append(float(loss))
        if math.isinf(self.best) or self.best - loss > self.rule.tol * self.best:
            self.flat = 0
        else:
            self.flat += 1
        self.best = min(self.best, float(loss))
        if self.flat < self.rule.patience:
            return "continue"
        self.flat = 0
        if self.decays < self.rule.max_decays:
            self.decays += 1
            return "decay"
        return "converged"
