"""The committed numpy closed forms equal the sympy derivation
(docs/large_n_theory.md#gaussian-relu-moments)."""

from __future__ import annotations

import subprocess
import sys

import mpmath
import numpy as np
import pytest

sp = pytest.importorskip("sympy")


@pytest.mark.slow
def test_moments_match_sympy_integration():
    from toyforge.theory import _derive

    for k in range(4):
        difference = (_derive.derived_moment(k) - _derive.committed_moment(k)).rewrite(sp.erf)
        assert sp.simplify(difference) == 0, k


def test_antiderivative_identities_hold_symbolically():
    from toyforge.theory import _derive

    for residual in _derive.antiderivative_residuals():
        assert sp.simplify(residual.rewrite(sp.erf)) == 0


@pytest.mark.parametrize(("c_value", "sigma_value"), [(-0.35, 0.22), (0.4, 1.3), (-1.2, 0.05)])
def test_numpy_matches_sympy_expressions(c_value, sigma_value):
    """The numpy forms evaluate the sympy expressions; the active integrals match mpmath."""
    from toyforge.theory import _derive
    from toyforge.theory._gauss import relu_moments
    from toyforge.theory.large_n_loss import reduced_expectations

    subs = {_derive.m: c_value, _derive.sigma: sigma_value}
    numeric = relu_moments(c_value, sigma_value)
    for k in range(4):
        expected = float(_derive.committed_moment(k).evalf(30, subs=subs))
        assert numeric[k] == pytest.approx(expected, rel=1e-12, abs=1e-300)
    mpmath.mp.dps = 30
    m2 = sp.lambdify((_derive.m, _derive.sigma), _derive.committed_moment(2), "mpmath")
    m1 = sp.lambdify((_derive.m, _derive.sigma), _derive.committed_moment(1), "mpmath")
    square = mpmath.quad(lambda u: m2(u + c_value, sigma_value), [0, 1])
    cross = mpmath.quad(lambda u: u * m1(u + c_value, sigma_value), [0, 1])
    cross_np, square_np = reduced_expectations(c_value, sigma_value, 1.0)
    assert float(cross_np) == pytest.approx(float(cross), rel=1e-10)
    assert float(square_np) == pytest.approx(float(square), rel=1e-10)
    closed = _derive.committed_active_square().evalf(
        30, subs={_derive.c: c_value, _derive.sigma: sigma_value}
    )
    assert float(closed) == pytest.approx(float(square), rel=1e-12)
    assert np.isfinite(float(cross))


def test_importing_theory_does_not_import_sympy():
    code = (
        "import sys, toyforge.theory, toyforge.theory.predict\n"
        "sys.exit(3 if 'sympy' in sys.modules else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
