"""Closed-form large-N loss of the permutation-symmetric ReLU autoencoder.

See docs/large_n_theory.md#the-closed-form-loss (the authors' MATS routine in closed form). For
``a > 0``,
``ReLU(a x + beta + nu) = a ReLU(x + c + sigma z)`` with ``z ~ N(0, 1)``,
``sigma^2 = (1/r - 1)(p/3 - p^2/4)`` (docs/large_n_theory.md#the-variance-bound, saturated) and
``c = beta / a``.
With ``R = ReLU(x + c + sigma z)`` and ``x = Bernoulli(p) U[0, 1)``::

    L(a, c)  = p/3 - 2 a E[xR] + a^2 E[R^2]        (the "reduced scalar model")
    a*(c)    = E[xR] / E[R^2]
    L*(c)    = p/3 - E[xR]^2 / E[R^2]
    L(r, p)  = min_c L*(c)

    E[R^2] = (p/3) [M3(1 + c) - M3(c)] + (1 - p) M2(c)
    E[xR]  = p { M2(1 + c)/2 - [M3(1 + c) - M3(c)]/6 }

with the Gaussian ReLU moments ``M_k`` of :mod:`toyforge.theory._gauss`.

Numerics. ``p/3 - E[xR]^2/E[R^2]`` cancels catastrophically when the loss is far below p/3
(sparse inputs: at p = 1e-8 the loss is 1e-6 of p/3), so losses are evaluated in the
equivalent *direct* form ``E[(a R - x)^2]`` split into clipped and unclipped parts (see
:func:`reduced_loss`); every term there is of the size of the result. The minimisation over c
is vectorised: a coarse grid that reaches the linear branch at large positive c
(docs/large_n_theory.md#the-linear-branch: ``c`` up to ``2 + 10 sigma + (1 - r) p / (2 r)``), then a
safeguarded Newton iteration on ``dL*/dc`` inside the bracket around the best grid point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toyforge.theory._gauss import GaussianReluMoments

__all__ = [
    "SymmetricOptimum",
    "interference_sigma",
    "optimal_scale",
    "profile_loss",
    "reduced_expectations",
    "reduced_loss",
    "symmetric_optimum",
]

# c below which the clipped form of the active-feature terms is used (see _active_terms)
_CLIPPED_FORM_BELOW = -0.5
_NEWTON_STEPS = 30


def interference_sigma(ratio: np.ndarray | float, feature_prob: np.ndarray | float) -> np.ndarray:
    """Standard deviation of the Gaussian interference with the variance bound saturated.

    ``sigma = sqrt((1/r - 1)(p/3 - p^2/4))`` (docs/large_n_theory.md#the-variance-bound). Shape:
    broadcast of the inputs.
    """
    ratio = np.asarray(ratio, float)
    feature_prob = np.asarray(feature_prob, float)
    variance = feature_prob / 3.0 - feature_prob**2 / 4.0
    return np.sqrt(np.maximum(1.0 / ratio - 1.0, 0.0) * variance)


@dataclass(frozen=True, slots=True)
class _Terms:
    """Everything the loss and its c-derivatives need at one (c, sigma, p), as arrays."""

    active_sq: np.ndarray  # E_u E_z[y_+^2],   y = u + c + sigma z, u ~ U[0,1)
    active_cross: np.ndarray  # E_u E_z[u y_+]
    active_clip_sq: np.ndarray  # E_u E_z[y_-^2]    (y_- = max(-y, 0))
    active_clip_cross: np.ndarray  # E_u E_z[u y_-]
    inactive_sq: np.ndarray  # M2(c) = E_z[(c + sigma z)_+^2]
    d_cross: np.ndarray  # d/dc E[xR] / p
    d_sq_active: np.ndarray  # d/dc E_u E_z[y_+^2]
    d_sq_inactive: np.ndarray  # d/dc M2(c)


def _terms(c: np.ndarray, sigma: np.ndarray) -> _Terms:
    at_c = GaussianReluMoments(c, sigma)
    at_c1 = GaussianReluMoments(c + 1.0, sigma)
    m0c, m1c, m2c, m3c = at_c.plus
    m0c1, m1c1, m2c1, m3c1 = at_c1.plus
    _, _, _, m3_neg_c = at_c.minus
    _, _, m2_neg_c1, m3_neg_c1 = at_c1.minus
    # Clipped parts (derivation: y_- = (-y)_+ and -y ~ N(-(u + c), sigma^2); antiderivatives
    # d/dm M_k(-m) = -k M_{k-1}(-m)).
    clip_sq = (m3_neg_c - m3_neg_c1) / 3.0
    clip_cross = (m3_neg_c - m3_neg_c1) / 6.0 - m2_neg_c1 / 2.0
    # Unclipped parts (y_+ = y + y_-, y_+^2 = y^2 - y_-^2) for c >= -1/2, else the M3 form.
    direct_sq = (m3c1 - m3c) / 3.0
    direct_cross = m2c1 / 2.0 - (m3c1 - m3c) / 6.0
    sigma2 = sigma * sigma
    use_clipped = c >= _CLIPPED_FORM_BELOW
    active_sq = np.where(use_clipped, 1.0 / 3.0 + c + c * c + sigma2 - clip_sq, direct_sq)
    active_cross = np.where(use_clipped, 1.0 / 3.0 + c / 2.0 + clip_cross, direct_cross)
    return _Terms(
        active_sq=np.maximum(active_sq, 0.0),
        active_cross=active_cross,
        active_clip_sq=clip_sq,
        active_clip_cross=clip_cross,
        inactive_sq=m2c,
        d_cross=m1c1 - (m2c1 - m2c) / 2.0,
        d_sq_active=m2c1 - m2c,
        d_sq_inactive=2.0 * m1c,
    )


def reduced_expectations(
    c: np.ndarray | float, sigma: np.ndarray | float, feature_prob: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """``(E[xR], E[R^2])`` for ``R = ReLU(x + c + sigma z)``
    (docs/large_n_theory.md#the-closed-form-loss).

    Parameters
    ----------
    c, sigma, feature_prob : array_like
        Broadcastable: threshold offset ``c = beta / a``, interference standard deviation
        ``sigma >= 0`` and the feature probability ``p``.

    Returns
    -------
    tuple of two ndarrays
        ``E[xR]`` and ``E[R^2]``, shaped like the broadcast of the inputs.
    """
    c, sigma, p = np.broadcast_arrays(*(np.asarray(v, float) for v in (c, sigma, feature_prob)))
    terms = _terms(c, sigma)
    return p * terms.active_cross, p * terms.active_sq + (1.0 - p) * terms.inactive_sq


def optimal_scale(
    c: np.ndarray | float, sigma: np.ndarray | float, feature_prob: np.ndarray | float
) -> np.ndarray:
    """``a*(c) = E[xR] / E[R^2]`` (docs/large_n_theory.md#the-closed-form-loss); 0 where ``E[R^2]``
    underflows to 0."""
    cross, square = reduced_expectations(c, sigma, feature_prob)
    return _safe_ratio(cross, square)


def _safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    positive = denominator > 0
    return np.where(positive, numerator / np.where(positive, denominator, 1.0), 0.0)


def _loss_from_terms(
    scale: np.ndarray, terms: _Terms, c: np.ndarray, sigma: np.ndarray, p: np.ndarray
) -> np.ndarray:
    # Active features, unclipped decomposition (a y_+ - u)^2 = (a y - u)^2 - a^2 y_-^2 - 2 a u y_-
    # with E_u[(a y - u)^2] = ((a-1)/2 + a c)^2 + (a-1)^2/12 + a^2 sigma^2 (every term >= 0).
    shift = (scale - 1.0) / 2.0 + scale * c
    linear_part = shift * shift + (scale - 1.0) ** 2 / 12.0 + scale * scale * sigma * sigma
    unclipped = (
        linear_part - scale * scale * terms.active_clip_sq - 2.0 * scale * terms.active_clip_cross
    )
    # Mostly clipped active features: a^2 E[y_+^2] - 2 a E[u y_+] + 1/3.
    clipped = scale * scale * terms.active_sq - 2.0 * scale * terms.active_cross + 1.0 / 3.0
    active = np.where(c >= _CLIPPED_FORM_BELOW, unclipped, clipped)
    inactive = scale * scale * terms.inactive_sq
    return np.maximum(p * active + (1.0 - p) * inactive, 0.0)


def reduced_loss(
    scale: np.ndarray | float,
    c: np.ndarray | float,
    sigma: np.ndarray | float,
    feature_prob: np.ndarray | float,
) -> np.ndarray:
    """Loss ``L(a, c) = E[(a ReLU(x + c + sigma z) - x)^2]`` of the reduced scalar model.

    docs/large_n_theory.md#the-closed-form-loss: equal to ``p/3 - 2 a E[xR] + a^2 E[R^2]``,
    evaluated in a cancellation-free
    form. Arguments broadcast; the result has their broadcast shape.
    """
    scale, c, sigma, p = np.broadcast_arrays(
        *(np.asarray(v, float) for v in (scale, c, sigma, feature_prob))
    )
    return _loss_from_terms(scale, _terms(c, sigma), c, sigma, p)


def profile_loss(
    c: np.ndarray | float, sigma: np.ndarray | float, feature_prob: np.ndarray | float
) -> np.ndarray:
    """``L*(c) = L(a*(c), c) = p/3 - E[xR]^2 / E[R^2]``
    (docs/large_n_theory.md#the-closed-form-loss), cancellation-free."""
    c, sigma, p = np.broadcast_arrays(*(np.asarray(v, float) for v in (c, sigma, feature_prob)))
    terms = _terms(c, sigma)
    scale = _safe_ratio(p * terms.active_cross, p * terms.active_sq + (1 - p) * terms.inactive_sq)
    return _loss_from_terms(scale, terms, c, sigma, p)


def _profile_and_slope(
    c: np.ndarray, sigma: np.ndarray, p: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(L*(c), dL*/dc, a*(c))``; ``dL*/dc = a^2 dE[R^2]/dc - 2 a dE[xR]/dc`` at a = a*."""
    terms = _terms(c, sigma)
    cross = p * terms.active_cross
    square = p * terms.active_sq + (1 - p) * terms.inactive_sq
    scale = _safe_ratio(cross, square)
    d_square = p * terms.d_sq_active + (1 - p) * terms.d_sq_inactive
    slope = scale * scale * d_square - 2.0 * scale * p * terms.d_cross
    return _loss_from_terms(scale, terms, c, sigma, p), slope, scale


@dataclass(frozen=True, kw_only=True, slots=True)
class SymmetricOptimum:
    """The symmetric ReLU optimum at each point (arrays of one common shape).

    Attributes
    ----------
    scale : ndarray
        ``a*`` (the diagonal ``W_ii``).
    c : ndarray
        ``c*``, the optimal threshold offset in units of the scale.
    loss : ndarray
        ``L(r, p) = L*(c*)``.
    sigma : ndarray
        Interference standard deviation.
    """

    scale: np.ndarray
    c: np.ndarray
    loss: np.ndarray
    sigma: np.ndarray

    @property
    def bias(self) -> np.ndarray:
        """Effective bias ``a* c*`` (the mean interference absorbed;
        docs/large_n_theory.md#the-closed-form-loss)."""
        return self.scale * self.c


def _coarse_c_grid(sigma: np.ndarray, ratio: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Candidate c values per point, sorted: shape (n_points, n_candidates).

    Threshold branch in units of sigma, the band [-1, 1], and a geometric grid reaching the
    linear branch ``c_lin = (1 - r) p / (2 r)`` and beyond
    (docs/large_n_theory.md#the-linear-branch).
    """
    c_linear = (1.0 - ratio) * p / (2.0 * ratio)
    c_max = 2.0 + 10.0 * sigma + 2.0 * c_linear
    threshold = sigma[:, None] * np.linspace(-6.0, 4.0, 21)[None, :]
    band = np.broadcast_to(np.linspace(-1.0, 1.0, 17)[None, :], threshold.shape[:1] + (17,))
    low = np.maximum(np.minimum(0.5 * sigma, 0.5), 1e-3)
    fractions = np.linspace(0.0, 1.0, 22)[None, :]
    geometric = low[:, None] * (c_max / low)[:, None] ** fractions
    grid = np.concatenate([np.maximum(threshold, -1.5), band, geometric], axis=1)
    return np.sort(grid, axis=1)


def symmetric_optimum(
    ratio: np.ndarray | float, feature_prob: np.ndarray | float
) -> SymmetricOptimum:
    """Minimise ``L*(c)`` over c for every (ratio, feature_prob) pair, vectorised.

    Parameters
    ----------
    ratio, feature_prob : array_like
        Broadcastable arrays with ``0 < ratio <= 1`` and ``0 < feature_prob <= 1`` (not
        validated here; :func:`toyforge.theory.predict` validates).

    Returns
    -------
    SymmetricOptimum
        Arrays shaped like the broadcast of the inputs. ``ratio == 1`` gives the exact
        identity solution ``a* = 1, c* = 0, loss = 0``.
    """
    ratio, p = np.broadcast_arrays(np.asarray(ratio, float), np.asarray(feature_prob, float))
    shape = ratio.shape
    ratio, p = ratio.reshape(-1), p.reshape(-1)
    sigma = interference_sigma(ratio, p)
    grid = _coarse_c_grid(sigma, ratio, p)
    n_points = grid.shape[0]
    values = _chunked_profile_loss(grid, sigma, p)
    best = np.argmin(values, axis=1)
    rows = np.arange(n_points)
    c_grid_best = grid[rows, best]
    # bracket: the nearest distinct grid values on either side (the grid may repeat values)
    below = np.where(grid < c_grid_best[:, None], grid, -np.inf).max(axis=1)
    above = np.where(grid > c_grid_best[:, None], grid, np.inf).min(axis=1)
    lower = np.where(np.isfinite(below), below, c_grid_best)
    upper = np.where(np.isfinite(above), above, c_grid_best)
    c_best, loss_best, scale_best = _refine(c_grid_best, values[rows, best], lower, upper, sigma, p)
    exact = sigma == 0
    result = SymmetricOptimum(
        scale=np.where(exact, 1.0, scale_best).reshape(shape),
        c=np.where(exact, 0.0, c_best).reshape(shape),
        loss=np.where(exact, 0.0, loss_best).reshape(shape),
        sigma=sigma.reshape(shape),
    )
    return result


def _chunked_profile_loss(
    grid: np.ndarray, sigma: np.ndarray, p: np.ndarray, chunk: int = 65536
) -> np.ndarray:
    """``L*`` on a (n_points, n_candidates) grid, on contiguous flat chunks (cache-friendly)."""
    n_candidates = grid.shape[1]
    flat_c = np.ascontiguousarray(grid).reshape(-1)
    flat_sigma = np.repeat(sigma, n_candidates)
    flat_p = np.repeat(p, n_candidates)
    out = np.empty_like(flat_c)
    for start in range(0, flat_c.size, chunk):
        part = slice(start, start + chunk)
        out[part] = profile_loss(flat_c[part], flat_sigma[part], flat_p[part])
    return out.reshape(grid.shape)


def _refine(
    c0: np.ndarray,
    loss0: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    sigma: np.ndarray,
    p: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Safeguarded root search of ``dL*/dc`` inside ``[lower, upper]`` (Illinois regula
    falsi with bisection fallback), iterating only on the points not yet converged; keeps the
    best point seen, so the result never exceeds the grid minimum."""
    best_c, best_loss = c0.copy(), loss0.copy()
    best_scale = optimal_scale(c0, sigma, p)
    _, slope_low, _ = _profile_and_slope(lower, sigma, p)
    _, slope_high, _ = _profile_and_slope(upper, sigma, p)
    active = np.flatnonzero(upper > lower)
    c = c0[active]
    lo, hi, s_lo, s_hi = lower[active], upper[active], slope_low[active], slope_high[active]
    moved_low = np.zeros(active.size, bool)
    moved_high = np.zeros(active.size, bool)
    for _ in range(_NEWTON_STEPS):
        if active.size == 0:
            break
        sig, prob = sigma[active], p[active]
        loss, slope, scale = _profile_and_slope(c, sig, prob)
        better = loss < best_loss[active]
        index = active[better]
        best_c[index], best_loss[index], best_scale[index] = c[better], loss[better], scale[better]
        go_low = slope < 0
        lo = np.where(go_low, c, lo)
        hi = np.where(go_low, hi, c)
        s_lo = np.where(go_low, slope, np.where(moved_high, 0.5 * s_lo, s_lo))
        s_hi = np.where(go_low, np.where(moved_low, 0.5 * s_hi, s_hi), slope)
        moved_low, moved_high = go_low, ~go_low
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            secant = lo - s_lo * (hi - lo) / (s_hi - s_lo)
        inside = np.isfinite(secant) & (secant > lo) & (secant < hi)
        c = np.where(inside, secant, 0.5 * (lo + hi))
        keep = (hi - lo > 1e-12 * (np.abs(c) + sig)) & (slope != 0)
        active, c, lo, hi, s_lo, s_hi = (v[keep] for v in (active, c, lo, hi, s_lo, s_hi))
        moved_low, moved_high = moved_low[keep], moved_high[keep]
    return best_c, best_loss, best_scale
