"""Large-N theory of permutation-symmetric ReLU autoencoders (the Persian-rug analysis).

See docs/large_n_theory.md#model-data-and-loss. Public API:

* :func:`predict`, :func:`predict_grid` -> :class:`Prediction`, :class:`PredictionGrid`:
  the loss (lower envelope of the symmetric optimum and time sharing), its regime, the
  symmetric optimum (scale ``a*``, ``c*``, bias ``a* c*``, sigma) and every baseline.
* Lower-level pieces (vectorised numpy; sympy is never imported at call time):

  - :func:`relu_moments` — Gaussian ReLU moments ``M0..M3``
    (docs/large_n_theory.md#gaussian-relu-moments);
  - :func:`reduced_expectations` — ``(E[xR], E[R^2])``; :func:`optimal_scale` — ``a*(c)``;
    :func:`profile_loss` — ``L*(c)``; :func:`reduced_loss` — ``L(a, c; sigma, p)`` of the
    reduced scalar model; :func:`symmetric_optimum` — ``(a*, c*, loss)`` for (ratio, p);
    :func:`interference_sigma` — ``sigma(r, p)``;
  - :func:`time_sharing` (docs/large_n_theory.md#time-sharing);
  - baselines :func:`zero_loss`, :func:`constant_loss`, :func:`linear_loss`,
    :func:`mmse_loss`, :func:`jumprelu_loss`
    (docs/large_n_theory.md#elementwise-bounds-mmse-and-jumprelu);
  - asymptotics :func:`leading_asymptotic_loss`, :func:`refined_asymptotic_loss`,
    :func:`threshold_u` (docs/large_n_theory.md#high-sparsity-laws);
  - solution families (docs/solution_families.md): :func:`family_optimum`,
    :func:`family_loss` (exact polytope blocks), :func:`pair_rug_optimum`,
    :func:`structured_rug_optimum` (blocks on a Hadamard frame), :func:`envelope` (the lower
    convex hull; ``predict`` reports it as ``envelope_loss`` and ``structure``).
"""

from toyforge.theory._gauss import relu_moments
from toyforge.theory.asymptotics import (
    leading_asymptotic_loss,
    refined_asymptotic_loss,
    threshold_u,
)
from toyforge.theory.baselines import (
    constant_loss,
    jumprelu_loss,
    linear_loss,
    mmse_loss,
    zero_loss,
)
from toyforge.theory.envelope import Envelope, envelope
from toyforge.theory.families import (
    FAMILIES,
    AsymmetricDigon,
    BlockFamily,
    FamilyOptimum,
    asymmetric_digon_optimum,
    dropped_loss,
    family_loss,
    family_optimum,
)
from toyforge.theory.finite_n import FinitePrediction, predict_finite
from toyforge.theory.large_n_loss import (
    SymmetricOptimum,
    interference_sigma,
    optimal_scale,
    profile_loss,
    reduced_expectations,
    reduced_loss,
    symmetric_optimum,
)
from toyforge.theory.predict import (
    MIN_RATIO,
    REGIMES,
    Prediction,
    PredictionGrid,
    StructureComponent,
    predict,
    predict_grid,
)
from toyforge.theory.structured_rug import (
    RugOptimum,
    pair_rug_loss,
    pair_rug_optimum,
    rug_sigma,
    structured_rug_loss,
    structured_rug_optimum,
)
from toyforge.theory.timesharing import TimeSharing, time_sharing

__all__ = [
    "FAMILIES",
    "MIN_RATIO",
    "AsymmetricDigon",
    "REGIMES",
    "BlockFamily",
    "Envelope",
    "FamilyOptimum",
    "RugOptimum",
    "StructureComponent",
    "asymmetric_digon_optimum",
    "dropped_loss",
    "envelope",
    "family_loss",
    "family_optimum",
    "pair_rug_loss",
    "pair_rug_optimum",
    "rug_sigma",
    "structured_rug_loss",
    "structured_rug_optimum",
    "FinitePrediction",
    "Prediction",
    "PredictionGrid",
    "SymmetricOptimum",
    "TimeSharing",
    "constant_loss",
    "interference_sigma",
    "jumprelu_loss",
    "leading_asymptotic_loss",
    "linear_loss",
    "mmse_loss",
    "optimal_scale",
    "predict",
    "predict_finite",
    "predict_grid",
    "profile_loss",
    "reduced_expectations",
    "reduced_loss",
    "refined_asymptotic_loss",
    "relu_moments",
    "symmetric_optimum",
    "threshold_u",
    "time_sharing",
    "zero_loss",
]
