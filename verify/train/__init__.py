"""The torch-free trainer: the Adam/AdamW reference, gradients, the autoencoder trainer.

Modules by concern: ``protocol`` (what every trainer takes and returns), ``config``,
``data`` (batch sources), ``initialisers``, ``convergence`` (when a run is finished),
``heldout`` (held-out losses), ``autoencoder`` (the loop), ``result``, ``runs`` (many runs at
once, restarts), ``optim`` (THE Adam/AdamW), ``gradients`` (numpy reference gradients).
Public names are re-exported here and imported lazily, so importing one module does not
import its siblings.
"""

from __future__ import annotations

from toyforge.core.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "Adam": "toyforge.verify.train.optim",
    "AdamConfig": "toyforge.verify.train.optim",
    "BACKENDS": "toyforge.verify.train.config",
    "ConvergenceRule": "toyforge.verify.train.convergence",
    "ConvergenceMonitor": "toyforge.verify.train.convergence",
    "TrainingRun": "toyforge.verify.train.autoencoder",
    "TrainingResult": "toyforge.verify.train.protocol",
    "default_learning_rate": "toyforge.verify.train.convergence",
    "protocol_violations": "toyforge.verify.train.protocol",
    "AutoencoderRun": "toyforge.verify.train.runs",
    "train_run": "toyforge.verify.train.runs",
    "train_runs": "toyforge.verify.train.runs",
    "Checkpoint": "toyforge.verify.train.result",
    "FixedData": "toyforge.verify.train.data",
    "GeneratedData": "toyforge.verify.train.data",
    "LOSSES": "toyforge.verify.train.gradients",
    "LossGradients": "toyforge.verify.train.gradients",
    "REDUCTIONS": "toyforge.verify.train.gradients",
    "Schedule": "toyforge.verify.train.optim",
    "SparseFeatureData": "toyforge.verify.train.data",
    "SparseSource": "toyforge.verify.train.data",
    "TrainConfig": "toyforge.verify.train.config",
    "TrainHistory": "toyforge.verify.train.result",
    "TrainResult": "toyforge.verify.train.result",
    "cross_entropy_loss": "toyforge.verify.train.gradients",
    "eval_seed": "toyforge.verify.train.heldout",
    "held_out_loss": "toyforge.verify.train.heldout",
    "history_path": "toyforge.verify.train.result",
    "init_mlp": "toyforge.verify.train.initialisers",
    "init_relu_autoencoder": "toyforge.verify.train.initialisers",
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

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
