"""The m = 2 double-descent kernel against the numpy reference step, in the same run.

Times one full-batch training step (loss, gradient and AdamW update) at n = 1000 features,
S = 0.99, unit-norm points, for several T, by single-thread process CPU time: the numba kernel
(:func:`toyforge.verify.kernels.bottleneck2d.train_steps_kernel`, 20 steps per call) and the
numpy reference (scipy.sparse X, dense T x n temporaries,
:class:`toyforge.verify.train.optim.Adam`).
Projects the time of the full 21-point T grid of docs/memorisation.md#data-double-descent for one
seed (50,000 steps per T) from a per-(T·n) cost fitted on the measured kernel rates.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks._harness import measure, print_rows, write_results

N_FEATURES = 1000
KERNEL_STEPS = 20


def _problem(n_points: int):
    from toyforge.verify.data.sampling import fixed_dataset
    from toyforge.verify.experiments.double_descent import sparse_rows

    X = fixed_dataset(n_points, N_FEATURES, 0.01, unit_norm=True, seed=0)
    indptr, indices, values = sparse_rows(X)
    rng = np.random.default_rng(0)
    W = rng.normal(0, np.sqrt(2 / (N_FEATURES + 2)), size=(2, N_FEATURES))
    return W, np.zeros(N_FEATURES), indptr, indices, values


def _kernel_step(W, b, indptr, indices, values):
    from toyforge.verify.kernels.bottleneck2d import train_steps_kernel

    W, b = W.copy(), b.copy()
    moments = [np.zeros_like(W), np.zeros_like(W), np.zeros_like(b), np.zeros_like(b)]
    rates = np.full(KERNEL_STEPS, 1e-3)
    losses = np.empty(KERNEL_STEPS)
    state = {"offset": 0}

    def step():
        train_steps_kernel(
            W,
            b,
            *moments,
            indptr,
            indices,
            values,
            rates,
            state["offset"],
            0.9,
            0.999,
            1e-8,
            1e-2,
            losses,
        )
        state["offset"] += KERNEL_STEPS

    return step


def _reference_step(W, b, indptr, indices, values):
    from toyforge.verify.kernels.bottleneck2d import loss_and_gradient_reference
    from toyforge.verify.train.optim import Adam, AdamConfig

    params = {"W": W.copy(), "b": b.copy()}
    optimiser = Adam(config=AdamConfig(lr=1e-3, weight_decay=1e-2))

    def step():
        _, grad_W, grad_b = loss_and_gradient_reference(
            params["W"], params["b"], indptr, indices, values
        )
        optimiser.step(params, {"W": grad_W, "b": grad_b})

    return step


def main(out: Path, quick: bool) -> None:
    from toyforge.verify.experiments.double_descent import DEFAULT_SIZES
    from toyforge.verify.kernels.bottleneck2d import warmup

    warmup()
    sizes = (100, 1000) if quick else (10, 100, 1000, 3000)
    block = 0.3 if quick else 1.0
    rows = []
    for n_points in sizes:
        problem = _problem(n_points)
        kernel = measure(_kernel_step(*problem), min_block=block, blocks=3)
        reference = measure(_reference_step(*problem), min_block=block, blocks=3)
        kernel_rate = kernel.calls_per_second * KERNEL_STEPS
        rows.append(
            {
                "n_points": n_points,
                "kernel_steps_per_s": kernel_rate,
                "reference_steps_per_s": reference.calls_per_second,
                "speedup": kernel_rate / reference.calls_per_second,
                "kernel_ms_per_step": 1e3 / kernel_rate,
                "reference_ms_per_step": 1e3 * reference.seconds_per_call,
            }
        )
    # cost model: seconds per step = a + c·T (fitted on the kernel rows, least squares)
    T = np.array([row["n_points"] for row in rows], dtype=float)
    seconds = np.array([1e-3 * row["kernel_ms_per_step"] for row in rows])
    slope, intercept = np.polyfit(T, seconds, 1)
    grid = float(sum(50_000 * (intercept + slope * size) for size in DEFAULT_SIZES))
    rows.append(
        {
            "n_points": "grid (21 sizes, 50k steps, 1 seed, 1 core)",
            "projected_seconds": grid,
            "projected_minutes": grid / 60,
        }
    )
    print_rows(
        "m=2 double-descent kernel vs numpy reference (n=1000, S=0.99, CPU time)",
        rows,
        [
            "n_points",
            "kernel_steps_per_s",
            "reference_steps_per_s",
            "speedup",
            "kernel_ms_per_step",
            "reference_ms_per_step",
            "projected_minutes",
        ],
    )
    write_results(out, "bench_memorization", rows)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--quick", action="store_true")
    arguments = parser.parse_args()
    main(arguments.out, arguments.quick)
