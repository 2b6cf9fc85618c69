"""Symbolic derivation (sympy) of the closed forms used by :mod:`toyforge.theory`.

Imported only by the tests (never by ``toyforge.theory`` itself, so sympy is not needed at
call time). It derives, from their definitions (docs/large_n_theory.md#gaussian-relu-moments):

* ``M_k(m) = E[(m + sigma z)_+^k] = int_{-m/sigma}^inf (m + sigma z)^k phi(z) dz``, k = 0..3;
* ``E[R^2] / p`` over the active part, ``int_0^1 M2(u + c) du``, and
  ``E[xR] / p = int_0^1 u M1(u + c) du``;

and returns them as sympy expressions in the symbols ``m, c, sigma`` (sigma > 0).
"""

from __future__ import annotations

import sympy as sp

m, c, u, z = sp.symbols("m c u z", real=True)
sigma = sp.symbols("sigma", positive=True)


def gaussian_density(variable: sp.Symbol) -> sp.Expr:
    """Standard normal density."""
    return sp.exp(-(variable**2) / 2) / sp.sqrt(2 * sp.pi)


def derived_moment(k: int) -> sp.Expr:
    """``M_k(m)`` by direct integration (a function of ``m`` and ``sigma``)."""
    integrand = (m + sigma * z) ** k * gaussian_density(z)
    return sp.simplify(sp.integrate(sp.expand(integrand), (z, -m / sigma, sp.oo)))


def committed_moment(k: int) -> sp.Expr:
    """The closed form committed in :mod:`toyforge.theory._gauss`, as sympy."""
    t = m / sigma
    cdf = (1 + sp.erf(t / sp.sqrt(2))) / 2
    pdf = gaussian_density(t)
    return [
        cdf,
        m * cdf + sigma * pdf,
        (m**2 + sigma**2) * cdf + m * sigma * pdf,
        (m**3 + 3 * m * sigma**2) * cdf + (m**2 + 2 * sigma**2) * sigma * pdf,
    ][k]


def committed_active_square() -> sp.Expr:
    """``int_0^1 M2(u + c) du = [M3(1 + c) - M3(c)] / 3``
    (docs/large_n_theory.md#gaussian-relu-moments)."""
    m3 = committed_moment(3)
    return (m3.subs(m, 1 + c) - m3.subs(m, c)) / 3


def committed_active_cross() -> sp.Expr:
    """``int_0^1 u M1(u + c) du = M2(1 + c)/2 - [M3(1 + c) - M3(c)]/6``
    (docs/large_n_theory.md#gaussian-relu-moments)."""
    m2, m3 = committed_moment(2), committed_moment(3)
    return m2.subs(m, 1 + c) / 2 - (m3.subs(m, 1 + c) - m3.subs(m, c)) / 6


def antiderivative_residuals() -> list[sp.Expr]:
    """Expressions that must simplify to 0 if the committed forms are right.

    ``d M_k / dm - k M_{k-1}`` for k = 1..3, and ``d/dc`` of the committed active integrals
    minus the integrands' boundary terms (fundamental theorem of calculus), plus their value
    at a reference point being the integral itself is checked numerically by the tests.
    """
    residuals = [sp.diff(committed_moment(k), m) - k * committed_moment(k - 1) for k in (1, 2, 3)]
    m1, m2 = committed_moment(1), committed_moment(2)
    # d/dc int_0^1 M2(u + c) du = M2(1 + c) - M2(c)   (since M2(u + c) is a function of u + c)
    residuals.append(sp.diff(committed_active_square(), c) - (m2.subs(m, 1 + c) - m2.subs(m, c)))
    # d/dc int_0^1 u M1(u + c) du = int_0^1 u M0(u + c) du = M1(1 + c) - [M2(1+c) - M2(c)]/2
    residuals.append(
        sp.diff(committed_active_cross(), c)
        - (m1.subs(m, 1 + c) - (m2.subs(m, 1 + c) - m2.subs(m, c)) / 2)
    )
    return residuals
