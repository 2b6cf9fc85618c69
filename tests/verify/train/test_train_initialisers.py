"""Initial weights: the aligned scheme starts every output alive; torch starts about half silent."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toyforge.core.errors import InvalidParameter
from toyforge.verify.train.config import TrainConfig
from toyforge.verify.train.diagnostics import silent_feature_mask
from toyforge.verify.train.initialisers import init_relu_autoencoder
from toyforge.verify.train.runs import AutoencoderRun


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 64), m=st.integers(1, 64), seed=st.integers(0, 2**32 - 1))
def test_aligned_starts_every_output_alive(n, m, seed):
    model = init_relu_autoencoder(n, m, seed=seed, scheme="aligned")
    torch_like = init_relu_autoencoder(n, m, seed=seed, scheme="torch")
    # Same first layer as the torch scheme; W_out is its rescaled transpose, b = 0.
    np.testing.assert_array_equal(model.W_in, torch_like.W_in)
    np.testing.assert_allclose(model.W_out, math.sqrt(n / m) * model.W_in.T, rtol=1e-15)
    assert not model.b.any()
    assert not silent_feature_mask(model).any()
    # Entries keep the torch scheme's range ±1/√m.
    assert np.abs(model.W_out).max() <= 1 / math.sqrt(m) * (1 + 1e-12)


def test_torch_starts_about_half_silent():
    """b ~ U(±1/√m) dominates the tiny (W_out W_in)_ii: P(silent) ≈ 1/2 at n = 4096.

    Binomial(4096, ~1/2): SE ≈ 0.0078; the band 0.5 ± 0.05 is over 6 SE wide each side, and
    the exact probability is a little under 1/2 (silence needs d + b ≤ 0 too)."""
    model = init_relu_autoencoder(4096, 64, seed=0, scheme="torch")
    fraction = silent_feature_mask(model).mean()
    assert 0.45 <= fraction <= 0.55


def test_tied_aligned_and_bad_scheme():
    tied = init_relu_autoencoder(8, 3, seed=1, tied=True, scheme="aligned")
    np.testing.assert_array_equal(tied.W_out, tied.W_in.T)
    assert not tied.b.any()
    with pytest.raises(InvalidParameter, match="scheme"):
        init_relu_autoencoder(8, 3, scheme="kaiming")
    config = TrainConfig(steps=1)
    assert AutoencoderRun(n_features=8, ratio=0.5, feature_prob=0.1, train=config).init == "aligned"
    with pytest.raises(InvalidParameter, match="init"):
        AutoencoderRun(n_features=8, ratio=0.5, feature_prob=0.1, train=config, init="kaiming")
