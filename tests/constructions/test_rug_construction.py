"""Exact properties of the Persian-rug construction (docs/rug_construction.md#exact-properties),
refusals, io."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import hadamard

from toyforge.constructions.io import load, save
from toyforge.constructions.persian_rug import PersianRugAutoencoder, persian_rug
from toyforge.core.errors import IncompatibleWeights, InvalidParameter
from toyforge.theory.large_n_loss import symmetric_optimum


@pytest.mark.parametrize(
    ("n", "ratio", "seed"),
    [(64, 0.25, 0), (256, 0.1, 1), (128, 0.5, 5), (32, 1.0, 0), (16, 0.01, 2)],
)
def test_exact_properties_of_w(n: int, ratio: float, seed: int) -> None:
    model = persian_rug(n, ratio, 0.05, seed)
    n_hidden = max(int(np.floor(ratio * n)), 1)
    assert model.n_hidden == n_hidden
    # independent dense construction from scipy's Hadamard matrix
    w_in = hadamard(n)[model.rows].astype(float)
    matrix = w_in.T @ w_in / n_hidden
    np.testing.assert_allclose(model.effective_matrix(), matrix, atol=1e-12)
    r_eff = n_hidden / n
    off = matrix - np.diag(np.diag(matrix))
    np.testing.assert_allclose(np.diag(matrix), 1.0, atol=1e-12)
    np.testing.assert_allclose((off**2).sum(axis=1), 1 / r_eff - 1, atol=1e-10)
    expected_sum = (1 / r_eff) * float(0 in model.rows) - 1
    np.testing.assert_allclose(off.sum(axis=1), expected_sum, atol=1e-10)
    np.testing.assert_allclose(matrix, matrix.T, atol=1e-14)
    assert np.linalg.matrix_rank(matrix) == n_hidden


def test_scale_and_bias_follow_the_theory_exactly() -> None:
    for seed in range(12):
        model = persian_rug(256, 0.25, 0.05, seed)
        optimum = symmetric_optimum(model.ratio, 0.05)
        mu0 = 0.05 / 2 * ((1 / model.ratio) * float(model.contains_row_zero) - 1)
        assert model.scale == pytest.approx(float(optimum.scale), rel=1e-12)
        assert model.bias == pytest.approx(float(optimum.scale * (optimum.c - mu0)), rel=1e-12)
        assert model.mean_interference(0.05) == pytest.approx(mu0)


def test_row_zero_changes_the_bias_offset() -> None:
    models = [persian_rug(16, 0.5, 0.1, seed) for seed in range(20)]
    with_zero = [m for m in models if m.contains_row_zero]
    without = [m for m in models if not m.contains_row_zero]
    assert with_zero and without
    # mu0 differs by (p/2)/r = 0.1: bias differs by scale * 0.1
    gap = without[0].bias - with_zero[0].bias
    assert gap == pytest.approx(with_zero[0].scale * 0.1, rel=1e-9)


def test_matrix_free_forward_equals_materialised_dense_forward() -> None:
    model = persian_rug(256, 0.2, 0.05, 3)
    dense = model.materialize()
    x = np.random.default_rng(0).random((5, 256)) * (
        np.random.default_rng(1).random((5, 256)) < 0.1
    )
    np.testing.assert_allclose(model.forward(x), dense.forward(x), atol=1e-12)
    np.testing.assert_allclose(model.forward(x[0]), dense.forward(x[0]), atol=1e-12)


def test_crop_and_block_average() -> None:
    model = persian_rug(64, 0.25, 0.05, 0)
    full = model.effective_matrix()
    np.testing.assert_allclose(model.matrix_crop(16), full[:16, :16])
    blocks = full.reshape(8, 8, 8, 8).mean(axis=(1, 3))
    np.testing.assert_allclose(model.block_average(8), blocks, atol=1e-14)


def test_min_skewness_selection_has_lowest_third_moment() -> None:
    chosen = persian_rug(256, 0.25, 0.05, 4, selection="min-skewness", n_candidates=8)
    random_draws = [persian_rug(256, 0.25, 0.05, seed) for seed in range(8)]
    third = [float(np.sum(m.offdiagonal_weights() ** 3)) for m in random_draws]
    assert float(np.sum(chosen.offdiagonal_weights() ** 3)) <= np.median(third)
    first = persian_rug(64, 0.25, 0.05, selection="first")
    np.testing.assert_array_equal(first.rows, np.arange(16))


@pytest.mark.parametrize(
    ("n", "nearest"), [(1000, "512 or 1024"), (3, "2 or 4"), (1536, "1024 or 2048")]
)
def test_non_power_of_two_is_refused_with_nearest_sizes(n: int, nearest: str) -> None:
    with pytest.raises(InvalidParameter, match=nearest):
        persian_rug(n, 0.1, 0.01)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("ratio", {"ratio": 0.0}),
        ("ratio", {"ratio": 1.5}),
        ("feature_prob", {"feature_prob": 0}),
        ("selection", {"selection": "best"}),
        ("seed", {"seed": -1}),
    ],
)
def test_bad_parameters_are_refused(name: str, kwargs: dict) -> None:
    arguments = {"n_features": 64, "ratio": 0.25, "feature_prob": 0.05, **kwargs}
    with pytest.raises(InvalidParameter, match=name):
        persian_rug(**arguments)


def test_too_large_to_materialise_is_refused_clearly() -> None:
    model = persian_rug(2**20, 0.1, 0.01, 0)
    with pytest.raises(InvalidParameter, match="GiB"):
        model.materialize()
    with pytest.raises(InvalidParameter, match="matrix-free"):
        model.effective_matrix()
    assert model.dense_bytes() > 2**40
    small = persian_rug(64, 0.25, 0.05, 0)
    with pytest.raises(InvalidParameter):
        small.materialize(max_bytes=100)


def test_save_load_roundtrip_keeps_matrix_free_form(tmp_path) -> None:
    model = persian_rug(1024, 0.1, 0.01, 7)
    path = save(model, tmp_path / "rug.npz")
    with np.load(path, allow_pickle=False) as archive:
        assert {"rows", "scale", "bias", "config"} <= set(archive.files)
        assert archive["rows"].shape == (102,)
    loaded = load(path)
    assert isinstance(loaded, PersianRugAutoencoder)
    np.testing.assert_array_equal(loaded.rows, model.rows)
    assert (loaded.scale, loaded.bias, loaded.n_features) == (model.scale, model.bias, 1024)
    assert loaded.hyperparameters() == model.hyperparameters()


def test_invalid_arrays_are_incompatible() -> None:
    with pytest.raises(IncompatibleWeights):
        PersianRugAutoencoder(rows=np.array([1, 1]), scale=1.0, bias=0.0, n_features=8)
    with pytest.raises(IncompatibleWeights):
        PersianRugAutoencoder(rows=np.array([9]), scale=1.0, bias=0.0, n_features=8)
    with pytest.raises(IncompatibleWeights):
        PersianRugAutoencoder(rows=np.array([1]), scale=1.0, bias=0.0, n_features=12)
    with pytest.raises(IncompatibleWeights):
        PersianRugAutoencoder.from_arrays(
            {"rows": np.array([1]), "W": np.ones(2)}, {"n_features": 8}
        )
