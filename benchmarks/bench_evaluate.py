"""Evaluation speed of the ReLU autoencoder: toyforge kernels vs numpy dense vs PyTorch CPU.

Shapes A–D of docs/performance.md#how-speed-is-measured (batch 1024, float32, fresh data every
batch), one thread, rates in samples per second of process CPU time (benchmarks/_harness.py).
Weights: the Persian-rug construction (toyforge.constructions.persian_rug, Walsh–Hadamard rows with
the theory's scale and bias), materialised as a dense float32 ReluAutoencoder; the fraction of
positive outputs is reported (spec: 1–8 % for trained models). Falls back to random ±1/√m rows
with a bias calibrated to 2 % positive outputs if the construction is unavailable.

Peers: the numpy dense reference (standard dense generator, dense forward, per-sample MSE),
always; PyTorch CPU (``torch.set_num_threads(1)``, fresh data from the standard TMS generator
``torch.where(torch.rand(B,n) <= p, torch.rand(B,n), 0)``, and pre-generated data) when torch
imports. Also measures "import + first evaluate with a warm numba cache" in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._harness import blas_info, measure, print_rows, torch_available, write_results

SHAPES = {
    "A": (1024, 0.1, 0.01),
    "B": (1024, 0.25, 0.05),
    "C": (4096, 0.1, 0.01),
    "D": (4096, 0.1, 0.001),
}
BATCH = 1024


def trained_like_model(n_features: int, ratio: float, feature_prob: float) -> tuple[Any, str]:
    """A float32 ReluAutoencoder with sparse outputs, and a description of it."""
    from toyforge.constructions.models import ReluAutoencoder

    try:
        from toyforge.constructions.persian_rug import persian_rug

        dense = persian_rug(n_features, ratio, feature_prob, seed=0).materialize()
        source = "Persian-rug construction (theory scale and bias)"
    except Exception:  # construction unavailable: random rows, calibrated bias
        rng = np.random.default_rng(0)
        n_hidden = int(ratio * n_features)
        W = rng.choice([-1.0, 1.0], size=(n_hidden, n_features)) / np.sqrt(n_hidden)
        x = np.where(
            rng.random((256, n_features)) < feature_prob, rng.random((256, n_features)), 0.0
        )
        bias = -np.quantile(x @ W.T @ W, 0.98)
        dense = ReluAutoencoder(W_in=W, W_out=W.T.copy(), b=np.full(n_features, bias))
        source = "random ±1/sqrt(m) rows, bias at the 98th percentile of W^T W x"
    model = ReluAutoencoder(
        W_in=dense.W_in.astype(np.float32),
        W_out=np.ascontiguousarray(dense.W_out, dtype=np.float32),
        b=dense.b.astype(np.float32),
    )
    return model, source


def numpy_dense_step(model: Any, feature_prob: float, rng: np.random.Generator) -> Any:
    """One fresh dense batch through the plain numpy reference (float32)."""
    n = model.n_features
    W_in_T, W_out_T, bias = model.W_in.T, model.W_out.T, model.b

    def step() -> float:
        x = np.where(
            rng.random((BATCH, n), dtype=np.float32) <= feature_prob,
            rng.random((BATCH, n), dtype=np.float32),
            np.float32(0),
        )
        y = np.maximum((x @ W_in_T) @ W_out_T + bias, 0)
        return float(((y - x) ** 2).mean())

    return step


def toyforge_step(model: Any, feature_prob: float, path: str, rng: np.random.Generator) -> Any:
    """One fresh sparse batch through the toyforge kernels on ``path``."""
    from toyforge.verify.data.sampling import sample_sparse_batch
    from toyforge.verify.evaluate.autoencoder import _prepare, autoencoder_batch_losses
    from toyforge.verify.evaluate.config import SparseDataSpec

    prepared = _prepare(model, SparseDataSpec(feature_prob=feature_prob), 10**6, path)
    n = model.n_features

    def step() -> int:
        batch = sample_sparse_batch(n, feature_prob, BATCH, rng, dtype=np.float32)
        return autoencoder_batch_losses(prepared, batch)[1]

    return step, prepared


def torch_steps(model: Any, feature_prob: float) -> dict[str, Any]:
    """PyTorch CPU peers (fresh and pre-generated data), one thread."""
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    W_in = torch.from_numpy(model.W_in.copy())
    W_out = torch.from_numpy(model.W_out.copy())
    b = torch.from_numpy(model.b.copy())
    n = model.n_features

    def generate() -> Any:
        return torch.where(torch.rand(BATCH, n) <= feature_prob, torch.rand(BATCH, n), 0)

    def loss(x: Any) -> float:
        y = torch.relu(torch.nn.functional.linear(torch.nn.functional.linear(x, W_in), W_out, b))
        return float(torch.nn.functional.mse_loss(y, x))

    pregenerated = [generate() for _ in range(8)]
    counter = iter(range(10**12))

    def fresh() -> float:
        with torch.no_grad():
            return loss(generate())

    def cached() -> float:
        with torch.no_grad():
            return loss(pregenerated[next(counter) % 8])

    return {"torch CPU, fresh data": fresh, "torch CPU, pre-generated data": cached}


def first_evaluate_latency() -> dict[str, float]:
    """Wall time of ``import toyforge.verify`` + one evaluate, in a fresh process.

    Run twice with the same empty NUMBA_CACHE_DIR: the first process compiles and caches,
    the second is the "warm cache" figure.
    """
    code = (
        "import time; t = time.perf_counter(); c = time.process_time(); "
        "import numpy as np; "
        "from toyforge.constructions.models import ReluAutoencoder; "
        "from toyforge.verify import evaluate, SparseDataSpec; "
        "m = ReluAutoencoder(W_in=np.ones((4, 64), np.float32), "
        "W_out=np.ones((64, 4), np.float32), b=np.full(64, -1, np.float32)); "
        "[evaluate(m, SparseDataSpec(feature_prob=0.05), 2048, 0, path=p) "
        "for p in ('hidden', 'product')]; "
        "print(time.perf_counter() - t, time.process_time() - c)"
    )
    results = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for label in ("cold cache (compile)", "warm cache"):
            start = time.perf_counter()
            out = subprocess.run(
                [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
            ).stdout
            wall, cpu = (float(v) for v in out.strip().splitlines()[-1].split())
            results[label] = {
                "process wall s": time.perf_counter() - start,
                "import + evaluate wall s": wall,
                "import + evaluate cpu s": cpu,
            }
    return results


def main(out: Path, quick: bool) -> None:
    """Run the benchmark, print a table and write ``evaluate.json``."""
    shapes = {"A": SHAPES["A"], "D": SHAPES["D"]} if quick else SHAPES
    timing = dict(min_block=0.2, blocks=3) if quick else dict(min_block=0.5, blocks=5)
    have_torch = torch_available()
    rows: list[dict[str, Any]] = []
    for name, (n, ratio, p) in shapes.items():
        model, source = trained_like_model(n, ratio, p)
        rng = np.random.default_rng(1)
        candidates: dict[str, Any] = {"numpy dense reference": numpy_dense_step(model, p, rng)}
        extra: dict[str, Any] = {}
        for path in ("hidden", "product", "auto"):
            start = time.process_time()
            step, prepared = toyforge_step(model, p, path, rng)
            label = f"toyforge {path} path" + (f" (-> {prepared.path})" if path == "auto" else "")
            candidates[label] = step
            extra[label] = {
                "setup_cpu_s": time.process_time() - start,
                "positive_fraction": step() / (BATCH * n),
            }
        if have_torch:
            candidates.update(torch_steps(model, p))
        rates = {
            label: BATCH * measure(fn, **timing).calls_per_second
            for label, fn in candidates.items()
        }
        numpy_rate = rates["numpy dense reference"]
        torch_rate = rates.get("torch CPU, fresh data")
        for label, rate in rates.items():
            rows.append(
                {
                    "shape": name,
                    "n": n,
                    "r": ratio,
                    "p": p,
                    "implementation": label,
                    "samples_per_s": rate,
                    "x_numpy": rate / numpy_rate,
                    "x_torch_fresh": rate / torch_rate if torch_rate else "",
                    **extra.get(label, {}),
                    "weights": source,
                }
            )
    print_rows(
        "evaluation (forward + loss), samples per CPU second, batch 1024, float32",
        rows,
        [
            "shape",
            "implementation",
            "samples_per_s",
            "x_numpy",
            "x_torch_fresh",
            "positive_fraction",
            "setup_cpu_s",
        ],
    )
    latency = first_evaluate_latency()
    print("import + first evaluate:", latency)
    print("BLAS:", blas_info())
    rows.append({"latency": latency})
    write_results(out, "evaluate", rows)


if __name__ == "__main__":
    main(Path("benchmarks/results"), quick="--quick" in sys.argv)
