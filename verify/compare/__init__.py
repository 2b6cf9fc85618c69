"""Comparisons theory <-> construction <-> trained model (the Persian rug).

Public names are re-exported here and imported lazily from their modules
(persian_rug), so importing one module does not import its siblings.
"""

from __future__ import annotations

from toyforge.core.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "ComparisonResult": "toyforge.verify.compare.persian_rug",
    "ConvergencePoint": "toyforge.verify.compare.rug_curves",
    "ConvergenceStudy": "toyforge.verify.compare.rug_curves",
    "LossCurves": "toyforge.verify.compare.rug_curves",
    "RugCompareConfig": "toyforge.verify.compare.persian_rug",
    "TrainedPoint": "toyforge.verify.compare.persian_rug",
    "compare_persian_rug": "toyforge.verify.compare.persian_rug",
    "convergence_study": "toyforge.verify.compare.rug_curves",
    "large_n_losses": "toyforge.verify.compare.persian_rug",
    "loss_curves": "toyforge.verify.compare.rug_curves",
    "train_autoencoder": "toyforge.verify.compare.persian_rug",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
