"""Independent references for block-family losses (no toyforge code).

``truncated_moment`` is the finite-difference formula for truncated powers of a weighted sum of
uniforms, ``E[(c + sum_j a_j u_j)_+^n] = n!/(n+m)! * sum_eps (-1)^(m-|eps|) (c + eps.a)_+^(n+m)
/ prod a_j``, evaluated in 40-digit mpmath (a different decomposition from the library's
piecewise-polynomial densities); ``block_loss`` sums it over every activity pattern.
"""

from __future__ import annotations

import itertools

import mpmath as mp

mp.mp.dps = 40


def truncated_moment(c, weights, n):
    a = [mp.mpf(float(w)) for w in weights]
    m = len(a)
    c = mp.mpf(c)
    if m == 0:
        return max(c, 0) ** n
    total = mp.mpf(0)
    for eps in itertools.product((0, 1), repeat=m):
        x = c + sum(e * w for e, w in zip(eps, a, strict=True))
        total += (-1) ** (m - sum(eps)) * (x if x > 0 else 0) ** (n + m)
    product = mp.mpf(1)
    for w in a:
        product *= w
    return total * mp.factorial(n) / mp.factorial(n + m) / product


def block_loss(weights, scale, bias, p):
    """Per-feature loss of one block feature whose interference weights are ``weights``."""
    s, p = mp.mpf(scale), mp.mpf(p)
    c = mp.mpf(bias) / s
    k = len(weights)
    total = mp.mpf(0)
    for active in itertools.product((0, 1), repeat=k):
        on = [w for w, a in zip(weights, active, strict=True) if a and abs(w) > 1e-12]
        prob = p ** sum(active) * (1 - p) ** (k - sum(active))
        square = truncated_moment(c, [*on, 1.0], 2)  # E[(u + T + c)_+^2]
        cube1 = truncated_moment(c + 1, on, 3)
        cube0 = truncated_moment(c, on, 3)
        square1 = truncated_moment(c + 1, on, 2)
        cross = -cube1 / 6 + square1 / 2 + cube0 / 6  # E[u (u + T + c)_+]
        active_loss = s * s * square - 2 * s * cross + mp.mpf(1) / 3
        inactive_loss = s * s * truncated_moment(c, on, 2)
        total += prob * (p * active_loss + (1 - p) * inactive_loss)
    return float(total)
