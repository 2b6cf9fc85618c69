"""The three toy settings of the memorisation seed, and sweeps of the limits of reconstruction.

Hobbhahn (2023), "More findings on Memorization and double descent"
(docs/memorisation.md#three-toy-settings)
studies three settings; here each is a *config* of the existing models
(:mod:`toyforge.constructions.models`) and the one trainer
(:func:`toyforge.verify.train.autoencoder.train`):

* ``"tms"`` — the bottleneck: tied ReLU-output autoencoder ``x' = ReLU(WᵀW x + b)``
  (Elhage et al. 2022), importance-weighted MSE summed over features.
* ``"mlp-block"`` — a fixed random Gaussian embedding E (d x n, entries N(0, 1/d)) into a
  d-dimensional "residual", then an MLP with two biases and a ReLU (d → n_hidden → out), MSE.
  Variants (the post's body was not reachable, docs/memorisation.md#three-toy-settings; these are
  our reading):
  ``reconstruct-x`` (target x), ``reconstruct-embedded`` (target X' = E x) and ``reprojector``
  (target EᵀE x, the embedded point re-projected to feature space).
* ``"unembed"`` — the final layer: x → 2-d residual (identity activation) → logits over the
  n features, cross-entropy with hard labels (argmax feature) or soft labels (x / Σx). Its
  points are always unit-norm with at least one active feature (so every point has a label).

Data: sparse points (feature active with probability 1 − S, values U[0,1)), fresh every step or
a fixed dataset of T points (:func:`toyforge.verify.data.sampling.fixed_dataset`), optionally
unit-norm.

Reconstruction-limit sweeps over these settings live in
:mod:`toyforge.verify.experiments.reconstruction_grids`; :func:`sparse_recovery_bounds` gives
the compressed-sensing style bounds of docs/memorisation.md#limits-of-reconstruction to compare
with.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from toyforge.core.errors import InvalidParameter
from toyforge.core.validate import check_choice, check_int, check_interval
from toyforge.verify.data.sampling import fixed_dataset, sample_sparse_batch
from toyforge.verify.evaluate.estimate import Estimate
from toyforge.verify.train.autoencoder import (
    FixedData,
    GeneratedData,
    TrainConfig,
    init_mlp,
    init_relu_autoencoder,
    train,
)
from toyforge.verify.train.gradients import per_sample_losses
from toyforge.verify.train.optim import AdamConfig, Schedule

__all__ = [
    "LABEL_KINDS",
    "MLP_BLOCK_VARIANTS",
    "SETTINGS",
    "SWEEP_AXES",
    "SettingResult",
    "ToySettingConfig",
    "prepare_setting",
    "sparse_recovery_bounds",
    "train_setting",
]

SETTINGS = ("tms", "mlp-block", "unembed")
MLP_BLOCK_VARIANTS = ("reconstruct-x", "reconstruct-embedded", "reprojector")
LABEL_KINDS = ("hard", "soft")
SWEEP_AXES = ("n_hidden", "n_features", "sparsity", "importance_decay", "embed_dim")
ACCURACY_TOLERANCE = 0.1
"""A point counts as reconstructed when ‖x' − x‖² <= 0.1 ‖x‖² (MSE settings)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ToySettingConfig:
    """One run of a toy setting: model, data and optimiser (defaults: small TMS, AdamW).

    Parameters
    ----------
    setting : {"tms", "mlp-block", "unembed"}
    n_features : int
        n, the number of sparse input features.
    n_hidden : int
        Bottleneck m (tms), MLP width (mlp-block); ignored by unembed (always 2).
    sparsity : float
        S in [0, 1): each feature is active with probability 1 − S.
    importance_decay : float
        MSE importance I_i = decay^i (1 = uniform; TMS uses 0.7–0.9).
    n_points : int or None
        Size T of a fixed training set (full batch when ``batch_size`` is None); None = fresh
        data every step.
    unit_norm : bool
        Rescale every point to unit norm (the double-descent data).
    embed_dim : int or None
        d of the mlp-block embedding (required for mlp-block).
    variant : str
        mlp-block target, one of :data:`MLP_BLOCK_VARIANTS`.
    labels : {"hard", "soft"}
        unembed targets.
    steps, batch_size, lr, warmup_steps, weight_decay, schedule :
        Trainer settings (AdamW when weight_decay > 0, else Adam).
    n_test : int
        Test points for the final metrics.
    seed : int
    """

    setting: str = "tms"
    n_features: int = 20
    n_hidden: int = 5
    sparsity: float = 0.9
    importance_decay: float = 1.0
    n_points: int | None = None
    unit_norm: bool = False
    embed_dim: int | None = None
    variant: str = "reconstruct-x"
    labels: str = "hard"
    steps: int = 5000
    batch_size: int | None = 1024
    lr: float = 1e-3
    warmup_steps: int = 0
    weight_decay: float = 0.0
    schedule: str = "constant"
    n_test: int = 2000
    seed: int = 0

    def __post_init__(self) -> None:
        check_choice("setting", self.setting, SETTINGS)
        check_int("n_features", self.n_features, minimum=2)
        check_int("n_hidden", self.n_hidden, minimum=1)
        check_interval("sparsity", self.sparsity, 0.0, 1.0, high_open=True)
        check_interval("importance_decay", self.importance_decay, 0.0, 1.0, low_open=True)
        if self.n_points is not None:
            check_int("n_points", self.n_points, minimum=1)
        if self.setting == "mlp-block":
            if self.embed_dim is None:
                raise InvalidParameter("embed_dim", None, "an integer >= 1 for mlp-block")
            check_int("embed_dim", self.embed_dim, minimum=1)
        check_choice("variant", self.variant, MLP_BLOCK_VARIANTS)
        check_choice("labels", self.labels, LABEL_KINDS)
        check_int("steps", self.steps, minimum=1)
        if self.batch_size is not None:
            check_int("batch_size", self.batch_size, minimum=1)
        elif self.n_points is None:
            raise InvalidParameter(
                "batch_size", None, "an integer for fresh data (full batch needs n_points)"
            )
        check_interval("lr", self.lr, 0.0, math.inf, low_open=True)
        check_int("warmup_steps", self.warmup_steps, minimum=0)
        check_interval("weight_decay", self.weight_decay, 0.0, math.inf)
        check_choice("schedule", self.schedule, ("constant", "cosine"))
        check_int("n_test", self.n_test, minimum=2)
        check_int("seed", self.seed, minimum=0)

    @property
    def feature_prob(self) -> float:
        """1 − S."""
        return 1.0 - self.sparsity

    def importance(self) -> np.ndarray | None:
        """Per-output importance for MSE settings (None when uniform or cross-entropy)."""
        if self.importance_decay == 1.0 or self.setting == "unembed":
            return None
        width = self.n_features
        if self.setting == "mlp-block" and self.variant == "reconstruct-embedded":
            width = int(self.embed_dim)  # type: ignore[arg-type]
        return self.importance_decay ** np.arange(width, dtype=np.float64)


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class SettingResult:
    """A trained toy setting with its test metrics.

    ``test_loss`` is the per-point test loss (mean ± SE); ``baseline`` the same loss of the
    zero output (MSE) or of the uniform prediction (cross-entropy, log n); ``accuracy`` the
    fraction of test points with an active feature reconstructed within
    :data:`ACCURACY_TOLERANCE` (MSE) or
    classified correctly (cross-entropy, against the argmax feature).
    """

    config: ToySettingConfig
    model: Any
    train: Any
    train_loss: float
    test_loss: Estimate
    baseline: float
    accuracy: float

    @property
    def relative_loss(self) -> float:
        """``test_loss / baseline``."""
        return self.test_loss.value / self.baseline if self.baseline > 0 else math.nan


# --------------------------------------------------------------------------- data and models


def _points(config: ToySettingConfig, n_points: int, rng: np.random.Generator) -> np.ndarray:
    if config.unit_norm or config.setting == "unembed":
        # unit-norm rows (empty rows redrawn): a label needs an active feature
        return fixed_dataset(
            n_points, config.n_features, config.feature_prob, unit_norm=True, seed=rng
        )
    return sample_sparse_batch(config.n_features, config.feature_prob, n_points, rng).to_dense()


def _embedding(config: ToySettingConfig) -> np.ndarray | None:
    if config.setting != "mlp-block":
        return None
    rng = np.random.default_rng([config.seed, 0xE3B])
    dim = int(config.embed_dim)  # type: ignore[arg-type]
    return rng.normal(0.0, 1.0 / math.sqrt(dim), size=(dim, config.n_features))


def _targets(
    config: ToySettingConfig, inputs: np.ndarray, embedding: np.ndarray | None
) -> np.ndarray | None:
    if config.setting == "tms":
        return None
    if config.setting == "unembed":
        if config.labels == "hard":
            return np.argmax(inputs, axis=1).astype(np.int64)
        return inputs / inputs.sum(axis=1, keepdims=True)
    embedded = inputs @ embedding.T  # type: ignore[union-attr]
    if config.variant == "reconstruct-x":
        return inputs
    if config.variant == "reconstruct-embedded":
        return embedded
    return embedded @ embedding  # reprojector: Eᵀ E x


def _model_init(config: ToySettingConfig, embedding: np.ndarray | None) -> Any:
    n = config.n_features
    if config.setting == "tms":
        return init_relu_autoencoder(
            n, config.n_hidden, config.seed, tied=True, scheme="xavier_normal"
        )
    if config.setting == "unembed":
        return init_mlp(n, 2, n, config.seed, activation="identity", scheme="xavier_normal")
    dim = int(config.embed_dim)  # type: ignore[arg-type]
    outputs = dim if config.variant == "reconstruct-embedded" else n
    return init_mlp(
        dim,
        config.n_hidden,
        outputs,
        config.seed,
        activation="relu",
        embedding=embedding,
        scheme="xavier_normal",
    )


def _train_config(config: ToySettingConfig) -> Any:
    importance = config.importance()
    return TrainConfig(
        steps=config.steps,
        batch_size=config.batch_size,
        optimizer=AdamConfig(
            lr=config.lr, weight_decay=config.weight_decay, decoupled=config.weight_decay > 0
        ),
        schedule=Schedule(
            kind=config.schedule, warmup_steps=config.warmup_steps, total_steps=config.steps
        ),
        loss="cross_entropy" if config.setting == "unembed" else "mse",
        reduction="sum_features",
        importance=None if importance is None else tuple(importance),
        dtype="float64",
        seed=config.seed,
        log_every=max(config.steps // 200, 1),
    )


def prepare_setting(config: ToySettingConfig) -> tuple[Any, Any, Any]:
    """``(model_init, data, train_config)`` of a toy setting, ready for ``train``.

    The data is a :class:`~toyforge.verify.train.autoencoder.FixedData` (with a test set) when
    ``n_points`` is set, else fresh batches
    (:class:`~toyforge.verify.train.autoencoder.GeneratedData`).
    """

    embedding = _embedding(config)
    test_inputs = _points(config, config.n_test, np.random.default_rng([config.seed, 2]))
    test_targets = _targets(config, test_inputs, embedding)
    if config.n_points is not None:
        inputs = _points(config, config.n_points, np.random.default_rng([config.seed, 1]))
        data: Any = FixedData(
            inputs=inputs,
            targets=_targets(config, inputs, embedding),
            test_inputs=test_inputs,
            test_targets=test_targets,
        )
    else:

        def sample(rng: np.random.Generator, batch: int) -> Any:
            inputs = _points(config, batch, rng)
            targets = _targets(config, inputs, embedding)
            return inputs if targets is None else (inputs, targets)

        data = GeneratedData(sample=sample)
    return _model_init(config, embedding), data, _train_config(config)


def _metrics(
    config: ToySettingConfig, model: Any, train_config: Any
) -> tuple[Estimate, float, float]:
    embedding = _embedding(config)
    inputs = _points(config, config.n_test, np.random.default_rng([config.seed, 2]))
    targets = _targets(config, inputs, embedding)
    importance = config.importance()
    losses = per_sample_losses(
        model,
        inputs,
        targets,
        loss=train_config.loss,
        importance=importance,
        reduction="sum_features",
    )
    outputs = model.forward(inputs)
    if config.setting == "unembed":
        labels = np.argmax(inputs, axis=1)
        return (
            Estimate.from_samples(losses),
            math.log(config.n_features),
            float(np.mean(np.argmax(outputs, axis=1) == labels)),
        )
    reference = inputs if targets is None else targets
    weights = np.ones(reference.shape[1]) if importance is None else importance
    energy = np.sum(weights * reference**2, axis=1)
    errors = np.sum(weights * (outputs - reference) ** 2, axis=1)
    active = energy > 0  # points with no active feature have nothing to reconstruct
    accurate = errors[active] <= ACCURACY_TOLERANCE * energy[active]
    accuracy = float(np.mean(accurate)) if accurate.size else math.nan
    return Estimate.from_samples(losses), float(np.mean(energy)), accuracy


def train_setting(
    config: ToySettingConfig, progress: Callable[[int, float], None] | None = None
) -> SettingResult:
    """Train one toy setting with the shared trainer and measure it on a test set."""

    model_init, data, train_config = prepare_setting(config)
    result = train(model_init, data, train_config, progress=progress)
    test_loss, baseline, accuracy = _metrics(config, result.model, train_config)
    return SettingResult(
        config=config,
        model=result.model,
        train=result,
        train_loss=float(result.history.train_loss[-1]),
        test_loss=test_loss,
        baseline=baseline,
        accuracy=accuracy,
    )


# --------------------------------------------------------------------------- bounds
# (docs/memorisation.md#limits-of-reconstruction)


def sparse_recovery_bounds(n_features: int, sparsity: float) -> dict[str, float]:
    """Hidden sizes m needed to recover k-sparse inputs, k = n(1 − S)
    (docs/memorisation.md#limits-of-reconstruction).

    Returns
    -------
    dict
        ``k``; ``uniqueness``: m >= 2k (spark(W) > 2k, any decoder); ``l1``: the root of
        m = 2k ln(n/m) (Donoho–Tanner ℓ1 transition for k ≪ n), kept within [2k, n];
        ``tms``: k ln(1/(1−S)) (the TMS scaling m = Ω(−n(1−S) log(1−S)), constant 1);
        ``relu_exact_features``: 2m-type limit inverted — the largest n a one-layer ReLU
        decoder recovers exactly for 1-sparse continuous inputs is 2m, so this is n/2.
    """
    n_features = check_int("n_features", n_features, minimum=2)
    sparsity = check_interval("sparsity", sparsity, 0.0, 1.0, high_open=True)
    k = n_features * (1.0 - sparsity)
    # root of m − 2k ln(n/m) (increasing in m) by bisection; the plain fixed-point iteration
    # oscillates once 2k > m. The asymptotic formula assumes k ≪ n; ℓ1 can never beat the
    # any-decoder bound, so the result is kept within [2k, n].
    low, high = 1e-12, float(n_features)
    for _ in range(200):
        middle = 0.5 * (low + high)
        if middle - 2.0 * k * math.log(n_features / middle) < 0.0:
            low = middle
        else:
            high = middle
    l1 = min(max(high, 2.0 * k), float(n_features))
    return {
        "k": k,
        "uniqueness": 2.0 * k,
        "l1": l1,
        "tms": k * math.log(1.0 / (1.0 - sparsity)) if sparsity > 0 else 0.0,
        "relu_exact_features": n_features / 2.0,
    }
