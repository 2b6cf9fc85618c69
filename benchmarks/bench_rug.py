"""Persian rug: matrix-free Monte Carlo at n = 2^20 vs the dense path; FWHT vs references.

Rows (single-thread process CPU time, ``benchmarks._harness.measure``):

* ``fwht``: the numba FWHT against the numpy reference (``theory.finite_n``'s butterfly) and,
  where the matrix fits, the product with ``scipy.linalg.hadamard``.
* ``rug_mc``: matrix-free rug loss samples per second at n = 2^20 (r = 0.1, p = 0.01; the
  issue's target is >= 100/s), with the memory the dense path would need, and at n = 4096 both
  the matrix-free kernel and the dense evaluator on the materialised ReluAutoencoder.

Usage: ``python -m benchmarks.run_all --only rug [--quick]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._harness import measure, print_rows, write_results


def _fwht_rows(quick: bool) -> list[dict[str, Any]]:
    from scipy.linalg import hadamard

    from toyforge.theory.finite_n import walsh_hadamard_transform
    from toyforge.verify.kernels.fwht import fwht

    rows = []
    block = 0.2 if quick else 0.5
    for exponent in (12, 16) if quick else (12, 16, 20):
        n = 2**exponent
        vector = np.random.default_rng(exponent).standard_normal((1, n))
        work = vector.copy()
        kernel = measure(lambda work=work: fwht(work), min_block=block)
        numpy_butterfly = measure(lambda v=vector: walsh_hadamard_transform(v), min_block=block)
        row = {
            "n": n,
            "numba_per_s": kernel.calls_per_second,
            "numpy_butterfly_per_s": numpy_butterfly.calls_per_second,
            "x_numpy_butterfly": kernel.calls_per_second / numpy_butterfly.calls_per_second,
            "scipy_matmul_per_s": None,
            "x_scipy_matmul": None,
        }
        if n <= 4096:
            matrix = hadamard(n).astype(np.float64)
            dense = measure(lambda v=vector, m=matrix: v @ m, min_block=block)
            row["scipy_matmul_per_s"] = dense.calls_per_second
            row["x_scipy_matmul"] = kernel.calls_per_second / dense.calls_per_second
        rows.append(row)
    return rows


def _rug_rate(model: Any, feature_prob: float, batch_size: int, block: float) -> float:
    from toyforge.verify.data.sampling import sample_sparse_batch
    from toyforge.verify.evaluate.rug_monte_carlo import rug_batch_losses

    batch = sample_sparse_batch(model.n_features, feature_prob, batch_size, 0)
    timing = measure(lambda: rug_batch_losses(model, batch), min_block=block, blocks=3)
    return batch_size * timing.calls_per_second


def _dense_rate(model: Any, feature_prob: float, n_samples: int, block: float) -> float:
    from toyforge.verify.evaluate import SparseDataSpec, evaluate

    dense = model.materialize()
    spec = SparseDataSpec(feature_prob=feature_prob)
    timing = measure(
        lambda: evaluate(dense, spec, n_samples=n_samples, seed=0), min_block=block, blocks=3
    )
    return n_samples * timing.calls_per_second


def _rug_rows(quick: bool) -> list[dict[str, Any]]:
    from toyforge.constructions.persian_rug import persian_rug

    block = 0.5 if quick else 2.0
    rows = []
    big = persian_rug(2**20, 0.1, 0.01, 0)
    rows.append(
        {
            "n": big.n_features,
            "n_hidden": big.n_hidden,
            "feature_prob": 0.01,
            "matrix_free_samples_per_s": _rug_rate(big, 0.01, 8, block),
            "dense_samples_per_s": None,
            "dense_model_GiB": big.dense_bytes() / 2**30,
            "dense_W_GiB": 8 * big.n_features**2 / 2**30,
            "matrix_free_MiB": (2 * 8 * big.n_features + 8 * big.n_hidden) / 2**20,
        }
    )
    small = persian_rug(4096, 0.1, 0.01, 0)
    rows.append(
        {
            "n": small.n_features,
            "n_hidden": small.n_hidden,
            "feature_prob": 0.01,
            "matrix_free_samples_per_s": _rug_rate(small, 0.01, 512, block),
            "dense_samples_per_s": _dense_rate(small, 0.01, 2048, block),
            "dense_model_GiB": small.dense_bytes() / 2**30,
            "dense_W_GiB": 8 * small.n_features**2 / 2**30,
            "matrix_free_MiB": (2 * 8 * small.n_features + 8 * small.n_hidden) / 2**20,
        }
    )
    return rows


def main(out: Path, quick: bool) -> None:
    """Run both tables, print them and write ``bench_rug.json``."""
    from toyforge.verify.kernels.fwht import warmup

    warmup()
    fwht_rows = _fwht_rows(quick)
    print_rows(
        "FWHT: numba vs numpy / scipy (calls per CPU second, one vector)",
        fwht_rows,
        [
            "n",
            "numba_per_s",
            "numpy_butterfly_per_s",
            "scipy_matmul_per_s",
            "x_numpy_butterfly",
            "x_scipy_matmul",
        ],
    )
    rug_rows = _rug_rows(quick)
    print_rows(
        "Persian rug Monte Carlo: matrix-free vs dense (samples per CPU second)",
        rug_rows,
        [
            "n",
            "n_hidden",
            "feature_prob",
            "matrix_free_samples_per_s",
            "dense_samples_per_s",
            "dense_model_GiB",
            "dense_W_GiB",
            "matrix_free_MiB",
        ],
    )
    write_results(
        out,
        "bench_rug",
        [{"table": "fwht", **row} for row in fwht_rows]
        + [{"table": "rug_mc", **row} for row in rug_rows],
    )
