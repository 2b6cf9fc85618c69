"""The Persian-rug autoencoder, built directly from Walsh–Hadamard rows (no training).

Cowsik, Dolev, Infanger (2024, arXiv:2410.12101) and their code KfirD/PersianRug
(``hadamard_model.py``); docs/rug_construction.md#the-construction:

* ``W_in = H[S, :]``: a set S of ``n_hidden`` distinct rows of the Sylvester–Hadamard matrix H
  of order ``n_features`` (entries ±1, ``H_kj = (−1)^{popcount(k AND j)}``);
* ``W_out = W_inᵀ / n_hidden``, so ``W = W_out W_in = H_Sᵀ H_S / n_hidden`` with
  ``W_ij = f_S(i ⊕ j)``, ``diag(W) ≡ 1``, ``Σ_{j≠i} W_ij² = 1/r − 1`` (the variance bound of
  docs/large_n_theory.md#the-variance-bound saturated), off-diagonal row sum ``(1/r)·1[0 ∈ S] − 1``,
  W symmetric;
* forward pass ``y = ReLU(scale · W x + bias)`` with two scalars set **exactly** from the
  large-N theory (:func:`toyforge.theory.predict` at r_eff = n_hidden/n_features,
  docs/large_n_theory.md#paper-grid-and-training-recipe): ``scale = a*`` and ``bias = a*·(c* − μ0)``
  where ``μ0 = (p/2)((1/r)·1[0∈S] − 1)`` is
  the mean interference of this row set (docs/rug_construction.md#scale-and-bias-from-the-theory).

The model is stored matrix-free (the row set and two scalars), so n_features = 2^20 needs
no n × n matrix; :meth:`PersianRugAutoencoder.materialize` returns the dense
:class:`~toyforge.constructions.models.ReluAutoencoder` when it fits in memory.

Row selection (docs/rug_construction.md#row-selection): ``"random"`` (uniform, the paper's choice),
``"min-skewness"`` (the lowest interference skewness ``Σ_{t≠0} f_S(t)³`` among ``n_candidates``
uniform draws;
docs/finite_n.md#dependence-on-the-row-set: the loss rises with that skewness) and ``"first"`` (rows
0 … n_hidden−1, a
repetition code kept as the documented failure case: +108 % at (1024, 0.25, 0.05),
docs/rug_construction.md#row-selection). Sylvester matrices exist only for n = 2^k: other sizes are
refused with the nearest valid ones.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from toyforge.constructions.models import ReluAutoencoder, register_architecture
from toyforge.core.budget import check_memory
from toyforge.core.errors import IncompatibleWeights, InvalidParameter
from toyforge.core.validate import (
    as_rng,
    check_choice,
    check_int,
    check_interval,
    check_probability,
    check_real,
    check_seed,
)
from toyforge.theory.finite_n import (
    interference_kernel,
    large_n_optimum,
    walsh_hadamard_transform,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "SELECTIONS",
    "PersianRugAutoencoder",
    "check_power_of_two",
    "hidden_size",
    "persian_rug",
    "rug_parameters",
]

SELECTIONS = ("random", "min-skewness", "first")
DEFAULT_MAX_BYTES = 2 * 2**30
"""materialize() refuses dense weights larger than this (2 GiB) unless told otherwise."""

MAX_FEATURES = 2**30


def check_power_of_two(name: str, value: object) -> int:
    """``value`` as an int that is a power of two >= 2, else InvalidParameter naming neighbours."""
    size = check_int(name, value, minimum=2)
    if size > MAX_FEATURES:
        raise InvalidParameter(name, value, f"a power of two <= 2^30 = {MAX_FEATURES}")
    if size & (size - 1):
        lower = 1 << (size.bit_length() - 1)
        upper = lower << 1
        raise InvalidParameter(
            name,
            value,
            f"a power of two (Sylvester–Hadamard rows exist only for n = 2^k); "
            f"nearest valid sizes: {lower} or {upper}",
        )
    return size


def hidden_size(n_features: int, ratio: float) -> int:
    """``n_hidden = max(floor(ratio · n_features), 1)``
    (docs/large_n_theory.md#paper-grid-and-training-recipe)."""
    ratio = check_interval("ratio", ratio, 0.0, 1.0, low_open=True)
    return max(int(math.floor(ratio * n_features + 1e-9)), 1)


def _row_skewness(rows: np.ndarray, n_features: int) -> float:
    """``Σ_{t≠0} f_S(t)³`` (docs/finite_n.md#dependence-on-the-row-set: the skewness of ν is
    proportional to it)."""
    kernel = interference_kernel(rows, n_features)
    return float(np.sum(kernel[1:] ** 3))


def _select_rows(
    n_features: int, n_hidden: int, selection: str, rng: np.random.Generator, n_candidates: int
) -> np.ndarray:
    if selection == "first":
        return np.arange(n_hidden, dtype=np.int64)
    draws = 1 if selection == "random" else n_candidates
    best, best_skew = None, math.inf
    for _ in range(draws):
        rows = np.sort(rng.choice(n_features, size=n_hidden, replace=False)).astype(np.int64)
        if draws == 1:
            return rows
        skew = _row_skewness(rows, n_features)
        if skew < best_skew:
            best, best_skew = rows, skew
    assert best is not None
    return best


def rug_parameters(rows: np.ndarray, n_features: int, feature_prob: float) -> tuple[float, float]:
    """(scale, bias) of the rug with rows S from the large-N theory, exactly
    (docs/rug_construction.md#scale-and-bias-from-the-theory).

    ``scale = a*``, ``bias = a*·(c* − μ0)``, ``μ0 = (p/2)((1/r)·1[0 ∈ S] − 1)``, with
    (a*, c*) the symmetric optimum of :func:`toyforge.theory.predict` at r_eff.
    """
    feature_prob = check_probability("feature_prob", feature_prob)
    ratio = rows.size / n_features
    a_star, c_star, _ = large_n_optimum(ratio, feature_prob)
    offdiag_sum = (1.0 / ratio) * float(np.any(rows == 0)) - 1.0
    mean_interference = feature_prob / 2 * offdiag_sum
    return a_star, a_star * (c_star - mean_interference)


def persian_rug(
    n_features: int,
    ratio: float,
    feature_prob: float,
    seed: int | None = 0,
    *,
    selection: str = "random",
    n_candidates: int = 16,
) -> PersianRugAutoencoder:
    """Build the Persian-rug autoencoder directly (docs/rug_construction.md#the-construction).

    Parameters
    ----------
    n_features : int
        n, a power of two (2 … 2^30); other sizes raise InvalidParameter naming the nearest.
    ratio : float
        r in (0, 1]; n_hidden = max(floor(r·n), 1) and r_eff = n_hidden/n enters the theory.
    feature_prob : float
        p in (0, 1], the data the scalars are optimised for.
    seed : int or None
        Seed of the row selection.
    selection : {"random", "min-skewness", "first"}
        How S is chosen (module docstring).
    n_candidates : int
        Number of uniform draws compared by ``"min-skewness"``.

    Returns
    -------
    PersianRugAutoencoder
    """
    n_features = check_power_of_two("n_features", n_features)
    n_hidden = hidden_size(n_features, ratio)
    feature_prob = check_probability("feature_prob", feature_prob)
    selection = check_choice("selection", selection, SELECTIONS)
    n_candidates = check_int("n_candidates", n_candidates, minimum=1)
    seed = check_seed("seed", seed)
    # the row choice permutes all n rows; refuse up front rather than fail inside it
    need = 8.0 * (4 * n_features + 4 * n_hidden)
    check_memory("n_features", n_features, need, what=f"choosing {n_hidden} of {n_features} rows")
    rows = _select_rows(n_features, n_hidden, selection, as_rng(seed), n_candidates)
    scale, bias = rug_parameters(rows, n_features, feature_prob)
    return PersianRugAutoencoder(
        rows=rows,
        scale=scale,
        bias=bias,
        n_features=n_features,
        feature_prob=feature_prob,
        seed=seed,
        selection=selection,
    )


@register_architecture
@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class PersianRugAutoencoder:
    """Matrix-free Persian rug: ``y = ReLU(scale · W x + bias)``, ``W = H_Sᵀ H_S / n_hidden``.

    Stored as the row set and two scalars (file keys ``rows``, ``scale``, ``bias``; the
    hyperparameters ``n_features``, ``feature_prob``, ``seed``, ``selection`` go in the config).

    Parameters
    ----------
    rows : ndarray of int64, shape (n_hidden,)
        The distinct Sylvester–Hadamard rows S, sorted.
    scale : float
        A > 0 (the paper code's ``Adiag``).
    bias : float
        The effective bias A·m (the paper code's ``mean`` m times A).
    n_features : int
        n, a power of two.
    feature_prob : float or None
        The p the scalars were set for (provenance).
    seed : int or None
        Seed of the row selection (provenance).
    selection : str
        How the rows were chosen (provenance).
    """

    rows: np.ndarray
    scale: float
    bias: float
    n_features: int
    feature_prob: float | None = None
    seed: int | None = None
    selection: str = "random"

    architecture: ClassVar[str] = "persian-rug"
    _hyper_fields: ClassVar[tuple[str, ...]] = ("n_features", "feature_prob", "seed", "selection")

    def __post_init__(self) -> None:
        try:
            size = check_power_of_two("n_features", self.n_features)
        except InvalidParameter as error:
            raise IncompatibleWeights(str(error)) from error
        object.__setattr__(self, "n_features", size)
        object.__setattr__(self, "rows", self._validated_rows(self.rows, size))
        object.__setattr__(self, "scale", _scalar("scale", self.scale))
        object.__setattr__(self, "bias", _scalar("bias", self.bias))
        if self.feature_prob is not None:
            object.__setattr__(
                self, "feature_prob", check_probability("feature_prob", self.feature_prob)
            )
        check_seed("seed", self.seed)
        check_choice("selection", self.selection, SELECTIONS)

    @staticmethod
    def _validated_rows(rows: Any, n_features: int) -> np.ndarray:
        array = np.asarray(rows)
        if array.ndim != 1 or array.size == 0 or array.dtype.kind not in "iu":
            raise IncompatibleWeights(
                f"rows must be a non-empty 1-D integer array, got "
                f"dtype {array.dtype} shape {array.shape}"
            )
        array = np.sort(array.astype(np.int64))
        if array[0] < 0 or array[-1] >= n_features:
            raise IncompatibleWeights(f"rows must lie in [0, {n_features})")
        if np.any(np.diff(array) == 0):
            raise IncompatibleWeights("rows must be distinct")
        array.setflags(write=False)
        return array

    # ------------------------------------------------------------------ sizes and io

    @property
    def n_hidden(self) -> int:
        """|S|, the bottleneck width."""
        return int(self.rows.size)

    @property
    def ratio(self) -> float:
        """r_eff = n_hidden / n_features."""
        return self.n_hidden / self.n_features

    @property
    def n_parameters(self) -> int:
        """Fitted scalars: scale and bias (the rows are a fixed choice, not parameters)."""
        return 2

    @property
    def contains_row_zero(self) -> bool:
        """Whether the all-ones row 0 is in S (it shifts the mean interference,
        docs/rug_construction.md#exact-properties)."""
        return bool(self.rows[0] == 0)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """``rows`` (int64, (n_hidden,)), ``scale`` and ``bias`` (0-d float64)."""
        return {"rows": self.rows, "scale": np.array(self.scale), "bias": np.array(self.bias)}

    def hyperparameters(self) -> dict[str, Any]:
        """``n_features``, ``feature_prob``, ``seed``, ``selection``."""
        return {name: getattr(self, name) for name in self._hyper_fields}

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, np.ndarray], hyperparameters: Mapping[str, Any] | None = None
    ) -> PersianRugAutoencoder:
        """Rebuild from ``to_arrays()`` and ``hyperparameters()``."""
        unknown = sorted(set(arrays) - {"rows", "scale", "bias"})
        if unknown:
            raise IncompatibleWeights(
                f"persian-rug has no arrays named {unknown}; expected ['rows', 'scale', 'bias']"
            )
        hyper = dict(hyperparameters or {})
        unknown_hyper = sorted(set(hyper) - set(cls._hyper_fields))
        if unknown_hyper:
            raise IncompatibleWeights(f"unknown hyperparameters {unknown_hyper} for persian-rug")
        return cls(rows=arrays["rows"], scale=arrays["scale"], bias=arrays["bias"], **hyper)

    # ------------------------------------------------------------------ structure of W

    def interference_kernel(self) -> np.ndarray:
        """``f_S(t)``, t = 0 … n−1, shape (n_features,): ``W_ij = f_S(i ⊕ j)``
        (docs/rug_construction.md#why-it-looks-like-a-rug)."""
        return interference_kernel(self.rows, self.n_features)

    def offdiagonal_weights(self) -> np.ndarray:
        """``{W_ij : j ≠ i}``, shape (n_features − 1,), identical for every row i."""
        return self.interference_kernel()[1:]

    def mean_interference(self, feature_prob: float) -> float:
        """μ0 = (p/2)·((1/r)·1[0 ∈ S] − 1), exact at every n
        (docs/rug_construction.md#exact-properties)."""
        p = check_probability("feature_prob", feature_prob)
        return p / 2 * ((1.0 / self.ratio) * float(self.contains_row_zero) - 1.0)

    def matrix_crop(self, size: int) -> np.ndarray:
        """``W[:size, :size]`` (size a power of two <= n): the top-left corner of the rug."""
        size = min(check_power_of_two("size", size), self.n_features)
        kernel = self.interference_kernel()[:size]
        index = np.arange(size)
        return kernel[index[:, None] ^ index[None, :]]

    def block_average(self, size: int) -> np.ndarray:
        """W averaged over dyadic blocks, shape (size, size).

        The mean of ``f_S(i ⊕ j)`` over the block (I, J) of side b = n/size is the mean of f_S
        over block I ⊕ J (XOR maps the pair block onto one block, each value b times).
        """
        size = min(check_power_of_two("size", size), self.n_features)
        block = self.n_features // size
        means = self.interference_kernel().reshape(size, block).mean(axis=1)
        index = np.arange(size)
        return means[index[:, None] ^ index[None, :]]

    # ------------------------------------------------------------------ dense form

    def dense_bytes(self) -> int:
        """Bytes of the dense float64 ReluAutoencoder (W_in, W_out, b)."""
        return 8 * (2 * self.n_hidden * self.n_features + self.n_features)

    def materialize(self, max_bytes: int = DEFAULT_MAX_BYTES) -> ReluAutoencoder:
        """The dense :class:`ReluAutoencoder` with the same forward pass.

        ``W_in = H[S, :]``, ``W_out = scale · W_inᵀ / n_hidden`` (the scale folded into the
        decoder), ``b = bias``. Refuses (InvalidParameter) when the arrays would exceed
        ``max_bytes``.
        """
        self._check_fits("materialize", self.dense_bytes(), max_bytes)
        bits = self.rows[:, None] & np.arange(self.n_features)[None, :]
        parity = _popcount_parity(bits)
        w_in = 1.0 - 2.0 * parity
        w_out = (self.scale / self.n_hidden) * w_in.T
        return ReluAutoencoder(
            W_in=w_in, W_out=np.ascontiguousarray(w_out), b=np.full(self.n_features, self.bias)
        )

    def effective_matrix(self, max_bytes: int = DEFAULT_MAX_BYTES) -> np.ndarray:
        """The dense ``W = H_Sᵀ H_S / n_hidden``, shape (n_features, n_features)."""
        self._check_fits("effective_matrix", 8 * self.n_features**2, max_bytes)
        return self.matrix_crop(self.n_features)

    def _check_fits(self, what: str, needed: int, max_bytes: int) -> None:
        if needed > max_bytes:
            raise InvalidParameter(
                "n_features",
                self.n_features,
                f"a size whose dense form fits: {what} needs {needed / 2**30:.3g} GiB > "
                f"max_bytes = {max_bytes / 2**30:.3g} GiB; use the matrix-free model "
                f"(toyforge.verify.evaluate.rug_monte_carlo) instead",
            )

    # ------------------------------------------------------------------ forward pass

    def pre_activation(self, x: Any) -> np.ndarray:
        """``scale · W x + bias`` with ``W x = WHT(mask_S ⊙ WHT(x)) / n_hidden`` (numpy).

        x has shape (batch, n_features) or (n_features,). Memory O(batch · n).
        """
        array = np.asarray(x, dtype=np.float64)
        single = array.ndim == 1
        batch = array[None, :] if single else array
        if batch.ndim != 2 or batch.shape[1] != self.n_features:
            raise IncompatibleWeights(
                f"x must have shape (batch, {self.n_features}) or "
                f"({self.n_features},), got {array.shape}"
            )
        spectrum = walsh_hadamard_transform(batch)
        masked = np.zeros_like(spectrum)
        masked[:, self.rows] = spectrum[:, self.rows] / self.n_hidden
        values = self.scale * walsh_hadamard_transform(masked) + self.bias
        return values[0] if single else values

    def forward(self, x: Any) -> np.ndarray:
        """``ReLU(scale · W x + bias)``, same leading shape as x."""
        return np.maximum(self.pre_activation(x), 0.0)


def _scalar(name: str, value: Any) -> float:
    array = np.asarray(value)
    if array.size != 1:
        raise IncompatibleWeights(f"{name} must be a scalar, got shape {array.shape}")
    try:
        return check_real(name, float(array.reshape(())))
    except InvalidParameter as error:
        raise IncompatibleWeights(str(error)) from error


def _popcount_parity(values: np.ndarray) -> np.ndarray:
    """Parity of the number of set bits of non-negative int64 values (elementwise)."""
    parity = np.zeros(values.shape, dtype=np.int64)
    work = values.copy()
    while np.any(work):
        parity ^= work & 1
        work >>= 1
    return parity
