"""evaluate(): Monte Carlo autoencoder loss and exact modular-addition metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from toyforge.constructions.models import ModularAdditionMLP, ReluAutoencoder
from toyforge.core.errors import InvalidParameter
from toyforge.verify.evaluate import (
    EVALUATORS,
    EvaluationRequest,
    SparseDataSpec,
    choose_path,
    evaluate,
    evaluate_autoencoder,
    evaluate_model,
    evaluate_modular_addition,
    reference_losses,
    register_evaluator,
)
from toyforge.verify.evaluate.estimate import Estimate

PATHS = ("hidden", "product", "dense")


def random_autoencoder(n_features=40, n_hidden=8, dtype=np.float64, bias=-0.2, seed=0):
    rng = np.random.default_rng(seed)
    W_in = rng.normal(size=(n_hidden, n_features)) / math.sqrt(n_hidden)
    W_out = rng.normal(size=(n_features, n_hidden)) / math.sqrt(n_hidden)
    b = bias + 0.1 * rng.normal(size=n_features)
    return ReluAutoencoder(W_in=W_in.astype(dtype), W_out=W_out.astype(dtype), b=b.astype(dtype))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("importance", [None, 0.7])
def test_monte_carlo_equals_dense_numpy_on_the_same_samples(path, dtype, importance):
    model = random_autoencoder(dtype=dtype)
    spec = SparseDataSpec(feature_prob=0.1, importance=importance)
    result = evaluate_autoencoder(
        model,
        EvaluationRequest(
            feature_prob=0.1,
            n_samples=1500,
            seed=5,
            batch_size=400,
            path=path,
            importance=importance,
        ),
    )
    losses = reference_losses(model, spec, 1500, seed=5, batch_size=400)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert result.loss == pytest.approx(losses.mean(), rel=rtol)
    assert result.stderr == pytest.approx(losses.std(ddof=1) / math.sqrt(1500), rel=1e-4)
    assert result.path == path and result.n_samples == 1500
    assert 0 < result.positive_fraction < 1


def independent_dense_estimate(model, feature_prob, n_samples, seed):
    """Per-feature MSE from a plain-numpy sampler unrelated to the CSR kernel."""
    rng = np.random.default_rng(seed)
    x = np.where(
        rng.random((n_samples, model.n_features)) < feature_prob,
        rng.random((n_samples, model.n_features)),
        0.0,
    )
    y = np.maximum(x @ model.W_in.T @ model.W_out.T + model.b, 0.0)
    per_sample = ((y - x) ** 2).mean(axis=1)
    return per_sample.mean(), per_sample.std(ddof=1) / math.sqrt(n_samples)


@pytest.mark.parametrize("path", ["hidden", "product"])
def test_agrees_with_an_independent_dense_estimate_within_4_se(path):
    model = random_autoencoder(n_features=60, n_hidden=10)
    estimate = evaluate(
        model, SparseDataSpec(feature_prob=0.08), n_samples=20_000, seed=1, path=path
    )
    value, stderr = independent_dense_estimate(model, 0.08, 20_000, seed=99)
    assert abs(estimate.value - value) < 4 * math.hypot(estimate.stderr, stderr)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("constant", [0.0, 0.3])
def test_constant_output_model_has_the_closed_form_loss(path, constant):
    """W = 0, b = c: E(c − x)² = c² − c p + p/3 (docs/large_n_theory.md#model-data-and-loss: p/3 for
    predicting 0)."""
    n_features, p = 30, 0.2
    model = ReluAutoencoder(
        W_in=np.zeros((3, n_features)),
        W_out=np.zeros((n_features, 3)),
        b=np.full(n_features, constant),
    )
    estimate = evaluate(model, SparseDataSpec(feature_prob=p), n_samples=20_000, seed=3, path=path)
    exact = constant**2 - constant * p + p / 3
    assert abs(estimate.z_score(exact)) < 4


def test_same_seed_same_estimate_and_paths_agree():
    model = random_autoencoder()
    spec = SparseDataSpec(feature_prob=0.1)
    first = evaluate(model, spec, n_samples=3000, seed=11)
    assert first == evaluate(model, spec, n_samples=3000, seed=11)
    assert first != evaluate(model, spec, n_samples=3000, seed=12)
    others = [evaluate(model, spec, n_samples=3000, seed=11, path=path) for path in PATHS]
    for other in others:
        assert other.value == pytest.approx(first.value, rel=1e-12)
    assert isinstance(first, Estimate) and first.n_samples == 3000


def test_choose_path_follows_the_documented_rule():
    # benchmark shapes (float32, 1e5 samples): product path everywhere (r/p >= 5)
    for n, r, p in [(1024, 0.1, 0.01), (1024, 0.25, 0.05), (4096, 0.1, 0.01), (4096, 0.1, 0.001)]:
        assert choose_path(n, int(r * n), p, 100_000, 4) == "product"
    assert choose_path(1024, 102, 0.05, 100_000, 4) == "hidden"  # r/p = 2
    assert choose_path(4096, 409, 0.01, 100, 4) == "hidden"  # M not amortised
    assert choose_path(16384, 1638, 1e-4, 10**7, 8) == "hidden"  # M would be 2 GiB


def test_bad_requests_are_refused():
    model = random_autoencoder()
    with pytest.raises(InvalidParameter, match="feature_prob"):
        evaluate(model, None, n_samples=100)
    with pytest.raises(InvalidParameter, match="path"):
        evaluate(model, SparseDataSpec(feature_prob=0.1), n_samples=100, path="fast")
    with pytest.raises(InvalidParameter, match="n_samples"):
        evaluate(model, SparseDataSpec(feature_prob=0.1), n_samples=1)
    with pytest.raises(InvalidParameter, match="feature_prob"):
        SparseDataSpec(feature_prob=0.0)


# --------------------------------------------------------------------------- modular addition


def tiny_modular_model(modulus=5, n_hidden=7, activation="relu", seed=0, untied=False):
    rng = np.random.default_rng(seed)
    return ModularAdditionMLP(
        W_in=rng.normal(size=(modulus, n_hidden)),
        W_out=rng.normal(size=(n_hidden, modulus)),
        W_in_right=rng.normal(size=(modulus, n_hidden)) if untied else None,
        activation=activation,
    )


def brute_force(model, pairs):
    """Loop over pairs, one forward call each: (accuracy, cross-entropy, margin)."""
    correct, ce, margin = 0, 0.0, math.inf
    for a, b in pairs:
        logits = model.forward(np.array([a]), np.array([b]))[0]
        target = (a + b) % model.modulus
        best_wrong = max(logits[c] for c in range(model.modulus) if c != target)
        gap = logits[target] - best_wrong
        correct += gap > 0
        ce += math.log(sum(math.exp(v) for v in logits)) - logits[target]
        margin = min(margin, gap)
    return correct / len(pairs), ce / len(pairs), margin


@pytest.mark.parametrize("activation", ["relu", "quadratic"])
@pytest.mark.parametrize("untied", [False, True])
def test_exact_enumeration_matches_a_brute_force_loop(activation, untied):
    model = tiny_modular_model(activation=activation, untied=untied)
    pairs = [(a, b) for a in range(5) for b in range(5)]
    report = evaluate_modular_addition(model, chunk_elements=7)  # several chunks
    accuracy, ce, margin = brute_force(model, pairs)
    assert report.accuracy == pytest.approx(accuracy)
    assert report.cross_entropy == pytest.approx(ce, rel=1e-12)
    assert report.margin == pytest.approx(margin, rel=1e-12)
    assert report.n_pairs == 25 and report.modulus == 5
    a, b = report.worst_pair
    assert brute_force(model, [(a, b)])[2] == pytest.approx(report.margin, rel=1e-12)


def test_restriction_to_a_subset_of_pairs():
    model = tiny_modular_model(seed=3)
    subset = np.array([[0, 1], [2, 4], [3, 3]])
    report = evaluate_modular_addition(model, subset)
    accuracy, ce, margin = brute_force(model, subset.tolist())
    assert (report.accuracy, report.n_pairs) == (pytest.approx(accuracy), 3)
    assert report.cross_entropy == pytest.approx(ce, rel=1e-12)
    assert report.margin == pytest.approx(margin, rel=1e-12)
    with pytest.raises(InvalidParameter):
        evaluate_modular_addition(model, np.array([[0, 5]]))


def test_a_perfect_lookup_model_has_accuracy_one_and_positive_margin():
    """Hidden neuron (a, b) fires only on its pair; the readout puts 1 on (a+b) mod p."""
    p = 4
    W_in = np.zeros((p, p * p))
    W_in_right = np.zeros((p, p * p))
    W_out = np.zeros((p * p, p))
    for a in range(p):
        for b in range(p):
            neuron = a * p + b
            W_in[a, neuron] = 1.0
            W_in_right[b, neuron] = 1.0
            W_in[:, neuron] -= 1.0  # pre-activation 1 only when both inputs match
            W_out[neuron, (a + b) % p] = 1.0
    model = ModularAdditionMLP(W_in=W_in, W_out=W_out, W_in_right=W_in_right)
    report = evaluate_modular_addition(model)
    assert report.accuracy == 1.0 and report.margin == pytest.approx(1.0)
    assert report.estimate.exact and report.estimate.value == pytest.approx(
        math.log(math.e + p - 1) - 1
    )


def test_registry_dispatch_and_custom_evaluator():
    assert {"relu-autoencoder", "modular-addition-mlp"} <= set(EVALUATORS)
    model = tiny_modular_model()
    report = evaluate_model(model, EvaluationRequest())
    assert report.n_pairs == 25
    assert evaluate(model).exact

    class Dummy:
        architecture = "test-dummy-architecture"

    with pytest.raises(InvalidParameter, match="evaluator"):
        evaluate(Dummy())
    try:
        register_evaluator(
            "test-dummy-architecture",
            lambda m, r: type(
                "R", (), {"estimate": Estimate(value=1.0, stderr=0.0, n_samples=1, exact=True)}
            )(),
        )
        assert evaluate(Dummy()).value == 1.0
        with pytest.raises(InvalidParameter):
            register_evaluator("test-dummy-architecture", lambda m, r: None)
    finally:
        EVALUATORS.pop("test-dummy-architecture", None)
