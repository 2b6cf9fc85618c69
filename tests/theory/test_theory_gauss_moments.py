"""Gaussian ReLU moments (docs/large_n_theory.md#gaussian-relu-moments) against 50-digit mpmath
closed forms.

The fast path in :mod:`toyforge.theory._gauss` (upper side from the raw-moment identity,
Horner tail series) must agree with the exact moments to near machine precision on both
sides and across the series switch at ``|t| = 12``, up to the conditioning of
``exp(-t^2/2)`` in ``t``.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from toyforge.theory._gauss import GaussianReluMoments

mpmath.mp.dps = 50


def _exact(m: float, sigma: float) -> list[float]:
    """``E[(m + sigma z)_+^k]``, k = 0..3, as exact Gaussian integrals at 50 digits."""
    mm, ss = mpmath.mpf(m), mpmath.mpf(sigma)
    t = mm / ss
    cdf, pdf = mpmath.ncdf(t), mpmath.npdf(t)
    return [
        float(cdf),
        float(mm * cdf + ss * pdf),
        float((mm**2 + ss**2) * cdf + mm * ss * pdf),
        float((mm**3 + 3 * mm * ss**2) * cdf + (mm**2 + 2 * ss**2) * ss * pdf),
    ]


@pytest.mark.parametrize("sigma", [0.013, 0.7, 3.0])
def test_moments_match_mpmath_on_both_sides(sigma):
    t = np.concatenate(
        [np.linspace(-30.0, 30.0, 121), [-12.0001, -11.9999, 12.0001, 11.9999, -0.0, 1e-9, -1e-9]]
    )
    mean = t * sigma
    moments = GaussianReluMoments(mean, np.full_like(mean, sigma))
    for i, m in enumerate(mean):
        # rounding t = m / sigma (relative eps |t|) moves exp(-t^2/2) by eps t^2 relative
        # (the recurrences h_k = ... - a h_(k-1) below the series switch |t| = 12 amplify the
        # Mills-ratio rounding by up to |t|^(k+3) eps: 1.5e-10 for M3 near |t| = 11.5, the
        # same worst case as the previous implementation)
        rel = 2e-14 + 4e-16 * float(t[i]) ** 2
        plus, minus = _exact(float(m), sigma), _exact(float(-m), sigma)
        for k in range(4):
            for got, want in ((moments.plus[k][i], plus[k]), (moments.minus[k][i], minus[k])):
                bound = rel + (1e-16 * (1 + abs(t[i])) ** (k + 3) if abs(t[i]) <= 12.01 else 0.0)
                assert got == pytest.approx(want, rel=bound, abs=0), (float(m), k)
