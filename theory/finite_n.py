"""Finite-N theory of the Persian-rug autoencoder: the exact loss from the interference law.

For the Persian rug (docs/rug_construction.md#the-construction) every row of ``W = H_Sᵀ H_S /
n_hidden``
is a permutation of the same vector ``f_S(t) = (1/n_hidden) Σ_{k∈S} (−1)^{popcount(k AND t)}``
(``W_ij = f_S(i ⊕ j)``, docs/rug_construction.md#why-it-looks-like-a-rug), ``W_ii = 1``. The
pre-activation of output i is
``scale·(x_i + ν_i) + bias`` with interference ``ν_i = Σ_{j≠i} W_ij x_j``, a sum of independent
sparse terms whose law does not depend on i. Only Gaussianity of ν fails at finite n
(docs/finite_n.md#why-the-large-n-formula-runs-low), so this module replaces the Gaussian ν of the
large-N formula (docs/large_n_theory.md#the-closed-form-loss) by its exact law:

* **exact** — the characteristic function of ν is
  ``φ(t) = Π_j (1 − p + p (e^{i t w_j} − 1)/(i t w_j))`` (x_j = B_j U_j, B ~ Bernoulli(p),
  U ~ U[0,1), docs/large_n_theory.md#model-data-and-loss). It is evaluated on the frequency grid of
  an N-point periodic lattice and inverted by one real FFT into lattice weights ``q_k``.
  ``Σ_k q_k F(ν_k)`` then equals
  ``E[I_N F(ν)]``, where ``I_N F`` is the trigonometric interpolant of F on the lattice
  (discrete Fourier duality), so the only errors are (i) the interpolation error of the loss
  integrands, which are C¹ piecewise polynomials (O(Δ²) in the lattice step Δ), and
  (ii) probability mass beyond the window (bounded by the support of ν and a 12-σ window).
  The integrands are multiplied by a cosine taper that is 1 on the window, so they are smooth
  and periodic on the lattice. The atom of ν at 0 (no interfering feature active) sits on a
  lattice point and is integrated exactly.
* **edgeworth** — the cheaper Edgeworth expansion of the density of ν from its first four
  cumulants (``κ_r(ν) = κ_r(x) Σ_j w_j^r``), integrated numerically.
* **gaussian** — the same integral with a normal ν of the exact mean and variance: the
  large-N formula of docs/large_n_theory.md#the-closed-form-loss evaluated at given (scale, bias).

Given the law of ν, the loss at (scale A, bias b), with c = b/A and A > 0, is exactly
quadratic in A (docs/large_n_theory.md#the-closed-form-loss)::

    L(A, c) = p/3 − 2A·E[x R] + A²·E[R²],      R = ReLU(x + ν + c)
    E[x R]  = p·E_ν[G(ν + c)],                 G(m) = ∫₀¹ x (x + m)_+ dx
    E[R²]   = p·E_ν[H(ν + c)] + (1 − p)·E_ν[(ν + c)_+²],   H(m) = ∫₀¹ (x + m)_+² dx

so the finite-N optimum is a 1-D search over c with A*(c) = E[xR]/E[R²] in closed form.

This module is part of the theory layer: it imports nothing from constructions or verify and
takes the row set, or the multiset of off-diagonal weights, as arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from toyforge.core.errors import InvalidParameter
from toyforge.core.validate import check_choice, check_int, check_probability, check_real
from toyforge.theory.predict import predict

__all__ = [
    "FINITE_N_METHODS",
    "FinitePrediction",
    "InterferenceLaw",
    "finite_n_loss",
    "interference_kernel",
    "interference_law",
    "large_n_optimum",
    "offdiagonal_weights",
    "predict_finite",
    "walsh_hadamard_transform",
]

FINITE_N_METHODS = ("exact", "edgeworth", "gaussian")

_WINDOW_SIGMAS = 12.0  # half-width of the window in standard deviations of ν ...
_WINDOW_MAX_WEIGHTS = 8.0  # ... plus this many of the largest |w_j| (sparse tails)
_MIN_POINTS = 2**12
_MAX_POINTS = 2**20
_EDGEWORTH_POINTS = 20_001


# --------------------------------------------------------------------------- Walsh basics


def walsh_hadamard_transform(values: np.ndarray) -> np.ndarray:
    """Unnormalised Walsh–Hadamard transform along the last axis (Sylvester order).

    ``out[..., k] = Σ_j values[..., j] · (−1)^{popcount(k AND j)}``, i.e. ``values @ H`` with
    H the Sylvester–Hadamard matrix (``scipy.linalg.hadamard``), computed with log2(n)
    butterfly stages in O(n log n) (docs/rug_construction.md#the-construction). This is the
    project's one
    numpy FWHT: the rug construction uses it, and the numba kernel
    ``toyforge.verify.kernels.fwht.fwht`` is tested against it.

    Parameters
    ----------
    values : array_like, shape (..., n)
        n a power of two.

    Returns
    -------
    ndarray of float64, same shape
    """
    out = np.array(values, dtype=np.float64, copy=True)
    n = out.shape[-1]
    if n < 1 or n & (n - 1):
        raise InvalidParameter("values.shape[-1]", n, "a power of two")
    lead = out.shape[:-1]
    half = 1
    while half < n:
        blocks = out.reshape(*lead, n // (2 * half), 2, half)
        upper, lower = blocks[..., 0, :], blocks[..., 1, :]
        out = np.stack((upper + lower, upper - lower), axis=-2).reshape(*lead, n)
        half *= 2
    return out


def _check_rows(rows: Any, n_features: int) -> np.ndarray:
    n_features = check_int("n_features", n_features, minimum=1)
    if n_features & (n_features - 1):
        raise InvalidParameter("n_features", n_features, "a power of two")
    row_array = np.asarray(rows)
    if row_array.ndim != 1 or row_array.size == 0 or row_array.dtype.kind not in "iu":
        raise InvalidParameter(
            "rows",
            getattr(row_array, "shape", rows),
            "a non-empty 1-D integer array of Hadamard row indices",
        )
    if row_array.min() < 0 or row_array.max() >= n_features:
        raise InvalidParameter("rows", "out of range", f"indices in [0, {n_features})")
    if np.unique(row_array).size != row_array.size:
        raise InvalidParameter("rows", "repeated indices", "distinct row indices")
    return row_array.astype(np.int64)


def interference_kernel(rows: Any, n_features: int) -> np.ndarray:
    """``f_S(t) = (1/n_hidden) Σ_{k∈S} (−1)^{popcount(k AND t)}`` for t = 0 … n−1.

    Row i of the rug's ``W`` is ``W_ij = f_S(i ⊕ j)``
    (docs/rug_construction.md#why-it-looks-like-a-rug);
    ``f_S(0) = 1`` is the diagonal. One Walsh–Hadamard transform of the indicator of S.

    Parameters
    ----------
    rows : array_like of int, shape (n_hidden,)
        The distinct Hadamard rows S.
    n_features : int
        n, a power of two.

    Returns
    -------
    ndarray of float64, shape (n_features,)
    """
    row_array = _check_rows(rows, n_features)
    indicator = np.zeros(n_features)
    indicator[row_array] = 1.0
    return walsh_hadamard_transform(indicator) / row_array.size


def offdiagonal_weights(rows: Any, n_features: int) -> np.ndarray:
    """The multiset ``{W_ij : j ≠ i}`` of every row of the rug: ``f_S(t)``, t = 1 … n−1."""
    return interference_kernel(rows, n_features)[1:]


# --------------------------------------------------------------------------- law of ν


def _data_cumulants(feature_prob: float) -> tuple[float, float, float, float]:
    """Cumulants κ1…κ4 of x = B·U, B ~ Bernoulli(p), U ~ U[0,1) (moments p/(k+1),
    docs/large_n_theory.md#model-data-and-loss)."""
    p = feature_prob
    m1, m2, m3, m4 = p / 2, p / 3, p / 4, p / 5
    k2 = m2 - m1**2
    k3 = m3 - 3 * m2 * m1 + 2 * m1**3
    k4 = m4 - 4 * m3 * m1 - 3 * m2**2 + 12 * m2 * m1**2 - 6 * m1**4
    return m1, k2, k3, k4


@dataclass(frozen=True, kw_only=True, slots=True)
class InterferenceLaw:
    """The distinct off-diagonal weights of a row, their counts and the cumulants of ν.

    Parameters
    ----------
    values : ndarray, shape (n_distinct,)
        Distinct non-zero weights w.
    counts : ndarray of int, shape (n_distinct,)
        How many j ≠ i carry each weight.
    feature_prob : float
    mean, variance, skewness, excess_kurtosis : float
        Of ν = Σ_j w_j x_j (exact: cumulants add over independent terms).
    support : tuple of float
        (Σ negative w, Σ positive w): ν lies in this interval.
    """

    values: np.ndarray
    counts: np.ndarray
    feature_prob: float
    mean: float
    variance: float
    skewness: float
    excess_kurtosis: float
    support: tuple[float, float]

    def __post_init__(self) -> None:
        if self.values.shape != self.counts.shape or self.values.ndim != 1:
            raise InvalidParameter("counts", self.counts.shape, "the shape of values")

    @property
    def std(self) -> float:
        """Standard deviation of ν."""
        return math.sqrt(self.variance)

    @property
    def max_abs_weight(self) -> float:
        """Largest |w_j| (0 when every weight is 0)."""
        return float(np.max(np.abs(self.values), initial=0.0))


def interference_law(offdiag_weights: Any, feature_prob: float) -> InterferenceLaw:
    """The law of ν = Σ_j w_j x_j from the off-diagonal weights of one row.

    Parameters
    ----------
    offdiag_weights : array_like, shape (n_features - 1,)
        ``{W_ij : j ≠ i}`` (any order; zeros are dropped).
    feature_prob : float
        p in (0, 1].
    """
    p = check_probability("feature_prob", feature_prob)
    weights = np.asarray(offdiag_weights, dtype=np.float64).ravel()
    if not np.all(np.isfinite(weights)):
        raise InvalidParameter("offdiag_weights", "non-finite", "finite weights")
    # Rug weights are multiples of 1/n_hidden: round away float noise before grouping.
    values, counts = np.unique(np.round(weights, 12), return_counts=True)
    keep = values != 0
    values, counts = values[keep], counts[keep]
    k1, k2, k3, k4 = _data_cumulants(p)
    power = [float(np.sum(counts * values**r)) for r in (1, 2, 3, 4)]
    variance = k2 * power[1]
    skewness = k3 * power[2] / variance**1.5 if variance > 0 else 0.0
    excess = k4 * power[3] / variance**2 if variance > 0 else 0.0
    support = (
        float(np.sum(counts * np.minimum(values, 0))),
        float(np.sum(counts * np.maximum(values, 0))),
    )
    return InterferenceLaw(
        values=values,
        counts=counts.astype(np.int64),
        feature_prob=p,
        mean=k1 * power[0],
        variance=variance,
        skewness=skewness,
        excess_kurtosis=excess,
        support=support,
    )


def _characteristic_function(law: InterferenceLaw, t: np.ndarray) -> np.ndarray:
    """φ_ν(t) = Π_j (1 − p + p·(e^{itw_j} − 1)/(itw_j)), as exp(Σ counts·log(factor)).

    (e^{iu} − 1)/(iu) = sin(u)/u + i·(1 − cos u)/u, written with sinc to be exact at u = 0.
    The branch of each log does not matter: only exp of the sum is used.
    """
    p = law.feature_prob
    log_phi = np.zeros(t.shape, dtype=np.complex128)
    chunk = max(1, 2**22 // max(t.size, 1))
    for start in range(0, law.values.size, chunk):
        weights = law.values[start : start + chunk, None]
        counts = law.counts[start : start + chunk, None]
        u = t[None, :] * weights
        real = np.sinc(u / np.pi)
        imag = (u / 2) * np.sinc(u / (2 * np.pi)) ** 2
        factor = (1 - p) + p * (real + 1j * imag)
        with np.errstate(divide="ignore"):
            log_phi += np.sum(counts * np.log(factor), axis=0)
    return np.exp(log_phi)


@dataclass(frozen=True, kw_only=True, slots=True)
class _Lattice:
    """Lattice points ν_k and weights q_k (q_k ≈ P(ν ≈ ν_k), Σ q_k = 1); taper on the lattice."""

    points: np.ndarray
    weights: np.ndarray
    taper: np.ndarray


def _window(law: InterferenceLaw) -> tuple[float, float]:
    half = _WINDOW_SIGMAS * law.std + _WINDOW_MAX_WEIGHTS * law.max_abs_weight
    low = max(law.support[0], law.mean - half)
    high = min(law.support[1], law.mean + half)
    return min(low, 0.0), max(high, 0.0)


def _lattice(law: InterferenceLaw, n_points: int | None) -> _Lattice:
    """Invert φ by one FFT on an N-point periodic lattice that contains 0 (module docstring)."""
    low, high = _window(law)
    width = max(high - low, 1e-12)
    margin = 0.25 * width + 0.5
    if n_points is None:
        step_target = min(max(law.std, 1e-3), 1.0) / 250
        n_points = int(2 ** math.ceil(math.log2((width + 2 * margin) / step_target)))
        n_points = min(max(n_points, _MIN_POINTS), _MAX_POINTS)
    step = (width + 2 * margin) / n_points
    zero_index = int(math.ceil((margin - low) / step))  # lattice point k0 sits at ν = 0
    start = -zero_index * step
    points = start + step * np.arange(n_points)
    frequencies = 2 * np.pi * np.arange(n_points // 2 + 1) / (n_points * step)
    phi = _characteristic_function(law, frequencies)
    spectrum = np.conj(phi) * np.exp(1j * frequencies * start)
    weights = np.fft.irfft(spectrum, n=n_points)
    taper = _cosine_taper(points, low, high, margin)
    return _Lattice(points=points, weights=weights, taper=taper)


def _cosine_taper(points: np.ndarray, low: float, high: float, margin: float) -> np.ndarray:
    """1 on [low, high], falling to 0 over ``margin`` on each side as a raised cosine (C¹)."""
    outside = np.maximum(np.maximum(low - points, points - high), 0.0) / margin
    return np.where(outside < 1, 0.5 * (1 + np.cos(np.pi * np.minimum(outside, 1.0))), 0.0)


def _edgeworth_lattice(law: InterferenceLaw, gaussian: bool) -> _Lattice:
    """Edgeworth (or Gaussian) density of ν on a uniform grid, trapezoid weights."""
    z = np.linspace(-_WINDOW_SIGMAS, _WINDOW_SIGMAS, _EDGEWORTH_POINTS)
    density = np.exp(-(z**2) / 2) / math.sqrt(2 * math.pi)
    if not gaussian:
        g1, g2 = law.skewness, law.excess_kurtosis
        he3 = z**3 - 3 * z
        he4 = z**4 - 6 * z**2 + 3
        he6 = z**6 - 15 * z**4 + 45 * z**2 - 15
        density = density * (1 + g1 / 6 * he3 + g2 / 24 * he4 + g1**2 / 72 * he6)
    weights = density * (z[1] - z[0])
    weights[[0, -1]] *= 0.5
    return _Lattice(points=law.mean + law.std * z, weights=weights, taper=np.ones_like(z))


# --------------------------------------------------------------------------- loss integrands


def _active_cross(m: np.ndarray) -> np.ndarray:
    """G(m) = ∫₀¹ x (x + m)_+ dx (MATS ``G``, docs/large_n_theory.md#the-closed-form-loss)."""
    low = np.clip(-m, 0.0, 1.0)
    return (1 - low**3) / 3 + m * (1 - low**2) / 2


def _active_square(m: np.ndarray) -> np.ndarray:
    """H(m) = ∫₀¹ (x + m)_+² dx = ((1 + m)_+³ − m_+³)/3 (MATS ``H``,
    docs/large_n_theory.md#the-closed-form-loss)."""
    return (np.maximum(1 + m, 0.0) ** 3 - np.maximum(m, 0.0) ** 3) / 3


def _moments(lattice: _Lattice, c: float, feature_prob: float) -> tuple[float, float]:
    """(E[x R], E[R²]) for R = ReLU(x + ν + c) under the lattice law of ν."""
    p = feature_prob
    shifted = lattice.points + c
    tapered = lattice.weights * lattice.taper
    cross = p * float(tapered @ _active_cross(shifted))
    square = float(
        tapered @ (p * _active_square(shifted) + (1 - p) * np.maximum(shifted, 0.0) ** 2)
    )
    return cross, square


def _loss_at(lattice: _Lattice, scale: float, bias: float, feature_prob: float) -> float:
    cross, square = _moments(lattice, bias / scale, feature_prob)
    return feature_prob / 3 - 2 * scale * cross + scale**2 * square


def _optimum(
    lattice: _Lattice, c_start: float, feature_prob: float, c_range: float = 0.5
) -> tuple[float, float, float]:
    """Local finite-N optimum near c_start: (loss, scale, bias), A*(c) in closed form."""
    from scipy.optimize import minimize_scalar

    def profile(c: float) -> float:
        cross, square = _moments(lattice, c, feature_prob)
        return feature_prob / 3 - cross**2 / square if square > 0 else feature_prob / 3

    result = minimize_scalar(
        profile,
        bounds=(c_start - c_range, c_start + c_range),
        method="bounded",
        options={"xatol": 1e-7},
    )
    c_best = float(result.x)
    cross, square = _moments(lattice, c_best, feature_prob)
    scale = cross / square
    return float(result.fun), scale, scale * c_best


def _make_lattice(law: InterferenceLaw, method: str, n_points: int | None) -> _Lattice:
    if method == "exact":
        return _lattice(law, n_points)
    return _edgeworth_lattice(law, gaussian=method == "gaussian")


def finite_n_loss(
    offdiag_weights: Any,
    feature_prob: float,
    scale: float,
    bias: float,
    *,
    method: str = "exact",
    n_points: int | None = None,
) -> float:
    """Per-feature loss ``E[(ReLU(scale·(x_i + ν) + bias) − x_i)²]`` at finite n.

    Parameters
    ----------
    offdiag_weights : array_like, shape (n_features - 1,)
        ``{W_ij : j ≠ i}``, the same for every row (the rug), with ``W_ii = 1``.
    feature_prob : float
    scale : float
        A > 0.
    bias : float
        The effective bias (the model's ``bias``; c = bias/scale).
    method : {"exact", "edgeworth", "gaussian"}
        See the module docstring.
    n_points : int, optional
        Lattice size of the exact method (default: chosen from the spread of ν).

    Returns
    -------
    float
    """
    method = check_choice("method", method, FINITE_N_METHODS)
    scale = _check_scale(scale)
    bias = check_real("bias", bias)
    law = interference_law(offdiag_weights, feature_prob)
    return _loss_at(_make_lattice(law, method, n_points), scale, bias, law.feature_prob)


def _check_scale(scale: object) -> float:
    value = check_real("scale", scale)
    if value <= 0:
        raise InvalidParameter("scale", scale, "scale > 0 (the rug's A)")
    return value


# --------------------------------------------------------------------------- predict_finite


@dataclass(frozen=True, kw_only=True, slots=True)
class FinitePrediction:
    """Finite-N loss of a Persian rug at given (scale, bias), and the finite-N optimum.

    Parameters
    ----------
    n_features, n_hidden : int
    ratio : float
        r_eff = n_hidden / n_features.
    feature_prob : float
    scale, bias : float
        Where ``loss`` is evaluated (the construction's parameters).
    loss : float
        Exact finite-N loss (characteristic function + FFT).
    edgeworth_loss : float
        Edgeworth approximation from the first four cumulants of ν.
    gaussian_loss : float
        Gaussian ν with the exact mean and variance (the large-N formula at these parameters).
    optimal_loss, optimal_scale, optimal_bias : float
        Finite-N optimum over (scale, bias), searched within ±0.5 in c = bias/scale around
        the given parameters.
    interference_mean, interference_std, skewness, excess_kurtosis : float
        Of ν (exact).
    n_points : int
        Lattice size used by the exact method.
    """

    n_features: int
    n_hidden: int
    ratio: float
    feature_prob: float
    scale: float
    bias: float
    loss: float
    edgeworth_loss: float
    gaussian_loss: float
    optimal_loss: float
    optimal_scale: float
    optimal_bias: float
    interference_mean: float
    interference_std: float
    skewness: float
    excess_kurtosis: float
    n_points: int

    def __post_init__(self) -> None:
        if not math.isfinite(self.loss) or self.loss < -1e-12:
            raise InvalidParameter("loss", self.loss, "a finite non-negative number")


def _rows_and_parameters(
    model_or_rows: Any, n_features: int | None, scale: float | None, bias: float | None
) -> tuple[np.ndarray, int, float | None, float | None]:
    """Accept a model-like object (``rows``, ``n_features``, ``scale``, ``bias``) or rows."""
    if hasattr(model_or_rows, "rows") and hasattr(model_or_rows, "n_features"):
        rows = np.asarray(model_or_rows.rows)
        size = int(model_or_rows.n_features)
        scale = getattr(model_or_rows, "scale", None) if scale is None else scale
        bias = getattr(model_or_rows, "bias", None) if bias is None else bias
        return rows, size, scale, bias
    if n_features is None:
        raise InvalidParameter("n_features", None, "the rug's size when rows are given")
    return np.asarray(model_or_rows), n_features, scale, bias


def large_n_optimum(ratio: float, feature_prob: float) -> tuple[float, float, float]:
    """(a*, c*, L_sym) of the symmetric large-N optimum (:func:`toyforge.theory.predict`)."""

    prediction = predict(ratio, feature_prob)
    return prediction.scale, prediction.c, prediction.symmetric_loss


def _large_n_parameters(ratio: float, feature_prob: float, mean: float) -> tuple[float, float]:
    """(scale, bias) of the large-N optimum for this row set: bias = a*·(c* − μ0)
    (docs/rug_construction.md#scale-and-bias-from-the-theory)."""
    scale, c, _ = large_n_optimum(ratio, feature_prob)
    return scale, scale * (c - mean)


def predict_finite(
    model_or_rows: Any,
    feature_prob: float,
    *,
    n_features: int | None = None,
    scale: float | None = None,
    bias: float | None = None,
    optimize: bool = True,
    n_points: int | None = None,
) -> FinitePrediction:
    """Finite-N loss of the Persian rug with row set S at feature probability p.

    Parameters
    ----------
    model_or_rows : model or array_like of int
        A Persian-rug model (anything with ``rows``, ``n_features``, ``scale``, ``bias``) or
        the row set S itself (then give ``n_features``).
    feature_prob : float
    n_features : int, optional
        n (a power of two), required when rows are given.
    scale, bias : float, optional
        Where to evaluate the loss. Default: the model's, or the large-N optimum
        (``theory.predict`` at r_eff = n_hidden/n_features) with the row set's exact
        mean-interference offset, as the construction sets them.
    optimize : bool
        Also search the finite-N optimum over (scale, bias).
    n_points : int, optional
        Lattice size of the exact method.

    Returns
    -------
    FinitePrediction
    """
    feature_prob = check_probability("feature_prob", feature_prob)
    rows, size, scale, bias = _rows_and_parameters(model_or_rows, n_features, scale, bias)
    rows = _check_rows(rows, size)
    weights = offdiagonal_weights(rows, size)
    law = interference_law(weights, feature_prob)
    ratio = rows.size / size
    if scale is None or bias is None:
        default_scale, default_bias = _large_n_parameters(ratio, feature_prob, law.mean)
        scale = default_scale if scale is None else scale
        bias = default_bias if bias is None else bias
    scale, bias = _check_scale(scale), check_real("bias", bias)
    exact = _lattice(law, n_points)
    loss = _loss_at(exact, scale, bias, feature_prob)
    if optimize:
        best = _optimum(exact, bias / scale, feature_prob)
    else:
        best = (math.nan, math.nan, math.nan)
    return FinitePrediction(
        n_features=size,
        n_hidden=int(rows.size),
        ratio=ratio,
        feature_prob=feature_prob,
        scale=scale,
        bias=bias,
        loss=loss,
        edgeworth_loss=_loss_at(_edgeworth_lattice(law, False), scale, bias, feature_prob),
        gaussian_loss=_loss_at(_edgeworth_lattice(law, True), scale, bias, feature_prob),
        optimal_loss=best[0],
        optimal_scale=best[1],
        optimal_bias=best[2],
        interference_mean=law.mean,
        interference_std=law.std,
        skewness=law.skewness,
        excess_kurtosis=law.excess_kurtosis,
        n_points=int(exact.points.size),
    )
