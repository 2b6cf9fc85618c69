"""Optimisers and learning-rate schedules for the torch-free trainers.

Adam (Kingma & Ba 2015, arXiv:1412.6980) and AdamW with decoupled weight decay (Loshchilov &
Hutter 2019, arXiv:1711.05101), in the same form as ``torch.optim.Adam``/``AdamW`` so that
trained numbers can be compared with PyTorch runs:

    m ← β1 m + (1 − β1) g,   v ← β2 v + (1 − β2) g²
    m̂ = m / (1 − β1ᵗ),       v̂ = v / (1 − β2ᵗ)
    AdamW: θ ← θ − lr·wd·θ   (before the Adam step)
    Adam with L2 (``weight_decay`` on Adam): g ← g + wd·θ
    θ ← θ − lr · m̂ / (√v̂ + ε)

The state is a plain frozen config plus per-parameter moment arrays; ``step`` updates the
parameter arrays in place (the trainers own them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from toyforge.core.validate import check_choice, check_int, check_interval

__all__ = ["Adam", "AdamConfig", "Schedule", "warmup_cosine_schedule"]


@dataclass(frozen=True, kw_only=True, slots=True)
class AdamConfig:
    """Adam/AdamW hyperparameters (torch defaults)."""

    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0
    decoupled: bool = True  # True: AdamW; False: Adam with L2 added to the gradient

    def __post_init__(self) -> None:
        check_interval("lr", self.lr, 0.0, math.inf, low_open=True)
        check_interval("beta1", self.beta1, 0.0, 1.0, high_open=True)
        check_interval("beta2", self.beta2, 0.0, 1.0, high_open=True)
        check_interval("eps", self.eps, 0.0, math.inf, low_open=True)
        check_interval("weight_decay", self.weight_decay, 0.0, math.inf)


@dataclass(frozen=True, kw_only=True, slots=True)
class Schedule:
    """Learning-rate multiplier: linear warm-up, then constant or cosine decay to ``final``.

    ``factor(step)`` for ``step`` = 0, 1, … (the step about to be taken).
    """

    kind: str = "constant"
    warmup_steps: int = 0
    total_steps: int = 1
    final: float = 0.0

    def __post_init__(self) -> None:
        check_choice("schedule", self.kind, ("constant", "cosine"))
        check_int("warmup_steps", self.warmup_steps, minimum=0)
        check_int("total_steps", self.total_steps, minimum=1)
        check_interval("final", self.final, 0.0, 1.0)

    def factor(self, step: int) -> float:
        """Multiplier of the base learning rate at ``step``."""
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if self.kind == "constant":
            return 1.0
        span = max(self.total_steps - self.warmup_steps, 1)
        progress = min(max(step - self.warmup_steps, 0) / span, 1.0)
        return self.final + (1.0 - self.final) * 0.5 * (1.0 + math.cos(math.pi * progress))


def warmup_cosine_schedule(total_steps: int, warmup_steps: int = 0, final: float = 0.0) -> Schedule:
    """Linear warm-up then cosine decay to ``final × lr`` at ``total_steps``."""
    return Schedule(kind="cosine", warmup_steps=warmup_steps, total_steps=total_steps, final=final)


@dataclass(kw_only=True, slots=True)
class Adam:
    """Adam/AdamW state over named parameter arrays (updated in place by ``step``)."""

    config: AdamConfig
    schedule: Schedule = field(default_factory=Schedule)
    lr_scale: float = 1.0  # extra multiplier (the convergence rule's plateau decays)
    step_count: int = 0
    first_moments: dict[str, np.ndarray] = field(default_factory=dict)
    second_moments: dict[str, np.ndarray] = field(default_factory=dict)

    def learning_rate(self) -> float:
        """The learning rate of the next step."""
        return self.config.lr * self.lr_scale * self.schedule.factor(self.step_count)

    def step(
        self,
        params: Mapping[str, np.ndarray],
        grads: Mapping[str, np.ndarray],
        skip_decay: frozenset[str] = frozenset(),
    ) -> None:
        """One update of every array in ``params`` (in place) from ``grads``.

        Parameters named in ``skip_decay`` (e.g. biases) get no weight decay.
        """
        config = self.config
        lr = self.learning_rate()
        self.step_count += 1
        t = self.step_count
        correction1 = 1.0 - config.beta1**t
        correction2 = 1.0 - config.beta2**t
        for name, param in params.items():
            grad = grads[name]
            decay = 0.0 if name in skip_decay else config.weight_decay
            if decay and not config.decoupled:
                grad = grad + decay * param
            m = self.first_moments.setdefault(name, np.zeros_like(param))
            v = self.second_moments.setdefault(name, np.zeros_like(param))
            m *= config.beta1
            m += (1.0 - config.beta1) * grad
            v *= config.beta2
            v += (1.0 - config.beta2) * (grad * grad)
            if decay and config.decoupled:
                param *= 1.0 - lr * decay
            denom = np.sqrt(v / correction2)
            denom += config.eps
            param -= (lr / correction1) * m / denom
