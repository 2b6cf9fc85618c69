"""Modular addition: exact all-pairs evaluation, the grokking training step, a full grokking run.

* exact enumeration of all p² pairs at p = 113 (constructions' ``exactness`` and
  ``verify.evaluate.evaluate_modular_addition``), calls per CPU second;
* one full-batch AdamW step of the PAIR model (p = 67, embed 500, 24 hidden, 911 pairs,
  float32): the numpy step of ``verify.experiments.grokking`` against the plain-numpy
  reference step (``grads_reference`` in float64 + ``verify.train.optim.Adam``) in the same run;
* batched training (``verify.kernels.modular_batched``): model-steps per CPU second of 32
  small models (p = 31, embed 64, 24 hidden) in one kernel against the serial numpy trainer
  on the same models, and the 10 x 10 grokking phase diagram with 2 seeds per cell
  (train fraction x weight decay, the ``toyforge grok-phase`` default; target <= 15 min CPU;
  ``quick`` runs a 3 x 3 x 2 diagram for 1 000 steps and reports it as such);
* the PAIR grokking run (docs/modular_addition.md#training-recipes, seed 0, float32) to test
  accuracy ≥ 99 %: grok step, wall and CPU seconds (target: under 60 s single-thread). Skipped with
  ``quick``.

BLAS is limited to one thread (threadpoolctl): multithreaded BLAS costs 2x CPU on these tiny
matrices for no wall-clock gain (measured while writing the trainer).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks._harness import measure, print_rows, write_results


def _enumeration_rows(quick: bool) -> list[dict]:
    from toyforge.constructions.modular_addition import exactness, modular_addition
    from toyforge.verify.evaluate import evaluate_modular_addition

    rows = []
    for frequencies in ((1,), (14, 35, 41, 42, 52)):
        model = modular_addition(113, frequencies, 5)
        for name, function in (
            ("constructions.exactness", lambda m=model: exactness(m)),
            ("verify.evaluate_modular_addition", lambda m=model: evaluate_modular_addition(m)),
        ):
            timing = measure(function, min_block=0.2 if quick else 0.5, blocks=3 if quick else 5)
            rows.append(
                {
                    "case": f"all 12769 pairs, p=113, N={model.n_hidden}",
                    "method": name,
                    "calls_per_s": timing.calls_per_second,
                    "ms_per_call": 1e3 * timing.seconds_per_call,
                }
            )
    return rows


def _step_functions():
    from toyforge.verify.data.sampling import modular_addition_pairs
    from toyforge.verify.experiments.grokking import (
        ModularTrainingConfig,
        _loss_and_grads,
        _make_batch,
        _optimiser,
        grads_reference,
        init_parameters,
    )
    from toyforge.verify.train.optim import Adam, AdamConfig

    config = ModularTrainingConfig()
    train_pairs, _ = modular_addition_pairs(67, 0.4, seed=0, unordered=True)
    fast_params = init_parameters(config, np.random.default_rng(0))
    batch = _make_batch(train_pairs, 67, np.dtype(np.float32))
    fast_optimiser = _optimiser(config)

    def fast_step():
        _, _, grads = _loss_and_grads(fast_params, batch)
        fast_optimiser.step(fast_params, grads)

    reference_params = {
        k: v.astype(np.float64)
        for k, v in init_parameters(config, np.random.default_rng(0)).items()
    }
    reference_optimiser = Adam(config=AdamConfig(lr=1e-3, beta1=0.9, beta2=0.98, weight_decay=1.0))

    def reference_step():
        _, grads = grads_reference(reference_params, train_pairs, 67)
        reference_optimiser.step(reference_params, grads)

    return fast_step, reference_step


def _step_rows(quick: bool) -> list[dict]:
    fast_step, reference_step = _step_functions()
    fast = measure(fast_step, min_block=0.2 if quick else 0.5, blocks=3 if quick else 5)
    reference = measure(reference_step, min_block=0.2 if quick else 0.5, blocks=3 if quick else 5)
    return [
        {
            "case": "PAIR step p=67 (911 pairs, 500x24)",
            "method": "grokking trainer (numpy, f32)",
            "steps_per_s": fast.calls_per_second,
            "ratio_vs_reference": fast.calls_per_second / reference.calls_per_second,
        },
        {
            "case": "PAIR step p=67 (911 pairs, 500x24)",
            "method": "reference (one-hot numpy f64 + optim.Adam)",
            "steps_per_s": reference.calls_per_second,
            "ratio_vs_reference": 1.0,
        },
    ]


def _grokking_row() -> dict:
    from toyforge.verify.experiments.fourier_analysis import fourier_gini, key_frequencies
    from toyforge.verify.experiments.grokking import ModularTrainingConfig, train_modular_addition

    config = ModularTrainingConfig(seed=0, stop_after_grok=0)
    start = time.perf_counter()
    result = train_modular_addition(config)
    wall = time.perf_counter() - start
    return {
        "case": "PAIR recipe p=67 seed 0 float32, until test >= 99 %",
        "memorize_step": result.memorize_step,
        "grok_step": result.grok_step,
        "wall_s": wall,
        "cpu_s": result.cpu_seconds,
        "steps_per_s": result.steps_per_second,
        "steps_per_cpu_s": result.steps_run / result.cpu_seconds,
        "key_frequencies": list(key_frequencies(result.model)),
        "fourier_gini": fourier_gini(result.model),
    }


def _batched_rows(quick: bool) -> list[dict]:
    from toyforge.verify.experiments.grok_phase import GrokRun, train_batched
    from toyforge.verify.experiments.grokking import ModularTrainingConfig, train_modular_addition

    steps = 200 if quick else 1000
    base = ModularTrainingConfig(modulus=31, d_embed=64, n_hidden=24, steps=steps, eval_every=100)
    runs = [GrokRun(seed=s, train_fraction=0.5, lr=3e-3) for s in range(32)]
    batch = train_batched(base, runs)
    batched_rate = len(runs) * steps / batch.cpu_seconds
    serial_cpu = sum(
        train_modular_addition(replace(base, seed=s, train_fraction=0.5, lr=3e-3)).cpu_seconds
        for s in range(4)
    )
    serial_rate = 4 * steps / serial_cpu
    case = f"32 models p=31 embed 64 N=24, {steps} steps"
    return [
        {"case": case, "method": "batched kernel (f64)", "model_steps_per_cpu_s": batched_rate,
         "ratio_vs_serial": batched_rate / serial_rate},
        {"case": case, "method": "serial numpy trainer (f32, 4 of the models)",
         "model_steps_per_cpu_s": serial_rate, "ratio_vs_serial": 1.0},
    ]  # fmt: skip


def _phase_row(quick: bool) -> dict:
    from toyforge.verify.experiments.grok_phase import GrokRun, phase_diagram
    from toyforge.verify.experiments.grokking import ModularTrainingConfig

    n, steps = (3, 1000) if quick else (10, 10_000)
    base = ModularTrainingConfig(modulus=31, d_embed=64, n_hidden=24, steps=steps, eval_every=100)
    diagram = phase_diagram(
        base,
        ("train_fraction", np.linspace(0.1, 0.9, n)),
        ("weight_decay", np.logspace(-2, np.log10(30.0), n)),
        n_seeds=2,
        defaults=GrokRun(lr=3e-3),
    )
    counts = np.bincount(diagram.phase.ravel(), minlength=4)
    return {
        "case": f"phase diagram {n}x{n}x2 seeds, {steps} steps, p=31",
        "cpu_s": diagram.batch.cpu_seconds,
        "wall_s": diagram.batch.wall_seconds,
        "model_steps": int(diagram.batch.steps_run.sum()),
        "phase_counts": counts.tolist(),
    }


def main(out: Path, quick: bool) -> None:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        enumeration = _enumeration_rows(quick)
        steps = _step_rows(quick)
        grokking = [] if quick else [_grokking_row()]
        batched = _batched_rows(quick)
        phase = [_phase_row(quick)]
    print_rows(
        "modular addition: exact enumeration (CPU time)",
        enumeration,
        ["case", "method", "calls_per_s", "ms_per_call"],
    )
    print_rows(
        "modular addition: one training step (CPU time)",
        steps,
        ["case", "method", "steps_per_s", "ratio_vs_reference"],
    )
    if grokking:
        print_rows(
            "modular addition: grokking run",
            grokking,
            [
                "case",
                "memorize_step",
                "grok_step",
                "wall_s",
                "cpu_s",
                "steps_per_cpu_s",
                "key_frequencies",
                "fourier_gini",
            ],
        )
    print_rows(
        "modular addition: batched kernel vs serial trainer (CPU time)",
        batched,
        ["case", "method", "model_steps_per_cpu_s", "ratio_vs_serial"],
    )
    print_rows(
        "modular addition: grokking phase diagram (one batch)",
        phase,
        ["case", "cpu_s", "wall_s", "model_steps", "phase_counts"],
    )
    write_results(out, "bench_modular", enumeration + steps + grokking + batched + phase)


if __name__ == "__main__":
    import sys

    main(Path("benchmarks/results"), "--quick" in sys.argv)
