"""The torch-free trainer: the Adam/AdamW reference, gradients, the autoencoder trainer.

Public names are re-exported here and imported lazily from their modules
(optim, gradients, autoencoder), so importing one module does not import its siblings.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "Adam": "toyforge.verify.train.optim",
    "AdamConfig": "toyforge.verify.train.optim",
    "BACKENDS": "toyforge.verify.train.autoencoder",
    "Checkpoint": "toyforge.verify.train.autoencoder",
    "FixedData": "toyforge.verify.train.autoencoder",
    "GeneratedData": "toyforge.verify.train.autoencoder",
    "LOSSES": "toyforge.verify.train.gradients",
    "LossGradients": "toyforge.verify.train.gradients",
    "REDUCTIONS": "toyforge.verify.train.gradients",
    "Schedule": "toyforge.verify.train.optim",
    "SparseFeatureData": "toyforge.verify.train.autoencoder",
    "TrainConfig": "toyforge.verify.train.autoencoder",
    "TrainHistory": "toyforge.verify.train.autoencoder",
    "TrainResult": "toyforge.verify.train.autoencoder",
    "constant_schedule": "toyforge.verify.train.optim",
    "cross_entropy_loss": "toyforge.verify.train.gradients",
    "eval_seed": "toyforge.verify.train.autoencoder",
    "held_out_loss": "toyforge.verify.train.autoencoder",
    "history_path": "toyforge.verify.train.autoencoder",
    "init_mlp": "toyforge.verify.train.autoencoder",
    "init_relu_autoencoder": "toyforge.verify.train.autoencoder",
    "loss_and_gradients": "toyforge.verify.train.gradients",
    "mlp_loss_gradients": "toyforge.verify.train.gradients",
    "model_loss": "toyforge.verify.train.gradients",
    "mse_loss": "toyforge.verify.train.gradients",
    "per_sample_losses": "toyforge.verify.train.gradients",
    "relu_autoencoder_loss_gradients": "toyforge.verify.train.gradients",
    "train": "toyforge.verify.train.autoencoder",
    "trainable_arrays": "toyforge.verify.train.gradients",
    "warmup_cosine_schedule": "toyforge.verify.train.optim",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
