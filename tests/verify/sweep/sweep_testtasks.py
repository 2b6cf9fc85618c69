"""Test-only sweep tasks, importable by spawned workers (the tests put this folder on sys.path).

Not collected by pytest (no ``test_`` prefix).
"""

from __future__ import annotations

import os
import time

import numpy as np

from toyforge.verify.evaluate.estimate import Estimate


def noisy_square(params: dict, seed: int) -> dict:
    """``x²`` plus a seeded Monte Carlo mean of ``n`` uniforms (an Estimate)."""
    draws = np.random.default_rng(seed).random(int(params.get("n", 16)))
    return {
        "square": params["x"] ** 2,
        "mean": Estimate.from_samples(draws),
        "label": f"x={params['x']}",
    }


def fail_on_negative(params: dict, seed: int) -> dict:
    """Like noisy_square, but raises for negative ``x``."""
    if params["x"] < 0:
        raise ValueError(f"negative x {params['x']}")
    return noisy_square(params, seed)


def slow_square(params: dict, seed: int) -> dict:
    """noisy_square after sleeping ``delay`` seconds (for kill-and-resume tests)."""
    time.sleep(float(params.get("delay", 0.2)))
    return {**noisy_square(params, seed), "worker_pid": os.getpid()}


def bad_output(params: dict, seed: int) -> dict:
    """Returns an output the sweep cannot store."""
    return {"array": np.zeros(3)}


def echo_x(params: dict, seed: int) -> dict:
    """An output named like a parameter (refused by the sweep)."""
    return {"x": params["x"]}


def tiny_model(params: dict, seed: int) -> dict:
    """A small seeded ReLU autoencoder as the task's model."""
    from toyforge.constructions.models import ReluAutoencoder

    rng = np.random.default_rng(seed)
    n_hidden = int(params["n_hidden"])
    model = ReluAutoencoder(
        W_in=rng.standard_normal((n_hidden, 4)),
        W_out=rng.standard_normal((4, n_hidden)),
        b=np.zeros(4),
    )
    return {"weight_norm": float(np.linalg.norm(model.W_in)), "model": model}
