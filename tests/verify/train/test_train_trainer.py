"""The public trainer: reproducibility, backends, data sources, history, checkpoints, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from toyforge.cli import main
from toyforge.constructions.io import load
from toyforge.constructions.models import ReluAutoencoder
from toyforge.core.errors import InvalidParameter
from toyforge.verify.train.autoencoder import (
    FixedData,
    GeneratedData,
    SparseFeatureData,
    TrainConfig,
    TrainHistory,
    init_mlp,
    init_relu_autoencoder,
    train,
)
from toyforge.verify.train.gradients import model_loss
from toyforge.verify.train.optim import AdamConfig, warmup_cosine_schedule

AE_DATA = SparseFeatureData(n_features=24, feature_prob=0.1)


def _config(**changes):
    base = dict(steps=30, batch_size=32, optimizer=AdamConfig(lr=1e-2), log_every=5)
    return TrainConfig(**{**base, **changes})


def test_same_seed_gives_identical_weights_and_other_seed_differs():
    model = init_relu_autoencoder(24, 6, seed=1)
    first = train(model, AE_DATA, _config(seed=3))
    second = train(model, AE_DATA, _config(seed=3))
    third = train(model, AE_DATA, _config(seed=4))
    for name, array in first.model.to_arrays().items():
        np.testing.assert_array_equal(array, second.model.to_arrays()[name])
    assert not np.array_equal(first.model.W_in, third.model.W_in)
    np.testing.assert_array_equal(first.history.train_loss, second.history.train_loss)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_kernel_backend_equals_numpy_backend(dtype):
    """Same data stream, same Adam: the sparse-aware kernel path reproduces the reference."""
    model = init_relu_autoencoder(24, 6, seed=2)
    config = _config(
        dtype=dtype,
        dense_threshold=0.3,
        optimizer=AdamConfig(lr=1e-2, weight_decay=0.01),
        schedule=warmup_cosine_schedule(30, 5),
    )
    fast = train(model, AE_DATA, config)
    reference = train(
        model,
        AE_DATA,
        _config(
            dtype=dtype,
            dense_threshold=0.3,
            backend="numpy",
            optimizer=config.optimizer,
            schedule=config.schedule,
        ),
    )
    assert fast.backend == "kernel" and reference.backend == "numpy"
    assert fast.model.W_in.dtype == np.dtype(dtype)
    tolerance = 1e-10 if dtype == "float64" else 2e-4
    for name, array in fast.model.to_arrays().items():
        np.testing.assert_allclose(
            array,
            reference.model.to_arrays()[name],
            rtol=tolerance,
            atol=tolerance * 1e-2,
            err_msg=name,
        )


def test_training_lowers_held_out_loss_and_records_history():
    model = init_relu_autoencoder(24, 6, seed=0)
    result = train(
        model,
        AE_DATA,
        _config(steps=60, eval_every=20, eval_samples=2000, checkpoint_steps=(10, 60)),
    )
    history = result.history
    assert list(history.steps) == [5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60]
    evaluated = np.isfinite(history.eval_loss)
    assert list(history.steps[evaluated]) == [20, 40, 60]
    assert result.final_eval is not None
    assert result.final_eval.value == pytest.approx(history.eval_loss[-1])
    start = model_loss(model, AE_DATA.sample(np.random.default_rng(9), 4000, np.float64).to_dense())
    assert result.final_eval.value < start
    assert [c.step for c in result.checkpoints] == [10, 60]
    np.testing.assert_array_equal(result.checkpoints[-1].model.W_in, result.model.W_in)
    parsed = TrainHistory.from_csv(history.to_csv())
    np.testing.assert_allclose(parsed.train_loss, history.train_loss, rtol=1e-8)
    np.testing.assert_array_equal(parsed.steps, history.steps)


def _plain_adamw_tied(W, b, inputs, weights, steps, lr, weight_decay):
    """Independent reference: tied ``y = ReLU(Wᵀ W x + b)``, importance-weighted squared error
    summed over features and averaged over the batch, hand-written backward, torch AdamW
    (decoupled decay on every parameter, betas 0.9/0.999, eps 1e-8), full batch."""
    params = {"W": W.copy(), "b": b.copy()}
    moments = {name: (np.zeros_like(a), np.zeros_like(a)) for name, a in params.items()}
    batch = inputs.shape[0]
    for t in range(1, steps + 1):
        W, b = params["W"], params["b"]
        hidden = inputs @ W.T
        pre = hidden @ W + b
        G = 2.0 * weights * (np.maximum(pre, 0.0) - inputs) * (pre > 0) / batch
        grads = {"W": hidden.T @ G + (G @ W.T).T @ inputs, "b": G.sum(axis=0)}
        for name, param in params.items():
            m, v = moments[name]
            m[:] = 0.9 * m + 0.1 * grads[name]
            v[:] = 0.999 * v + 0.001 * grads[name] ** 2
            param *= 1.0 - lr * weight_decay
            param -= lr / (1 - 0.9**t) * m / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    return params


@pytest.mark.parametrize("backend", ["kernel", "numpy"])
def test_tied_autoencoder_on_fixed_full_batch_matches_plain_numpy_loop(backend):
    """The TMS setting (tied weights, a fixed dataset, importance, AdamW, full batch) against
    a hand-written numpy training loop, step for step (float64, 200 steps), for the fused
    tied kernel (the default) and the numpy reference backend."""
    rng = np.random.default_rng(0)
    inputs = np.where(rng.random((40, 8)) < 0.3, rng.random((40, 8)), 0.0)
    importance = tuple(0.9 ** np.arange(8))
    model = init_relu_autoencoder(8, 2, seed=0, tied=True, scheme="xavier_normal")
    config = TrainConfig(
        steps=200,
        batch_size=None,
        importance=importance,
        optimizer=AdamConfig(lr=1e-2, weight_decay=1e-2),
        reduction="sum_features",
        dtype="float64",
        log_every=50,
        eval_every=200,
        backend=backend,
    )
    result = train(model, FixedData(inputs=inputs, test_inputs=inputs), config)
    assert result.model.tied and result.backend == backend and result.steps == 200
    weights = np.asarray(importance)
    expected = _plain_adamw_tied(model.W_in, model.b, inputs, weights, 200, 1e-2, 1e-2)
    # float64, same operations in a different order: agreement to ~1e-12 relative
    np.testing.assert_allclose(result.model.W_in, expected["W"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(result.model.b, expected["b"], rtol=1e-9, atol=1e-12)
    reference_model = ReluAutoencoder.tied_from(expected["W"], expected["b"])
    after = model_loss(reference_model, inputs, importance=weights, reduction="sum_features")
    assert result.final_eval.value == pytest.approx(after, rel=1e-9)
    assert after < model_loss(model, inputs, importance=weights, reduction="sum_features")


def test_mlp_cross_entropy_minibatches_learn_a_lookup_table():
    """The unembed-like setting: hidden size 2, cross-entropy, hard labels, minibatches."""
    classes = 4
    inputs = np.eye(classes)
    labels = np.arange(classes)
    model = init_mlp(classes, 2, classes, seed=0, activation="identity")
    config = TrainConfig(
        steps=400,
        batch_size=2,
        loss="cross_entropy",
        optimizer=AdamConfig(lr=5e-2),
        dtype="float64",
        log_every=100,
    )
    result = train(model, FixedData(inputs=inputs, targets=labels), config)
    assert np.array_equal(result.model.forward(inputs).argmax(axis=1), labels)
    assert result.history.train_loss[-1] < 0.5 * result.history.train_loss[0]


def test_mlp_with_fixed_embedding_on_generated_data():
    """The mlp-block setting: fixed random embedding, MSE autoencoding through fresh batches."""
    rng = np.random.default_rng(1)
    embedding = rng.normal(size=(6, 10)) / np.sqrt(10)
    model = init_mlp(6, 16, 10, seed=1, embedding=embedding)

    def sample(generator, size):
        x = np.where(generator.random((size, 10)) < 0.2, generator.random((size, 10)), 0.0)
        return x, x

    config = TrainConfig(
        steps=150,
        batch_size=64,
        optimizer=AdamConfig(lr=1e-2),
        dtype="float64",
        eval_every=150,
        eval_samples=500,
    )
    result = train(model, GeneratedData(sample=sample), config)
    np.testing.assert_array_equal(result.model.embedding, embedding)
    assert result.final_eval.value < result.history.train_loss[0]


def test_progress_callback_sees_every_step():
    calls = []
    train(
        init_relu_autoencoder(24, 6),
        AE_DATA,
        _config(steps=7),
        progress=lambda step, loss: calls.append(step),
    )
    assert calls == list(range(1, 8))


def test_invalid_settings_are_refused():
    with pytest.raises(InvalidParameter, match="steps"):
        TrainConfig(steps=0)
    with pytest.raises(InvalidParameter, match="checkpoint_steps"):
        TrainConfig(steps=5, checkpoint_steps=(9,))
    with pytest.raises(InvalidParameter, match="dtype"):
        TrainConfig(steps=5, dtype="float16")
    with pytest.raises(InvalidParameter, match="batch_size"):
        train(init_relu_autoencoder(24, 6), AE_DATA, TrainConfig(steps=2, batch_size=None))
    with pytest.raises(InvalidParameter, match="n_features"):
        train(init_relu_autoencoder(12, 6), AE_DATA, _config())
    with pytest.raises(InvalidParameter, match="backend"):
        train(init_relu_autoencoder(24, 6, tied=True), AE_DATA, _config(backend="kernel"))
    with pytest.raises(InvalidParameter, match="lr"):
        train(
            init_relu_autoencoder(24, 6),
            AE_DATA,
            _config(optimizer=AdamConfig(lr=1e300), dtype="float64"),
        )


def test_init_follows_torch_linear_bounds():
    model = init_relu_autoencoder(400, 25, seed=0)
    assert np.abs(model.W_in).max() <= 1 / np.sqrt(400)
    assert np.abs(model.W_out).max() <= 1 / np.sqrt(25)
    assert np.abs(model.b).max() <= 1 / np.sqrt(25)
    assert np.abs(model.W_in).max() > 0.9 / np.sqrt(400)


def test_cli_trains_saves_weights_and_history(tmp_path, capsys):
    out = tmp_path / "ae.npz"
    status = main(
        [
            "train",
            "relu-ae",
            "--features",
            "32",
            "--ratio",
            "0.25",
            "--feature-prob",
            "0.1",
            "--steps",
            "20",
            "--batch",
            "64",
            "--lr",
            "1e-2",
            "--eval-samples",
            "1000",
            "--out",
            str(out),
            "--json",
            "--no-progress",
        ]
    )
    assert status == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_hidden"] == 8 and summary["steps"] == 20
    # the rule checks every 200 steps: a 20-step budget ends unconverged, and says so
    assert summary["converged"] is False and summary["max_steps"] == 20
    assert summary["held_out_stderr"] > 0 and summary["steps_per_second"] > 0
    loaded = load(out)
    model = getattr(loaded, "model", loaded)
    assert model.W_in.shape == (8, 32)
    lines = (tmp_path / "ae.history.csv").read_text().splitlines()
    assert lines[0].startswith("step,train_loss") and len(lines) == 3


def test_cli_reports_bad_arguments_in_one_line(tmp_path, capsys):
    status = main(
        [
            "train",
            "relu-ae",
            "--features",
            "32",
            "--ratio",
            "1.5",
            "--feature-prob",
            "0.1",
            "--steps",
            "2",
            "--out",
            str(tmp_path / "x.npz"),
        ]
    )
    assert status == 2
    assert "--ratio" in capsys.readouterr().err


def test_cli_defaults_match_the_library_rule():
    """The command repeats the rule's defaults (it defers importing the trainer)."""
    from toyforge.commands import _train_relu_ae as command
    from toyforge.verify.train import convergence

    assert command.DEFAULT_TOL == convergence.DEFAULT_TOL
    assert command.DEFAULT_WINDOW == convergence.DEFAULT_WINDOW
    assert command.DEFAULT_PATIENCE == convergence.DEFAULT_PATIENCE


def test_cli_trains_several_grid_points_and_seeds_one_file_each(tmp_path, capsys):
    out = tmp_path / "ae.npz"
    argv = ["train", "relu-ae", "--features", "16", "--ratio", "0.25,0.5", "--feature-prob",
            "0.2", "--seeds", "3,4", "--max-steps", "2000", "--window", "50", "--lr", "2e-2",
            "--batch", "64", "--eval-samples", "500", "--out", str(out), "--json",
            "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    summaries = json.loads(capsys.readouterr().out)
    assert [(s["ratio"], s["seed"]) for s in summaries] == [
        (0.25, 3),
        (0.25, 4),
        (0.5, 3),
        (0.5, 4),
    ]
    for summary in summaries:
        assert summary["converged"] is True and summary["steps"] < 2000
        model = load(summary["out"])
        model = getattr(model, "model", model)
        assert model.W_in.shape == (int(16 * summary["ratio"]), 16)
    assert len(list(tmp_path.iterdir())) == 8  # weights + history per model
