"""toyforge: a solver for toy models of neural networks.

* :mod:`toyforge.theory` predicts the loss of large permutation-symmetric ReLU autoencoders.
* :mod:`toyforge.constructions` builds weights that solve toy tasks directly.
* :mod:`toyforge.verify` evaluates and trains models fast (numba) with honest error bars.
* :mod:`toyforge.figures` draws the results.

The subpackages and the public functions re-exported here are imported lazily, so
``import toyforge`` stays cheap (numba and matplotlib load only when used).
"""

from __future__ import annotations

import importlib
from typing import Any

from toyforge.core.errors import CorruptFile, IncompatibleWeights, InvalidParameter, ToyforgeError
from toyforge.core.version import __version__

_SUBPACKAGES = ("theory", "constructions", "verify", "figures", "cli")

# public name -> module that defines it (imported on first access)
_LAZY_EXPORTS: dict[str, str] = {
    "predict": "toyforge.theory",
    "predict_grid": "toyforge.theory",
    "predict_finite": "toyforge.theory",
    "persian_rug": "toyforge.constructions.persian_rug",
    "PersianRugAutoencoder": "toyforge.constructions.persian_rug",
    "ReluAutoencoder": "toyforge.constructions.models",
    "MLP": "toyforge.constructions.models",
    "ModularAdditionMLP": "toyforge.constructions.models",
    "save": "toyforge.constructions.io",
    "load": "toyforge.constructions.io",
    "read_info": "toyforge.constructions.io",
    "modular_addition": "toyforge.constructions.modular_addition",
    "Estimate": "toyforge.verify.evaluate.estimate",
    "evaluate": "toyforge.verify.evaluate.evaluators",
    "SparseDataSpec": "toyforge.verify.evaluate.config",
    "evaluate_modular_addition": "toyforge.verify.evaluate.modular_addition",
    "sample_sparse_batch": "toyforge.verify.data.sampling",
    "rug_monte_carlo": "toyforge.verify.evaluate.rug_monte_carlo",
    "compare_persian_rug": "toyforge.verify.compare.persian_rug",
    "train": "toyforge.verify.train.autoencoder",
    "TrainConfig": "toyforge.verify.train.autoencoder",
    "init_relu_autoencoder": "toyforge.verify.train.autoencoder",
    "train_modular_addition": "toyforge.verify.experiments.grokking",
    "run_sweep": "toyforge.verify.sweep",
    "load_spec": "toyforge.verify.sweep",
    "run_demo": "toyforge.demo",
    "run_report": "toyforge.report",
}

__all__ = [
    "CorruptFile",
    "IncompatibleWeights",
    "InvalidParameter",
    "ToyforgeError",
    "__version__",
    *_SUBPACKAGES,
    *_LAZY_EXPORTS,
]


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"toyforge.{name}")
    if name in _LAZY_EXPORTS:
        return getattr(importlib.import_module(_LAZY_EXPORTS[name]), name)
    raise AttributeError(f"module 'toyforge' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
