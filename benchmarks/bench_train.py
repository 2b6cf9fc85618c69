"""Training-step speed of the ReLU autoencoder: sparse-aware numba vs numpy dense vs torch CPU.

See docs/performance.md#how-speed-is-measured: shapes A–D, batch 1024, fresh data each step, Adam
(lr 1e-3), float32, one thread, rates per second of process CPU time. The numba stepper is timed at
init ("early": about half the outputs positive, dense dL/du path) and at steady state (after
``warm_steps`` training steps, sparse dL/du path where the density allows). numpy dense and
torch do the same work whatever the weights, so they are timed once. torch (optional, imported
lazily) runs with ``set_num_threads(1)``, both with its standard fresh-data generator
``torch.where(torch.rand(B, n) <= p, torch.rand(B, n), 0)`` and with 8 pre-generated batches.
Also measured: import + first step in a new process with a warm numba cache (wall clock); the
trained-state step's one dense GEMM alone (``Uᵀ = W_out Zᵀ``, batch × n_hidden × n_features, the
same call on the same buffers), whose rate over torch's is the ceiling of the ratio with this
algorithm (``ceiling_x_torch``; ``gemm_share`` is the part of our step it takes); and the sparse
sampler alone (inside both timed steps: ours and torch's fresh-data generator).

``python -m benchmarks.bench_train --grid [--quick]`` is the whole-run benchmark of
docs/training.md#batched-training: the paper's 6 × 6 (ratio, feature_prob) grid at n = 512
trained to convergence in one batched call (default learning rate, default convergence rule),
process CPU time; the torch peer's time for the same work is the sum over grid points of the
steps each model took divided by torch's measured step rate at that point (same shapes, fresh
data, one thread, in the same run).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks._harness import blas_info, measure, print_rows, torch_available, write_results

SHAPES = {  # name: (n_features, ratio, feature_prob)
    "A": (1024, 0.1, 0.01),
    "B": (1024, 0.25, 0.05),
    "C": (4096, 0.1, 0.01),
    "D": (4096, 0.1, 0.001),
}
BATCH = 1024
LR = 1e-3


def _numba_stepper(n_features: int, n_hidden: int, seed: int = 0):
    from toyforge.verify.kernels.autoencoder_train import AutoencoderStepper
    from toyforge.verify.train.autoencoder import init_relu_autoencoder
    from toyforge.verify.train.optim import Adam, AdamConfig

    model = init_relu_autoencoder(n_features, n_hidden, seed=seed)
    return AutoencoderStepper(
        model.W_in,
        model.W_out,
        model.b,
        Adam(config=AdamConfig(lr=LR)),
        batch_size=BATCH,
        dtype=np.float32,
    )


def _numba_step_function(stepper, n_features: int, feature_prob: float, rng):
    from toyforge.verify.data.sampling import sample_sparse_batch

    def step():
        batch = sample_sparse_batch(n_features, feature_prob, BATCH, rng, dtype=np.float32)
        return stepper.step(batch.indptr, batch.indices, batch.values)

    return step


def _numpy_dense_step(n_features: int, n_hidden: int, feature_prob: float, rng):
    """The numpy reference: dense fresh data, gradients.py backward, optim.Adam."""
    from toyforge.verify.train.autoencoder import init_relu_autoencoder
    from toyforge.verify.train.gradients import relu_autoencoder_loss_gradients
    from toyforge.verify.train.optim import Adam, AdamConfig

    model = init_relu_autoencoder(n_features, n_hidden, seed=0)
    params = {name: array.astype(np.float32) for name, array in model.to_arrays().items()}
    optimizer = Adam(config=AdamConfig(lr=LR))

    def step():
        active = rng.random((BATCH, n_features), dtype=np.float32) <= feature_prob
        x = np.where(active, rng.random((BATCH, n_features), dtype=np.float32), 0.0)
        x = x.astype(np.float32, copy=False)
        result = relu_autoencoder_loss_gradients(params["W_in"], params["W_out"], params["b"], x)
        optimizer.step(params, result.gradients)

    return step


def _torch_steps(n_features: int, n_hidden: int, feature_prob: float):
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    W_in = torch.nn.Linear(n_features, n_hidden, bias=False)
    W_out = torch.nn.Linear(n_hidden, n_features)
    parameters = list(W_in.parameters()) + list(W_out.parameters())
    optimizer = torch.optim.Adam(parameters, lr=LR)

    def train_on(x):
        y = torch.relu(W_out(W_in(x)))
        loss = torch.nn.functional.mse_loss(y, x)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def fresh():
        x = torch.where(
            torch.rand(BATCH, n_features) <= feature_prob,
            torch.rand(BATCH, n_features),
            torch.zeros(()),
        )
        train_on(x)

    batches = [
        torch.where(
            torch.rand(BATCH, n_features) <= feature_prob,
            torch.rand(BATCH, n_features),
            torch.zeros(()),
        )
        for _ in range(8)
    ]
    counter = [0]

    def pregenerated():
        counter[0] += 1
        train_on(batches[counter[0] % 8])

    return fresh, pregenerated


def _gemm_alone(stepper):
    """The trained-state step's dense GEMM, the same call on the stepper's own buffers."""

    def gemm():
        np.matmul(stepper.W_out, stepper.Z.T, out=stepper.UT)

    return gemm


def _sampling_alone(n_features: int, feature_prob: float, rng):
    from toyforge.verify.data.sampling import sample_sparse_batch

    def sample():
        sample_sparse_batch(n_features, feature_prob, BATCH, rng, dtype=np.float32)

    return sample


def _first_step_latency() -> float:
    """Wall seconds for import + one training step in a new process (warm numba cache)."""
    code = (
        "import time; t = time.perf_counter(); import numpy as np; "
        "from toyforge.verify.kernels.autoencoder_train import warmup; "
        "from toyforge.verify.train.autoencoder import SparseFeatureData, TrainConfig, "
        "init_relu_autoencoder, train; "
        "train(init_relu_autoencoder(256, 32), SparseFeatureData(n_features=256, "
        "feature_prob=0.01), TrainConfig(steps=2, batch_size=1024, dense_threshold=0.6)); "
        "print(time.perf_counter() - t)"
    )
    timings = []
    for _ in range(3):  # the first run may fill the cache
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env=os.environ.copy(),
        )
        timings.append(float(done.stdout.strip().splitlines()[-1]))
    return min(timings[1:])


def _measure_shape(name: str, quick: bool, with_torch: bool) -> dict:
    from toyforge.verify.kernels.autoencoder_train import DEFAULT_DENSE_THRESHOLD

    n_features, ratio, feature_prob = SHAPES[name]
    n_hidden = int(n_features * ratio)
    timing = {"min_block": 0.3 if quick else 0.5, "blocks": 3 if quick else 5}
    row: dict = {"shape": name, "n": n_features, "m": n_hidden, "p": feature_prob}
    rng = np.random.default_rng(1)
    row["numpy_dense"] = measure(
        _numpy_dense_step(n_features, n_hidden, feature_prob, rng), **timing
    ).calls_per_second
    stepper = _numba_stepper(n_features, n_hidden)
    step = _numba_step_function(stepper, n_features, feature_prob, rng)
    stepper.dense_threshold = 0.0  # early training: dense dL/du path
    row["numba_early"] = measure(step, **timing).calls_per_second
    stepper.dense_threshold = DEFAULT_DENSE_THRESHOLD
    warm_steps = (300 if quick else 1000) if n_features <= 1024 else (100 if quick else 1000)
    start = time.perf_counter()
    sparse = 0
    for _ in range(warm_steps):
        sparse += step().sparse_path
    row["warm_steps"] = warm_steps
    row["positive_fraction"] = stepper.last_positive_fraction
    row["numba_trained"] = measure(step, **timing).calls_per_second
    row["trained_path"] = "sparse" if stepper.uses_sparse_path() else "dense"
    row["gemm_alone"] = measure(_gemm_alone(stepper), **timing).calls_per_second
    row["gemm_share"] = row["numba_trained"] / row["gemm_alone"]
    row["sample_ms"] = (
        1e3 / measure(_sampling_alone(n_features, feature_prob, rng), **timing).calls_per_second
    )
    if with_torch:
        fresh, pregenerated = _torch_steps(n_features, n_hidden, feature_prob)
        row["torch_fresh"] = measure(fresh, **timing).calls_per_second
        row["torch_pregen"] = measure(pregenerated, **timing).calls_per_second
        row["trained_x_torch"] = row["numba_trained"] / row["torch_fresh"]
        row["trained_x_torch_pregen"] = row["numba_trained"] / row["torch_pregen"]
        row["early_x_torch"] = row["numba_early"] / row["torch_fresh"]
        row["ceiling_x_torch"] = row["gemm_alone"] / row["torch_fresh"]
    row["trained_x_numpy"] = row["numba_trained"] / row["numpy_dense"]
    row["wall_seconds"] = time.perf_counter() - start
    return row


def main(out: Path, quick: bool) -> None:
    """Measure every shape (quick: A, B and D only, shorter blocks) and write JSON."""
    with_torch = torch_available()
    names = ["A", "B", "D"] if quick else list(SHAPES)
    rows = [_measure_shape(name, quick, with_torch) for name in names]
    latency = _first_step_latency()
    for row in rows:
        row["import_first_step_s"] = latency
    columns = [
        "shape",
        "numpy_dense",
        "numba_early",
        "numba_trained",
        "trained_path",
        "positive_fraction",
        "gemm_alone",
        "gemm_share",
        "sample_ms",
        "trained_x_numpy",
    ]
    if with_torch:
        columns += [
            "torch_fresh",
            "torch_pregen",
            "trained_x_torch",
            "trained_x_torch_pregen",
            "early_x_torch",
            "ceiling_x_torch",
        ]
    print_rows("train steps per CPU second (batch 1024, float32, 1 thread)", rows, columns)
    print(f"import + first step (warm cache, wall): {latency:.2f} s")
    print("BLAS:", blas_info())
    print("load average (1, 5, 15 min):", os.getloadavg())
    for row in rows:
        row["load_average"] = os.getloadavg()
    write_results(out, "bench_train", rows)


GRID_AXIS = (0.002001, 0.8)  # the paper's linspace ends, 6 points each


def _grid_runs(n_features: int, points: int, max_steps: int) -> list:
    from toyforge.verify.train.config import TrainConfig
    from toyforge.verify.train.convergence import ConvergenceRule, default_learning_rate
    from toyforge.verify.train.optim import AdamConfig
    from toyforge.verify.train.runs import AutoencoderRun

    axis = np.linspace(*GRID_AXIS, points)
    config = TrainConfig(
        steps=max_steps,
        optimizer=AdamConfig(lr=default_learning_rate(n_features)),
        log_every=100,
        eval_samples=20_000,
        convergence=ConvergenceRule(),
    )
    return [
        AutoencoderRun(n_features=n_features, ratio=float(r), feature_prob=float(p), train=config)
        for r in axis
        for p in axis
    ]


def _torch_rate(run, quick: bool) -> float:
    fresh, _ = _torch_steps(run.n_features, run.n_hidden, run.feature_prob)
    timing = {"min_block": 0.2, "blocks": 3} if quick else {"min_block": 0.4, "blocks": 3}
    return measure(fresh, **timing).calls_per_second


def grid_main(out: Path, quick: bool, n_features: int = 512) -> None:
    """Train the paper's grid at ``n_features`` to convergence; CPU time vs the torch peer."""
    from toyforge.theory import predict
    from toyforge.verify.train.runs import train_runs

    runs = _grid_runs(n_features, 3 if quick else 6, 20_000)
    cpu, wall = time.process_time(), time.perf_counter()

    def finished(index: int, result) -> None:  # a partial record survives an interrupted run
        elapsed = time.process_time() - cpu
        print(f"  done r={runs[index].ratio:.3g} p={runs[index].feature_prob:.3g}: "
              f"{result.steps} steps, converged={result.converged}, cpu so far {elapsed:.0f} s",
              flush=True)  # fmt: skip

    results = train_runs(runs, on_result=finished)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    with_torch = torch_available()
    rows = []
    for run, result in zip(runs, results, strict=True):
        prediction = predict(run.n_hidden / run.n_features, run.feature_prob)
        theory, envelope = float(prediction.loss), float(prediction.envelope_loss)
        row = {
            "ratio": run.ratio, "p": run.feature_prob, "m": run.n_hidden,
            "steps": result.steps, "converged": result.converged,
            "silent": result.silent_features,
            "held_out": result.final_eval.value, "stderr": result.final_eval.stderr,
            "theory": theory, "vs_theory": result.final_eval.value / theory - 1,
            "envelope": envelope, "vs_envelope": result.final_eval.value / envelope - 1,
        }  # fmt: skip
        if with_torch:
            row["torch_steps_per_s"] = _torch_rate(run, quick)
            row["torch_seconds"] = result.steps / row["torch_steps_per_s"]
        rows.append(row)
    total = {"numba_cpu_s": cpu, "numba_wall_s": wall, "models": len(runs),
             "converged": sum(r["converged"] for r in rows)}  # fmt: skip
    if with_torch:
        total["torch_cpu_s_same_steps"] = sum(r["torch_seconds"] for r in rows)
        total["x_torch"] = total["torch_cpu_s_same_steps"] / cpu
    columns = ["ratio", "p", "m", "steps", "converged", "silent", "held_out", "stderr", "theory",
               "vs_theory", "envelope", "vs_envelope"]  # fmt: skip
    if with_torch:
        columns += ["torch_steps_per_s", "torch_seconds"]
    print_rows(f"grid at n = {n_features} trained to convergence (1 thread)", rows, columns)
    print("total:", total)
    print("BLAS:", blas_info())
    write_results(out, "bench_train_grid", [*rows, {"total": total}])


if __name__ == "__main__":
    if "--grid" in sys.argv:
        grid_main(Path("benchmarks/results"), quick="--quick" in sys.argv)
    else:
        main(Path("benchmarks/results"), quick="--quick" in sys.argv)
