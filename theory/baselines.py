"""Baselines and elementwise lower bounds for the large-N loss.

See docs/large_n_theory.md#baselines. Per-feature, per-sample MSE throughout:

* zero output: ``p/3``; best constant ``p/2``: ``v = p/3 - p^2/4``;
* optimal linear (affine) map: ``(1 - r) v`` (docs/large_n_theory.md#baselines);
* elementwise bounds on the same Gaussian-interference pre-activation ``h = x + sigma z``
  (variance bound saturated, ``sigma^2 = (1/r - 1) v``, mean interference removed):

  - the Bayes-optimal denoiser ``E[x | h]`` (the MMSE; lower bound for every elementwise
    activation): ``mmse_loss``;
  - the best "affine above a threshold" activation ``g (h + d) 1[h > theta]`` (JumpReLU):
    ``jumprelu_loss``.

MMSE: ``E[Var(x | h)]`` with the two-component posterior (inactive: x = 0; active: a normal
``N(h, sigma^2)`` truncated to [0, 1]), ``Var(x|h) = pi1 v1 + pi0 pi1 m1^2`` (all terms
non-negative), integrated over h by composite Gauss–Legendre quadrature on panels that
resolve the scales sigma around 0 and 1.

JumpReLU: for fixed theta the best ``(g, g d)`` solve 2x2 normal equations; the region moments
``E[h^k 1[h > theta]]`` and ``E[x h^k 1[h > theta]]`` are closed forms in the Gaussian ReLU
moments, ``J(theta) = p/3 - b^T A^{-1} b``, minimised over theta by a coarse grid and a
safeguarded successive-parabolic (Brent-style) search inside the best grid bracket, vectorised
over all points (one objective evaluation per step instead of golden-section's two; stops when
the bracket is below ``1e-7 (|theta| + sigma)``). (Relative accuracy about ``1e-16 (p/3) / J``:
about 1e-9 at p = 1e-8.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from toyforge.theory._gauss import _both_sides
from toyforge.theory.large_n_loss import interference_sigma

__all__ = [
    "constant_loss",
    "jumprelu_loss",
    "linear_loss",
    "mmse_loss",
    "zero_loss",
]

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(10)
_CHUNK_POINTS = 256
_JUMP_CHUNK_POINTS = 128
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
_REFINE_STEPS = 12


def zero_loss(feature_prob: np.ndarray | float) -> np.ndarray:
    """Loss of the all-zero output, ``E[x^2] = p/3`` (docs/large_n_theory.md#baselines)."""
    return np.asarray(feature_prob, float) / 3.0


def constant_loss(feature_prob: np.ndarray | float) -> np.ndarray:
    """Loss of the best constant ``p/2``: ``v = p/3 - p^2/4`` (docs/large_n_theory.md#baselines)."""
    p = np.asarray(feature_prob, float)
    return p / 3.0 - p * p / 4.0


def linear_loss(ratio: np.ndarray | float, feature_prob: np.ndarray | float) -> np.ndarray:
    """Loss of the optimal affine map of rank ``r n``: ``(1 - r) v``
    (docs/large_n_theory.md#baselines)."""
    return (1.0 - np.asarray(ratio, float)) * constant_loss(feature_prob)


# ----------------------------------------------------------------------------------- MMSE


def _phi(t: np.ndarray) -> np.ndarray:
    with np.errstate(under="ignore"):
        return _INV_SQRT_2PI * np.exp(-0.5 * np.minimum(t * t, 1e4))


def _posterior_variance_density(h: np.ndarray, sigma: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``f(h) Var(x | h)`` for ``h = x + sigma z`` (arrays of one shape)."""
    alpha = -h / sigma
    beta = (1.0 - h) / sigma
    # Phi(beta) - Phi(alpha) from the side with the smaller tails: two ndtr calls, not four
    # (-(u - w) == w - u exactly, so this equals the two-branch form bit for bit).
    side = np.where(h < 0.5, -1.0, 1.0)
    mass = -side * (ndtr(side * alpha) - ndtr(side * beta))
    phi_a, phi_b = _phi(alpha), _phi(beta)
    positive = mass > 0
    safe_mass = np.where(positive, mass, 1.0)
    ratio_mean = (phi_a - phi_b) / safe_mass
    mean = np.clip(h + sigma * ratio_mean, 0.0, 1.0)
    variance = (
        sigma * sigma * (1.0 + (alpha * phi_a - beta * phi_b) / safe_mass - ratio_mean * ratio_mean)
    )
    variance = np.clip(variance, 0.0, np.minimum(sigma * sigma, 0.25))
    active = p * mass  # density of (h, active)
    inactive = (1.0 - p) * phi_a / sigma  # density of (h, inactive); phi even
    total = active + inactive
    safe_total = np.where(total > 0, total, 1.0)
    between = np.where(total > 0, inactive * active / safe_total, 0.0) * mean * mean
    return np.where(positive, active * variance + between, 0.0)


def _fixed_edges(sigma: np.ndarray) -> np.ndarray:
    """Panel edges resolving the scale sigma at the ends 0 and 1 of the active range."""
    around_zero = sigma[:, None] * np.array([-12.0, -6.0, -3.0, -1.0, 0.0, 1.0, 3.0, 6.0, 12.0])
    around_zero = np.minimum(around_zero, 0.5)
    around_one = 1.0 - around_zero[:, ::-1]
    return np.concatenate([around_zero, np.maximum(around_one, 0.5)], axis=1)


def _transition_edges(sigma: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Edges around ``h*`` where active and inactive posteriors are equally likely.

    ``(1 - p) phi(h/sigma)/sigma = p`` gives
    ``h* = sigma sqrt(2 ln((1 - p) / (p sigma sqrt(2 pi))))``; the posterior switches over
    a width ``sigma^2 / h*``.
    """
    with np.errstate(divide="ignore"):
        log_odds = (
            np.log1p(-np.minimum(p, 1 - 1e-16)) - np.log(p * sigma) - 0.5 * math.log(2 * math.pi)
        )
    centre = sigma * np.sqrt(2.0 * np.maximum(log_odds, 0.0))
    width = sigma * sigma / np.maximum(centre, sigma)
    offsets = np.array([-8.0, -3.0, -1.0, 0.0, 1.0, 3.0, 8.0])
    edges = centre[:, None] + width[:, None] * offsets[None, :]
    return np.clip(edges, -12 * sigma[:, None], 1 + 12 * sigma[:, None])


def _mmse_quadrature(s: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Composite Gauss–Legendre quadrature of ``f(h) Var(x | h)`` (flat arrays, sigma > 0).

    Panels of zero width (edges clipped together at 0.5 when sigma is large) contribute
    exactly 0 and are skipped; the panel sums are added per point in panel order.
    """
    edges = np.sort(np.concatenate([_fixed_edges(s), _transition_edges(s, p)], axis=1), axis=1)
    left, right = edges[:, :-1], edges[:, 1:]
    wide = right > left
    point = np.broadcast_to(np.arange(s.size)[:, None], wide.shape)[wide]
    left, right = left[wide], right[wide]
    half = 0.5 * (right - left)
    nodes = (0.5 * (left + right))[:, None] + half[:, None] * _GL_NODES[None, :]
    values = _posterior_variance_density(nodes, s[point][:, None], p[point][:, None])
    panel_sums = half * np.sum(_GL_WEIGHTS[None, :] * values, axis=1)
    return np.bincount(point, weights=panel_sums, minlength=s.size)


def mmse_loss(ratio: np.ndarray | float, feature_prob: np.ndarray | float) -> np.ndarray:
    """Bayes-optimal elementwise loss ``E[(x - E[x | x + sigma z])^2]``
    (docs/large_n_theory.md#elementwise-bounds-mmse-and-jumprelu).

    Arguments broadcast; the result has their broadcast shape. ``ratio = 1`` gives 0.
    """
    ratio, p = np.broadcast_arrays(np.asarray(ratio, float), np.asarray(feature_prob, float))
    shape = ratio.shape
    p = p.reshape(-1)
    sigma = interference_sigma(ratio, p.reshape(shape)).reshape(-1)
    exact = sigma == 0
    s = np.where(exact, 1.0, sigma)
    total = np.empty_like(s)
    for start in range(0, s.size, _CHUNK_POINTS):
        part = slice(start, start + _CHUNK_POINTS)
        total[part] = _mmse_quadrature(s[part], p[part])
    return np.where(exact, 0.0, total).reshape(shape)


# ------------------------------------------------------------------------------- JumpReLU


def _one_side(mean: np.ndarray, sigma: np.ndarray, *, plus: bool) -> tuple[np.ndarray, ...]:
    """``M_k(mean)`` (``plus``) or ``M_k(-mean)``, k = 0..3: ``GaussianReluMoments(mean,
    sigma).plus`` / ``.minus`` without building the side that is not used (same values)."""
    mean, sigma = np.broadcast_arrays(mean, sigma)
    upper, lower = _both_sides(mean.reshape(-1), sigma.reshape(-1))
    take_upper = (mean >= 0).reshape(-1) if plus else (mean < 0).reshape(-1)
    return tuple(
        np.where(take_upper, hi, lo).reshape(mean.shape)
        for hi, lo in zip(upper, lower, strict=True)
    )


def _region_integrals(
    theta: np.ndarray, sigma: np.ndarray
) -> tuple[dict[tuple[int, int], np.ndarray], tuple[np.ndarray, ...]]:
    """``T[i, l] = int_0^1 u^i M_l(u - theta) du`` for ``i + l <= 2``, and ``M_l(-theta)``.

    Antiderivatives of ``m^n M_l(m)`` follow from ``d M_k / dm = k M_{k-1}``
    (docs/large_n_theory.md#the-closed-form-loss).
    """
    at_upper = _one_side(1.0 - theta, sigma, plus=True)  # M_k(1 - theta)
    at_lower = _one_side(theta, sigma, plus=False)  # M_k(-theta)

    def antiderivative(n: int, level: int, m: np.ndarray, moments: tuple) -> np.ndarray:
        k1 = level + 1
        if n == 0:
            return moments[k1] / k1
        if n == 1:
            return m * moments[k1] / k1 - moments[k1 + 1] / (k1 * (k1 + 1))
        return (
            m * m * moments[k1] / k1
            - 2 * m * moments[k1 + 1] / (k1 * (k1 + 1))
            + 2 * moments[k1 + 2] / (k1 * (k1 + 1) * (k1 + 2))
        )

    table = {}
    for level in range(3):
        raw = [
            antiderivative(n, level, 1.0 - theta, at_upper)
            - antiderivative(n, level, -theta, at_lower)
            for n in range(3 - level)
        ]
        # u^i with u = m + theta
        table[(0, level)] = raw[0]
        if level <= 1:
            table[(1, level)] = raw[1] + theta * raw[0]
        if level == 0:
            table[(2, level)] = raw[2] + 2 * theta * raw[1] + theta * theta * raw[0]
    return table, at_lower


def _jump_objective(theta: np.ndarray, sigma: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``J(theta) = p/3 - b^T A^{-1} b`` (best g, d for this threshold)."""
    table, inactive = _region_integrals(theta, sigma)

    # binomial expansion sum_j C(k, j) theta^(k-j) T[j], terms added in order of j (the
    # factors C(k, j) theta^(k-j) are formed once; same floating-point operations as before)
    factors = {0: (None,), 1: (theta, None), 2: (theta * theta, 2 * theta, None)}

    def expand(k: int, terms) -> np.ndarray:
        total = None
        for factor, term in zip(factors[k], terms, strict=False):
            value = term if factor is None else factor * term
            total = value if total is None else total + value
        return total

    def power(k: int, i: int) -> np.ndarray:  # E_u E_z[u^i (u + sigma z)^k 1[. > theta]]
        return expand(k, [table[(i, j)] for j in range(k + 1)])

    def inactive_power(k: int) -> np.ndarray:
        return expand(k, inactive[: k + 1])

    c = [(1 - p) * inactive_power(k) + p * power(k, 0) for k in range(3)]
    d = [p * power(k, 1) for k in range(2)]
    determinant = c[2] * c[0] - c[1] * c[1]
    ok = determinant > 1e-300
    safe = np.where(ok, determinant, 1.0)
    explained = (d[1] * d[1] * c[0] - 2 * d[0] * d[1] * c[1] + d[0] * d[0] * c[2]) / safe
    only_level = np.where(c[0] > 0, d[0] * d[0] / np.where(c[0] > 0, c[0], 1.0), 0.0)
    explained = np.where(ok, explained, only_level)
    return np.maximum(p / 3.0 - explained, 0.0)


@dataclass(slots=True)
class _Bracket:
    """Per-point bracket ``a < b < c`` with ``J(b) <= J(a), J(c)`` (flat arrays)."""

    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    fa: np.ndarray
    fb: np.ndarray
    fc: np.ndarray


def _trial_points(br: _Bracket, sigma: np.ndarray) -> np.ndarray:
    """Vertex of the parabola through the bracket, or a golden step into the larger side."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        numerator = (br.b - br.a) ** 2 * (br.fb - br.fc) - (br.b - br.c) ** 2 * (br.fb - br.fa)
        denominator = (br.b - br.a) * (br.fb - br.fc) - (br.b - br.c) * (br.fb - br.fa)
        vertex = br.b - 0.5 * numerator / denominator
    tol = 1e-9 * (np.abs(br.b) + sigma)
    golden = np.where(
        br.c - br.b > br.b - br.a,
        br.b + (1.0 - _GOLDEN) * (br.c - br.b),
        br.b - (1.0 - _GOLDEN) * (br.b - br.a),
    )
    ok = (
        np.isfinite(vertex)
        & (vertex > br.a + tol)
        & (vertex < br.c - tol)
        & (np.abs(vertex - br.b) > tol)
    )
    return np.where(ok, vertex, golden)


def _refine_bracket(br: _Bracket, sigma: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Minimise ``J`` inside each bracket; returns the best value found (flat)."""
    for _ in range(_REFINE_STEPS):
        active = np.flatnonzero(br.c - br.a > 1e-7 * (np.abs(br.b) + sigma))
        if active.size == 0:
            break
        a, b, c = br.a[active], br.b[active], br.c[active]
        fa, fb, fc = br.fa[active], br.fb[active], br.fc[active]
        x = _trial_points(_Bracket(a, b, c, fa, fb, fc), sigma[active])
        fx = _jump_objective(x, sigma[active], p[active])
        better, right = fx < fb, x > b
        br.a[active] = np.where(better, np.where(right, b, a), np.where(right, a, x))
        br.c[active] = np.where(better, np.where(right, c, b), np.where(right, x, c))
        br.fa[active] = np.where(better, np.where(right, fb, fa), np.where(right, fa, fx))
        br.fc[active] = np.where(better, np.where(right, fc, fb), np.where(right, fx, fc))
        br.b[active] = np.where(better, x, b)
        br.fb[active] = np.where(better, fx, fb)
    return br.fb


def jumprelu_loss(ratio: np.ndarray | float, feature_prob: np.ndarray | float) -> np.ndarray:
    """Best JumpReLU ``g (h + d) 1[h > theta]`` on ``h = x + sigma z``
    (docs/large_n_theory.md#elementwise-bounds-mmse-and-jumprelu).

    Arguments broadcast; the result has their broadcast shape. ``ratio = 1`` gives 0. The
    family contains the affine map (``theta -> -inf``), so the result is at most
    ``(1 - r) v``; it also contains the ReLU (``theta = -d``), and
    :func:`toyforge.theory.predict` reports ``min(jumprelu, ReLU)``.
    """
    ratio, p = np.broadcast_arrays(np.asarray(ratio, float), np.asarray(feature_prob, float))
    shape = ratio.shape
    p = p.reshape(-1)
    sigma = interference_sigma(ratio, p.reshape(shape)).reshape(-1)
    exact = sigma == 0
    s = np.where(exact, 1.0, sigma)
    grid = np.sort(
        np.concatenate(
            [
                s[:, None] * np.linspace(-4.0, 12.0, 65)[None, :],
                np.broadcast_to(np.linspace(-1.0, 1.5, 11)[None, :], (s.size, 11)),
                (1.0 + s[:, None] * np.linspace(-4.0, 4.0, 9)[None, :]),
            ],
            axis=1,
        ),
        axis=1,
    )
    values = np.empty_like(grid)
    for start in range(0, s.size, _JUMP_CHUNK_POINTS):  # cache-sized blocks of temporaries
        part = slice(start, start + _JUMP_CHUNK_POINTS)
        values[part] = _jump_objective(grid[part], s[part, None], p[part, None])
    rows = np.arange(s.size)
    best = np.argmin(values, axis=1)
    left = np.maximum(best - 1, 0)
    right = np.minimum(best + 1, grid.shape[1] - 1)
    bracket = _Bracket(
        grid[rows, left],
        grid[rows, best],
        grid[rows, right],
        values[rows, left],
        values[rows, best],
        values[rows, right],
    )
    best_value = _refine_bracket(bracket, s, p)
    # the family contains the affine map (theta -> -inf): never above the linear loss
    best_value = np.minimum(best_value, linear_loss(ratio.reshape(-1), p))
    return np.where(exact, 0.0, best_value).reshape(shape)
