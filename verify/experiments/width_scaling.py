"""Loss against hidden width m with power-law feature frequencies: trained vs the class theory.

docs/non_uniform_features.md#loss-against-width-with-power-law-frequencies. Liu, Liu & Gore
(arXiv:2505.10465) find that when feature frequencies follow a power law, the loss of toy
autoencoders falls as 1/m under strong superposition, and with the frequency law's own
exponent under weak superposition. Here the untied ReLU autoencoder
``y = ReLU(W_out W_in x + b)`` is trained at several widths on features drawn by
:class:`toyforge.verify.data.feature_sampler.FeatureDistribution` (a Zipf law of firing rates),
and the large-N class theory (:func:`toyforge.theory.feature_classes.binned_allocation`) gives
its own curve at the same ``m / n`` without training. Both slopes come from least squares on
``log L`` against ``log m``. Training runs on the sparse kernel path (the distribution is the
trainer's data source) and, by default, until the convergence rule of
:mod:`toyforge.verify.train.convergence` stops it (``steps`` is then a budget); each width says
whether it converged and after how many steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from toyforge.core.errors import InvalidParameter
from toyforge.core.validate import check_choice, check_int, check_interval
from toyforge.theory.feature_classes import binned_allocation
from toyforge.verify.data.feature_sampler import FeatureDistribution
from toyforge.verify.data.laws import parse_law
from toyforge.verify.evaluate.estimate import Estimate
from toyforge.verify.train.autoencoder import train
from toyforge.verify.train.config import TrainConfig
from toyforge.verify.train.convergence import ConvergenceRule
from toyforge.verify.train.initialisers import INIT_SCHEMES, init_relu_autoencoder
from toyforge.verify.train.optim import AdamConfig

__all__ = ["WidthScalingConfig", "WidthScalingResult", "log_log_slope", "run_width_scaling"]


@dataclass(frozen=True, kw_only=True, slots=True)
class WidthScalingConfig:
    """Features, their firing-rate law (text such as ``zipf:1.2:0.4:5e-4``), widths, optimiser;
    ``converge`` applies the default :class:`~toyforge.verify.train.convergence.ConvergenceRule`
    (``steps`` is then the budget); ``init`` is the initialisation scheme
    (:func:`~toyforge.verify.train.initialisers.init_relu_autoencoder`; ``"aligned"`` starts no
    output silent, docs/training.md#silent-features)."""

    n_features: int = 512
    feature_probs: str = "zipf:1.2:0.4:5e-4"
    widths: tuple[int, ...] = (8, 16, 32, 64, 128)
    steps: int = 3000
    batch_size: int = 1024
    lr: float = 3e-3
    n_bins: int = 64
    eval_samples: int = 16384
    seed: int = 0
    converge: bool = True
    init: str = "aligned"

    def __post_init__(self) -> None:
        check_int("n_features", self.n_features, minimum=2)
        parse_law(self.feature_probs).values(self.n_features)
        widths = tuple(check_int("widths", m, minimum=1) for m in self.widths)
        if len(widths) < 2 or any(m > self.n_features for m in widths):
            raise InvalidParameter(
                "widths", widths, f"two or more widths in [1, {self.n_features}]"
            )
        object.__setattr__(self, "widths", widths)
        check_int("steps", self.steps, minimum=1)
        check_int("batch_size", self.batch_size, minimum=1)
        check_interval("lr", self.lr, 0.0, np.inf, low_open=True)
        check_int("n_bins", self.n_bins, minimum=2)
        check_int("eval_samples", self.eval_samples, minimum=2)
        check_int("seed", self.seed, minimum=0)
        if not isinstance(self.converge, bool):
            raise InvalidParameter("converge", self.converge, "True or False")
        check_choice("init", self.init, INIT_SCHEMES)

    def distribution(self) -> FeatureDistribution:
        """The feature law (uniform magnitudes, unit importance)."""
        return FeatureDistribution.from_laws(self.n_features, self.feature_probs)


@dataclass(frozen=True, kw_only=True, slots=True)
class WidthScalingResult:
    """Trained held-out losses (per-feature MSE) and the theory's bracket at each width, the
    least-squares slopes of ``log L`` on ``log m``, and per width whether training converged
    and the steps it took, and how many features it left silent."""

    config: WidthScalingConfig
    widths: tuple[int, ...]
    trained: tuple[Estimate, ...]
    theory: tuple[float, ...]
    theory_error: tuple[float, ...]
    trained_slope: float
    theory_slope: float
    converged: tuple[bool, ...]
    steps: tuple[int, ...] = ()
    silent: tuple[int, ...] = ()


def log_log_slope(widths: np.ndarray, losses: np.ndarray) -> float:
    """Least-squares slope of ``log loss`` on ``log width``."""
    widths, losses = np.asarray(widths, float), np.asarray(losses, float)
    if widths.size < 2 or not np.all((losses > 0) & np.isfinite(losses)):
        raise InvalidParameter("losses", losses, "two or more positive losses")
    return float(np.polyfit(np.log(widths), np.log(losses), 1)[0])


def theory_curve(config: WidthScalingConfig) -> tuple[np.ndarray, np.ndarray]:
    """Large-N loss and its binning error at each width's ratio ``m / n``."""
    law = parse_law(config.feature_probs).continuous(config.n_features)
    ratios = np.array(config.widths, float) / config.n_features
    points = binned_allocation(law, np.ones_like, ratios, n_bins=config.n_bins)
    return np.array([pt.loss for pt in points]), np.array([pt.error for pt in points])


def run_width_scaling(
    config: WidthScalingConfig, progress: Callable[[int, int], None] | None = None
) -> WidthScalingResult:
    """Train one model per width (the same seed for each) and compute the theory's curve."""
    distribution = config.distribution()
    trained, converged, steps, silent = [], [], [], []
    for done, m in enumerate(config.widths, start=1):
        model = init_relu_autoencoder(config.n_features, m, config.seed, scheme=config.init)
        run_config = TrainConfig(
            steps=config.steps,
            batch_size=config.batch_size,
            optimizer=AdamConfig(lr=config.lr),
            dtype="float32",
            seed=config.seed,
            log_every=max(config.steps // 100, 1),
            eval_samples=config.eval_samples,
            convergence=ConvergenceRule() if config.converge else None,
        )
        result = train(model, distribution, run_config)
        trained.append(result.final_eval)
        converged.append(bool(result.converged))
        steps.append(int(result.steps))
        silent.append(int(result.silent_features))
        if progress is not None:
            progress(done, len(config.widths))
    theory, error = theory_curve(config)
    values = np.array([e.value for e in trained])
    return WidthScalingResult(
        config=config,
        widths=config.widths,
        trained=tuple(trained),
        theory=tuple(theory.tolist()),
        theory_error=tuple(error.tolist()),
        trained_slope=log_log_slope(np.array(config.widths), values),
        theory_slope=log_log_slope(np.array(config.widths), theory),
        converged=tuple(converged),
        steps=tuple(steps),
        silent=tuple(silent),
    )
