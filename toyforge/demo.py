"""The end-to-end demonstration behind ``toyforge demo`` (and ``make demo``).

One run goes through the whole toolchain on one (ratio, feature_prob) point:

1. **predict** the large-N loss and the optimal scale and bias (:func:`toyforge.theory.predict`);
2. **build** the Persian-rug autoencoder from those numbers and save it (matrix-free ``.npz``);
3. **evaluate** the saved file by matrix-free Monte Carlo (with its standard error);
4. **train** an ordinary ReLU autoencoder of the same size with the torch-free trainer;
5. **compare** large-N theory, exact finite-N theory, the construction and the trained model;
6. **scale up**: build the same rug at 2^20 features (matrix-free) and evaluate it, far beyond
   any size that can be trained;
7. **draw** the rug beside the trained W and the loss-vs-ratio curves.

It lives in the front-door layer because it uses every other layer, figures included.
Nothing here prints: :func:`run_demo` reports each finished step to an optional callback.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toyforge.constructions.io import load, save
from toyforge.constructions.persian_rug import check_power_of_two, hidden_size, persian_rug
from toyforge.core.fileio import atomic_write_text
from toyforge.core.serde import to_json
from toyforge.core.validate import check_int, check_interval, check_probability, check_seed
from toyforge.figures._style import save_figure, style
from toyforge.figures.rug import loss_curves_figure, model_rug_figure
from toyforge.theory import predict
from toyforge.verify.compare.persian_rug import (
    compare_persian_rug,
    comparison_summary,
    train_autoencoder,
)
from toyforge.verify.compare.rug_curves import loss_curves
from toyforge.verify.evaluate.rug_monte_carlo import rug_monte_carlo

DEMO_RATIOS_FOR_CURVES = (0.05, 0.1, 0.25, 0.5)


@dataclass(frozen=True, kw_only=True, slots=True)
class DemoConfig:
    """What the demo runs. The defaults take a few minutes on 2 CPU cores.

    Parameters
    ----------
    n_features : int
        Size of the rug and of the trained model (a power of two).
    ratio, feature_prob : float
        The point compared (r = n_hidden / n_features, p = P(feature active)).
    seed : int
        Row selection, training and Monte Carlo seeds derive from it.
    n_samples : int
        Monte Carlo samples of the construction.
    train_steps : int
        Adam steps of the trained model (batch 1024, fresh data).
    curve_features : int
        Size of the rugs on the loss-vs-ratio curves.
    curve_samples : int
        Monte Carlo samples per point of the curves.
    large_features : int
        Size of the scaled-up rug (a power of two; 2^20 by default).
    large_samples : int
        Monte Carlo samples of the scaled-up rug.
    """

    n_features: int = 2048
    ratio: float = 0.25
    feature_prob: float = 0.05
    seed: int = 0
    n_samples: int = 20_000
    train_steps: int = 300
    train_learning_rate: float = 3e-3
    curve_features: int = 1024
    curve_samples: int = 4000
    large_features: int = 2**20
    large_samples: int = 1000

    def __post_init__(self) -> None:
        check_power_of_two("n_features", self.n_features)
        check_interval("ratio", self.ratio, 0.0, 1.0, low_open=True)
        check_probability("feature_prob", self.feature_prob)
        check_seed("seed", self.seed)
        check_int("n_samples", self.n_samples, minimum=2)
        check_int("train_steps", self.train_steps, minimum=1)
        check_interval("train_learning_rate", self.train_learning_rate, 0.0, 1.0, low_open=True)
        check_power_of_two("curve_features", self.curve_features)
        check_int("curve_samples", self.curve_samples, minimum=2)
        check_power_of_two("large_features", self.large_features)
        check_int("large_samples", self.large_samples, minimum=2)


QUICK_DEMO = DemoConfig(
    n_features=1024,
    n_samples=4000,
    train_steps=150,
    curve_features=256,
    curve_samples=1000,
    large_features=2**16,
    large_samples=500,
)


@dataclass(frozen=True, kw_only=True, slots=True)
class DemoResult:
    """Everything the demo produced: the numbers, the files and the time of each step."""

    config: DemoConfig
    prediction: Any
    comparison: Any
    large_evaluation: Any
    files: dict[str, Path]
    seconds: dict[str, float] = field(default_factory=dict)


StepCallback = Callable[[str, Any, float], None]


def run_demo(
    out: str | Path,
    config: DemoConfig | None = None,
    *,
    on_step: StepCallback | None = None,
    progress: Callable[..., Any] | None = None,
) -> DemoResult:
    """Run the demonstration and write its files into folder ``out`` (created if missing).

    Parameters
    ----------
    out : path
        Output folder: ``rug.npz``, ``trained.npz``, ``comparison.json``, ``rug.png``,
        ``loss_vs_ratio.png``.
    config : DemoConfig, optional
    on_step : callable, optional
        Called as ``on_step(step_name, result, seconds)`` after each step.
    progress : callable, optional
        ``progress(iterable, total=...)`` wrapper for the Monte Carlo batches.
    """
    config = config or DemoConfig()
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    results: dict[str, Any] = {}

    def step(name: str, work: Callable[[], Any]) -> Any:
        begin = time.perf_counter()
        results[name] = work()
        seconds[name] = time.perf_counter() - begin
        if on_step is not None:
            on_step(name, results[name], seconds[name])
        return results[name]

    files = {
        name: folder / filename
        for name, filename in (
            ("rug", "rug.npz"),
            ("trained", "trained.npz"),
            ("comparison", "comparison.json"),
            ("rug_figure", "rug.png"),
            ("curves_figure", "loss_vs_ratio.png"),
        )
    }
    prediction = step("predict", lambda: _predict(config))
    rug = step("build", lambda: _build(config, files["rug"]))
    evaluation = step("evaluate", lambda: _evaluate(config, files["rug"], progress))
    trained = step("train", lambda: _train(config, rug.n_hidden, files["trained"]))
    comparison = step("compare", lambda: _compare(config, trained, evaluation))
    atomic_write_text(files["comparison"], to_json(comparison_summary(comparison), indent=2))
    large = step("scale-up", lambda: _scale_up(config, progress))
    step("figures", lambda: _figures(config, rug, trained, files))
    return DemoResult(
        config=config,
        prediction=prediction,
        comparison=comparison,
        large_evaluation=large,
        files=files,
        seconds=seconds,
    )


def _predict(config: DemoConfig) -> Any:
    n_hidden = hidden_size(config.n_features, config.ratio)
    return predict(n_hidden / config.n_features, config.feature_prob)


def _build(config: DemoConfig, path: Path) -> Any:
    model = persian_rug(config.n_features, config.ratio, config.feature_prob, config.seed)
    save(model, path)
    return model


def _evaluate(config: DemoConfig, path: Path, progress: Callable[..., Any] | None) -> Any:
    return rug_monte_carlo(
        load(path), config.feature_prob, config.n_samples, _mc_seed(config), progress=progress
    )


def _train(config: DemoConfig, n_hidden: int, path: Path) -> Any:
    point = train_autoencoder(
        config.n_features,
        n_hidden,
        config.feature_prob,
        steps=config.train_steps,
        learning_rate=config.train_learning_rate,
        seed=config.seed,
    )
    save(point.model, path)
    return point


def _compare(config: DemoConfig, trained: Any, evaluation: Any) -> Any:
    return compare_persian_rug(
        config.n_features,
        config.ratio,
        config.feature_prob,
        seed=config.seed,
        n_samples=config.n_samples,
        mc_seed=_mc_seed(config),
        trained=trained,
        evaluation=evaluation,
    )


def _scale_up(config: DemoConfig, progress: Callable[..., Any] | None) -> Any:
    model = persian_rug(config.large_features, config.ratio, config.feature_prob, config.seed)
    return rug_monte_carlo(
        model, config.feature_prob, config.large_samples, _mc_seed(config), progress=progress
    )


def _figures(config: DemoConfig, rug: Any, trained: Any, files: dict[str, Path]) -> None:
    with style():
        figure = model_rug_figure(
            rug,
            size=min(256, config.n_features),
            trained_matrix=trained.model.effective_matrix(),
            histograms=True,
        )
        save_figure(figure, files["rug_figure"], config)
        curves = loss_curves(
            "ratio",
            config.feature_prob,
            DEMO_RATIOS_FOR_CURVES,
            n_features=config.curve_features,
            n_samples=config.curve_samples,
            seed=config.seed,
        )
        save_figure(loss_curves_figure(curves), files["curves_figure"], config)


def _mc_seed(config: DemoConfig) -> int:
    """Monte Carlo data seed, independent of the row-selection and training seeds."""
    return config.seed + 12345
