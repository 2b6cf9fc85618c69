"""The non-identical feature sampler against its dense numpy reference, in the same run.

Times one batch of 1 024 samples from a Zipf law of firing rates (``zipf:1.2:0.4:5e-4``, about
``sum p_i`` active features per sample) at several feature counts, by single-thread process
CPU time: :meth:`toyforge.verify.data.feature_sampler.FeatureDistribution.sample` (CSR, cost
growing with the active entries) and
:func:`toyforge.verify.data.feature_sampler.sample_dense_reference` (one uniform per feature and
row), plus the uniform sampler of :mod:`toyforge.verify.data.sampling` at the same mean rate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks._harness import measure, print_rows, write_results

BATCH = 1024
LAW = "zipf:1.2:0.4:5e-4"


def main(out: Path, quick: bool) -> None:
    from toyforge.verify.data.feature_sampler import FeatureDistribution, sample_dense_reference
    from toyforge.verify.data.sampling import sample_sparse_batch

    sizes = (1024, 8192) if quick else (1024, 8192, 65536)
    block = 0.3 if quick else 1.0
    rows = []
    for n in sizes:
        law = FeatureDistribution.from_laws(n, LAW)
        mean_p = float(law.feature_probs.mean())
        rng = np.random.default_rng(0)
        fast = measure(lambda law=law, rng=rng: law.sample(rng, BATCH), min_block=block, blocks=3)
        dense = measure(
            lambda law=law, rng=rng: sample_dense_reference(law, BATCH, rng),
            min_block=block,
            blocks=3,
        )
        uniform = measure(
            lambda n=n, p=mean_p, rng=rng: sample_sparse_batch(n, p, BATCH, rng),
            min_block=block,
            blocks=3,
        )
        rows.append(
            {
                "n_features": n,
                "active_per_sample": float(law.feature_probs.sum()),
                "sampler_ms": 1e3 * fast.seconds_per_call,
                "dense_reference_ms": 1e3 * dense.seconds_per_call,
                "speedup_vs_reference": dense.seconds_per_call / fast.seconds_per_call,
                "uniform_kernel_ms": 1e3 * uniform.seconds_per_call,
            }
        )
    print_rows(
        f"feature sampler ({LAW}, batch {BATCH}) vs dense numpy reference (CPU time)",
        rows,
        [
            "n_features",
            "active_per_sample",
            "sampler_ms",
            "dense_reference_ms",
            "speedup_vs_reference",
            "uniform_kernel_ms",
        ],
    )
    write_results(out, "bench_feature_sampler", rows)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--quick", action="store_true")
    arguments = parser.parse_args()
    main(arguments.out, arguments.quick)
