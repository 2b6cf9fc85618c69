"""The batched modular-addition kernel against its plain-numpy references."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toyforge.verify.kernels import modular_batched as kernel


def _problem(seed: int, n_models: int, modulus: int, d: int, n_hidden: int):
    rng = np.random.default_rng(seed)
    E = rng.normal(size=(n_models, modulus, d))
    H = rng.normal(scale=0.6, size=(n_models, d, n_hidden))
    R = rng.normal(scale=0.6, size=(n_models, n_hidden, d))  # PAIR names it O
    pairs = np.array([(a, b) for a in range(modulus) for b in range(a, modulus)], np.int64)
    n_train = rng.integers(1, len(pairs), size=n_models)
    train_index = np.zeros((n_models, n_train.max()), dtype=np.int64)
    is_train = np.zeros((n_models, len(pairs)), dtype=bool)
    for b in range(n_models):
        rows = np.sort(rng.permutation(len(pairs))[: n_train[b]])
        train_index[b, : n_train[b]] = rows
        is_train[b, rows] = True
    return E, H, R, pairs, train_index, n_train, is_train


def _as_dict(E, H, Rt, b):
    return {"E": E[b], "H": H[b], "O": Rt[b].T}


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 3),
    st.sampled_from([3, 5, 7]),
    st.integers(1, 6),
    st.integers(1, 5),
    st.integers(1, 6),
)
def test_train_steps_match_reference_adamw(seed, n_models, modulus, d, n_hidden, n_steps):
    E, H, R, pairs, train_index, n_train, _ = _problem(seed, n_models, modulus, d, n_hidden)
    rng = np.random.default_rng(seed + 1)
    lr = rng.uniform(1e-3, 3e-2, size=n_models)
    wd = rng.uniform(0.0, 2.0, size=n_models)
    reference = kernel.train_steps_reference(
        [{"E": E[b], "H": H[b], "O": R[b]} for b in range(n_models)],
        [pairs[train_index[b, : n_train[b]]] for b in range(n_models)],
        lr, wd, (0.9, 0.98), 1e-8, n_steps,
    )  # fmt: skip
    params = (E.copy(), H.copy(), np.ascontiguousarray(R.transpose(0, 2, 1)))
    moments = tuple(np.zeros_like(x) for x in params for _ in range(2))
    active = np.ones(n_models, dtype=bool)
    betas = np.array([0.9, 0.98])
    first = n_steps // 2  # two calls: the bias corrections must continue across them
    for start, count in ((0, first), (first, n_steps - first)):
        if count:
            kernel.train_steps_kernel(
                params, moments, pairs, train_index, n_train, lr, wd, active, betas, 1e-8,
                start, count,
            )  # fmt: skip
    for b in range(n_models):
        got = _as_dict(*params, b)
        for name in ("E", "H", "O"):
            np.testing.assert_allclose(got[name], reference[b][name], rtol=1e-9, atol=1e-11)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 3), st.sampled_from([3, 5, 11]))
def test_evaluation_matches_reference(seed, n_models, modulus):
    E, H, R, pairs, _, _, is_train = _problem(seed, n_models, modulus, 4, 3)
    Rt = np.ascontiguousarray(R.transpose(0, 2, 1))
    metrics = kernel.evaluate_kernel(E, H, Rt, pairs, is_train)
    for b in range(n_models):
        params = {"E": E[b], "H": H[b], "O": R[b]}
        train = kernel.evaluate_reference(params, pairs[is_train[b]])
        test = kernel.evaluate_reference(params, pairs[~is_train[b]])
        np.testing.assert_allclose(metrics[b], [*train, *test], rtol=1e-10, atol=1e-12)


def test_inactive_models_are_untouched():
    E, H, R, pairs, train_index, n_train, _ = _problem(0, 2, 5, 3, 2)
    params = (E.copy(), H.copy(), np.ascontiguousarray(R.transpose(0, 2, 1)))
    moments = tuple(np.zeros_like(x) for x in params for _ in range(2))
    active = np.array([True, False])
    losses = kernel.train_steps_kernel(
        params, moments, pairs, train_index, n_train, np.full(2, 1e-2), np.ones(2), active,
        np.array([0.9, 0.98]), 1e-8, 0, 3,
    )  # fmt: skip
    assert np.isnan(losses[1]) and np.isfinite(losses[0])
    np.testing.assert_array_equal(params[0][1], E[1])
    assert not np.array_equal(params[0][0], E[0])


def test_reference_gradient_matches_finite_differences():
    E, H, R, pairs, train_index, n_train, _ = _problem(4, 1, 5, 3, 4)
    train = pairs[train_index[0, : n_train[0]]]
    params = {"E": E[0], "H": H[0], "O": R[0]}
    _, grads = kernel.loss_and_grads_reference(params["E"], params["H"], params["O"], train)
    step = 1e-6
    for name, index in (("E", (2, 1)), ("H", (0, 3)), ("O", (3, 2))):
        values = []
        for sign in (1, -1):
            shifted = {k: v.copy() for k, v in params.items()}
            shifted[name][index] += sign * step
            values.append(
                kernel.loss_and_grads_reference(shifted["E"], shifted["H"], shifted["O"], train)[0]
            )
        assert grads[name][index] == pytest.approx((values[0] - values[1]) / (2 * step), abs=1e-8)
