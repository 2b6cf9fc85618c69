"""The LP readout of a modular-addition MLP: the output matrix that maximises the worst-case
margin for a fixed input matrix (scipy HiGHS).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from toyforge.constructions.models import apply_activation
from toyforge.constructions.modular_exactness import ACTIVATIONS
from toyforge.core.errors import InvalidParameter
from toyforge.core.validate import check_choice

__all__ = ["LPReadoutResult", "lp_readout"]


@dataclass(frozen=True, kw_only=True, slots=True)
class LPReadoutResult:
    """Outcome of :func:`lp_readout`.

    ``feasible`` is True when some readout with |W_out| <= 1 separates every pair with a
    positive margin; then ``W_out`` (N × p) attains the LP-optimal ``margin``. ``message``
    says why not otherwise (``"infeasible: …"``).
    """

    feasible: bool
    margin: float
    W_out: np.ndarray | None
    message: str
    n_constraints: int


def _margin_constraints(W_in: np.ndarray, right: np.ndarray, activation: str, *, tied: bool) -> Any:
    """Sparse rows ``−h(a,b)·w_{a+b} + h(a,b)·w_c + t <= 0`` for every pair and c ≠ a+b.

    The variable is ``x = [vec(W_out), t]`` with column c of neuron j at ``j·p + c``; tied
    models need only the pairs a <= b.
    """
    from scipy import sparse  # deferred with scipy.optimize, see lp_readout

    modulus, n_hidden = W_in.shape
    a, b = np.meshgrid(np.arange(modulus), np.arange(modulus), indexing="ij")
    keep = (a <= b) if tied else np.ones_like(a, dtype=bool)
    a, b = a[keep], b[keep]
    hidden = apply_activation(activation, W_in[a] + right[b])  # (pairs, N)
    target = (a + b) % modulus
    pair_index = np.repeat(np.arange(len(a)), modulus - 1)
    wrong = (target[:, None] + np.arange(1, modulus)[None, :]) % modulus  # every c ≠ target
    wrong = wrong.ravel()
    n_rows = len(pair_index)
    # variable x = [vec(W_out) (N·p, column c of neuron j at j·p + c), t]
    row_ids = np.repeat(np.arange(n_rows), 2 * n_hidden + 1)
    neuron = np.arange(n_hidden)
    cols_right = neuron[None, :] * modulus + target[pair_index][:, None]
    cols_wrong = neuron[None, :] * modulus + wrong[:, None]
    values_h = hidden[pair_index]
    # −h·w_target + h·w_c + t <= 0
    cols = np.concatenate(
        [cols_right, cols_wrong, np.full((n_rows, 1), n_hidden * modulus)], axis=1
    ).ravel()
    vals = np.concatenate([-values_h, values_h, np.ones((n_rows, 1))], axis=1).ravel()
    return sparse.csr_array((vals, (row_ids, cols)), shape=(n_rows, n_hidden * modulus + 1))


def lp_readout(
    W_in: np.ndarray,
    activation: str = "relu",
    *,
    W_in_right: np.ndarray | None = None,
    tol: float = 1e-9,
) -> LPReadoutResult:
    """The readout maximising the worst-case margin for a fixed input matrix
    (docs/modular_addition.md#lp-readout).

    Solves  max t  s.t.  h(a,b) · (w_{a+b} − w_c) >= t  for all pairs and all c ≠ a+b,
    −1 <= W_out <= 1, with h(a, b) = act(W_in[a] + W_in_right[b]) (tied: only a <= b is
    needed). scipy ``linprog`` (HiGHS). Constraint count p²(p−1) (halved when tied): use for
    p up to a few hundred.

    Parameters
    ----------
    W_in : ndarray, shape (p, N)
    activation : {"relu", "quadratic"}
    W_in_right : ndarray, shape (p, N), optional
        Untied second operand.
    """
    # scipy.optimize takes ~0.6 s to import: only this LP needs it, not every importer of
    # toyforge.constructions.modular_addition (which re-exports lp_readout)
    from scipy.optimize import linprog

    check_choice("activation", activation, ACTIVATIONS)
    W_in = np.asarray(W_in, dtype=np.float64)
    if W_in.ndim != 2:
        raise InvalidParameter("W_in", W_in.shape, "a (p, N) matrix")
    modulus, n_hidden = W_in.shape
    right = W_in if W_in_right is None else np.asarray(W_in_right, dtype=np.float64)
    matrix = _margin_constraints(W_in, right, activation, tied=W_in_right is None)
    n_rows = matrix.shape[0]
    cost = np.zeros(n_hidden * modulus + 1)
    cost[-1] = -1.0
    bounds = [(-1.0, 1.0)] * (n_hidden * modulus) + [(None, None)]
    solution = linprog(cost, A_ub=matrix, b_ub=np.zeros(n_rows), bounds=bounds, method="highs")
    if solution.status != 0:
        return LPReadoutResult(
            feasible=False,
            margin=math.nan,
            W_out=None,
            message=f"infeasible: solver status {solution.status} ({solution.message})",
            n_constraints=n_rows,
        )
    margin = float(solution.x[-1]) + 0.0  # no "-0"
    if margin <= tol:
        return LPReadoutResult(
            feasible=False,
            margin=margin,
            W_out=None,
            message=f"infeasible: the best worst-case margin is {margin:.3g} "
            "<= 0 (no readout separates every pair)",
            n_constraints=n_rows,
        )
    W_out = solution.x[:-1].reshape(n_hidden, modulus)
    return LPReadoutResult(
        feasible=True,
        margin=margin,
        W_out=W_out,
        message=f"feasible: margin {margin:.3g}",
        n_constraints=n_rows,
    )
