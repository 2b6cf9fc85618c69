"""The model vocabulary: shape validation, forward passes against explicit formulas, arrays."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from toyforge.constructions.models import ARCHITECTURES, MLP, ModularAdditionMLP, ReluAutoencoder
from toyforge.core.errors import IncompatibleWeights, InvalidParameter


def _autoencoder(rng, n_features=6, n_hidden=3):
    return ReluAutoencoder(
        W_in=rng.normal(size=(n_hidden, n_features)),
        W_out=rng.normal(size=(n_features, n_hidden)),
        b=rng.normal(size=n_features),
    )


@given(st.integers(1, 7), st.integers(1, 7), st.integers(0, 2**31 - 1))
def test_autoencoder_forward_matches_loop(n_features, n_hidden, seed):
    rng = np.random.default_rng(seed)
    model = _autoencoder(rng, n_features, n_hidden)
    x = rng.random((4, n_features))
    expected = np.array(
        [
            [
                max(
                    0.0,
                    sum(
                        model.W_out[i, k] * model.W_in[k, j] * row[j]
                        for k in range(n_hidden)
                        for j in range(n_features)
                    )
                    + model.b[i],
                )
                for i in range(n_features)
            ]
            for row in x
        ]
    )
    np.testing.assert_allclose(model.forward(x), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(model.forward(x[0]), expected[0], rtol=1e-12, atol=1e-12)


def test_autoencoder_shape_errors_name_the_array():
    rng = np.random.default_rng(0)
    with pytest.raises(IncompatibleWeights, match="W_out has shape"):
        ReluAutoencoder(W_in=rng.normal(size=(3, 6)), W_out=rng.normal(size=(6, 4)), b=np.zeros(6))
    with pytest.raises(IncompatibleWeights, match="b has shape"):
        ReluAutoencoder(W_in=rng.normal(size=(3, 6)), W_out=rng.normal(size=(6, 3)), b=np.zeros(5))
    with pytest.raises(IncompatibleWeights, match="NaN"):
        ReluAutoencoder(W_in=np.full((3, 6), np.nan), W_out=np.zeros((6, 3)), b=np.zeros(6))


def test_tied_autoencoder():
    rng = np.random.default_rng(1)
    W_in = rng.normal(size=(2, 5))
    model = ReluAutoencoder.tied_from(W_in, np.zeros(5))
    assert model.n_parameters == 10 + 5
    with pytest.raises(IncompatibleWeights, match="tied"):
        ReluAutoencoder(W_in=W_in, W_out=W_in.T + 1, b=np.zeros(5), tied=True)


def test_round_trip_through_arrays():
    rng = np.random.default_rng(2)
    model = _autoencoder(rng)
    rebuilt = ReluAutoencoder.from_arrays(model.to_arrays(), model.hyperparameters())
    for name, array in model.to_arrays().items():
        np.testing.assert_array_equal(getattr(rebuilt, name), array)
    assert model.n_parameters == 18 + 18 + 6
    with pytest.raises(IncompatibleWeights, match="no arrays named"):
        ReluAutoencoder.from_arrays({**model.to_arrays(), "extra": np.zeros(2)})


def test_mlp_forward_and_embedding():
    rng = np.random.default_rng(3)
    embedding = rng.normal(size=(4, 9))
    model = MLP(
        W1=rng.normal(size=(5, 4)),
        b1=rng.normal(size=5),
        W2=rng.normal(size=(9, 5)),
        b2=rng.normal(size=9),
        activation="quadratic",
        output_relu=True,
        embedding=embedding,
    )
    x = rng.random((3, 9))
    expected = np.maximum(
        ((x @ embedding.T) @ model.W1.T + model.b1) ** 2 @ model.W2.T + model.b2, 0
    )
    np.testing.assert_allclose(model.forward(x), expected)
    assert model.n_features == 9 and model.n_parameters == 20 + 5 + 45 + 9
    with pytest.raises(InvalidParameter, match="activation"):
        MLP(W1=model.W1, b1=model.b1, W2=model.W2, b2=model.b2, activation="tanh")


def test_modular_addition_forms_agree():
    rng = np.random.default_rng(4)
    modulus, width, hidden = 7, 3, 5
    embedding, projection = rng.normal(size=(modulus, width)), rng.normal(size=(width, hidden))
    W_out = rng.normal(size=(hidden, modulus))
    factored = ModularAdditionMLP(W_out=W_out, embedding=embedding, projection=projection)
    direct = ModularAdditionMLP(W_out=W_out, W_in=embedding @ projection)
    a, b = np.arange(modulus), np.roll(np.arange(modulus), 2)
    np.testing.assert_allclose(factored.forward(a, b), direct.forward(a, b))
    expected = np.maximum((embedding @ projection)[a] + (embedding @ projection)[b], 0) @ W_out
    np.testing.assert_allclose(direct.forward(a, b), expected)
    with pytest.raises(IncompatibleWeights, match="either W_in"):
        ModularAdditionMLP(W_out=W_out)
    with pytest.raises(InvalidParameter, match="residues"):
        direct.forward(np.array([7]), np.array([0]))


def test_registry_names():
    assert {"relu-autoencoder", "mlp", "modular-addition-mlp"} <= set(ARCHITECTURES)
