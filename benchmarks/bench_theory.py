"""Theory speed: one ``predict``, a 200 x 200 ``predict_grid``, against point-by-point quadrature.

Reference (same run): the symmetric loss of one point by scipy — ``minimize_scalar`` (bounded,
on the c-range of docs/large_n_theory.md#the-linear-branch) over ``L*(c)`` whose expectations are
1-D ``quad`` integrals over the interference (MATS functions G, H). It is timed on a small subset of
the grid and extrapolated per point to the full grid (stated in the output).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from scipy import integrate, optimize
from scipy.stats import norm

from benchmarks._harness import measure, print_rows, write_results


def _quadrature_loss(ratio: float, p: float) -> float:
    """Symmetric loss by quadrature + bounded scalar minimisation (the slow reference)."""
    sigma = float(np.sqrt((1 / ratio - 1) * (p / 3 - p * p / 4)))

    def g_h(t: float) -> tuple[float, float]:
        low = min(max(-t, 0.0), 1.0)
        return (1 - low**3) / 3 + t * (1 - low**2) / 2, ((1 + t) ** 3 - (low + t) ** 3) / 3

    def profile(c: float) -> float:
        def over(f):
            return integrate.quad(
                lambda nu: f(nu) * norm.pdf(nu, c, sigma), c - 10 * sigma, c + 10 * sigma, limit=200
            )[0]

        cross = p * over(lambda nu: g_h(nu)[0])
        square = p * over(lambda nu: g_h(nu)[1]) + (1 - p) * over(lambda nu: max(nu, 0) ** 2)
        return p / 3 - cross * cross / square

    c_max = 2 + 10 * sigma + (1 - ratio) * p / (2 * ratio)
    result = optimize.minimize_scalar(
        profile, bounds=(-1.0, c_max), method="bounded", options={"xatol": 1e-9}
    )
    return float(result.fun)


def main(out: Path, quick: bool) -> None:
    from toyforge.theory import envelope, predict, predict_grid, symmetric_optimum
    from toyforge.theory.envelope import _hulls_for  # the per-p hull cache

    def cold(function):
        """``function`` with the envelope hulls recomputed (as in a first call for these p)."""

        def call():
            _hulls_for.cache_clear()
            return function()

        return call

    n = 50 if quick else 200
    axis = np.linspace(0.002001, 0.8, n)
    ratio_grid, prob_grid = np.meshgrid(axis, axis, indexing="ij")
    block = 0.2 if quick else 0.5
    point = measure(lambda: predict(0.25, 0.05), min_block=block, blocks=3)
    symmetric_point = measure(lambda: symmetric_optimum(0.25, 0.05), min_block=block, blocks=3)
    grid = measure(lambda: predict_grid(axis, axis), min_block=block, blocks=3, warmup=1)
    first = measure(cold(lambda: predict_grid(axis, axis)), min_block=block, blocks=3, warmup=1)
    lean = measure(
        lambda: predict_grid(axis, axis, bounds=False), min_block=block, blocks=3, warmup=1
    )
    grid_sym = measure(
        lambda: symmetric_optimum(ratio_grid, prob_grid), min_block=block, blocks=3, warmup=1
    )
    hull = measure(cold(lambda: envelope(axis, axis)), min_block=block, blocks=3, warmup=1)
    subset = [(0.25, 0.05), (0.1, 0.01), (0.5, 0.3), (0.002001, 0.8)][: 2 if quick else 4]
    start = time.process_time()
    for ratio, p in subset:
        _quadrature_loss(ratio, p)
    per_point_quad = (time.process_time() - start) / len(subset)
    quad_grid = per_point_quad * n * n
    rows = [
        {
            "case": "predict (one point, all fields)",
            "seconds": point.seconds_per_call,
            "us": point.seconds_per_call * 1e6,
        },
        {
            "case": "symmetric_optimum (one point)",
            "seconds": symmetric_point.seconds_per_call,
            "us": symmetric_point.seconds_per_call * 1e6,
        },
        {
            "case": "quadrature reference (one point, symmetric loss)",
            "seconds": per_point_quad,
            "us": per_point_quad * 1e6,
        },
        {
            "case": f"predict_grid {n}x{n} (all fields; envelope hulls computed)",
            "seconds": first.seconds_per_call,
            "speedup_vs_quadrature": quad_grid / first.seconds_per_call,
        },
        {
            "case": f"predict_grid {n}x{n} (all fields; hulls cached by an earlier call)",
            "seconds": grid.seconds_per_call,
            "speedup_vs_quadrature": quad_grid / grid.seconds_per_call,
        },
        {
            "case": f"predict_grid {n}x{n} (bounds=False: no MMSE/JumpReLU; hulls cached)",
            "seconds": lean.seconds_per_call,
            "speedup_vs_quadrature": quad_grid / lean.seconds_per_call,
        },
        {
            "case": f"envelope {n}x{n} (hulls computed: families, rug curves, tangents)",
            "seconds": hull.seconds_per_call,
        },
        {
            "case": f"symmetric_optimum {n}x{n}",
            "seconds": grid_sym.seconds_per_call,
            "speedup_vs_quadrature": quad_grid / grid_sym.seconds_per_call,
        },
        {
            "case": f"quadrature {n}x{n} (extrapolated from {len(subset)} points)",
            "seconds": quad_grid,
        },
    ]
    print_rows(
        "theory (single-thread CPU time)", rows, ["case", "seconds", "us", "speedup_vs_quadrature"]
    )
    write_results(out, "bench_theory", rows)
