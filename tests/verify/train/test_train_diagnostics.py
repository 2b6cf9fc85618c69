"""Silent features: the mask against the model's own forward pass, and the trainer's count."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from toyforge.constructions.models import ReluAutoencoder
from toyforge.core.errors import InvalidParameter
from toyforge.verify.train.config import TrainConfig
from toyforge.verify.train.diagnostics import silent_feature_mask, silent_features
from toyforge.verify.train.runs import AutoencoderRun, train_run

# Multiples of 1/4: no value lands within rounding of the b = 0 or d + b = 0 boundaries by accident.
_QUARTERS = st.integers(-8, 8).map(lambda k: k / 4)


def _forward_reference(model: ReluAutoencoder) -> np.ndarray:
    """Silent iff the feature's own output is 0 at x_i in {1e-6, 1/2, 1} with nothing else on.

    The output is ReLU(x d + b), linear in x inside the ReLU, so its largest value on (0, 1]
    is at an end: 1e-6 stands for the open end 0+ (|d| <= 64 here, so 1e-6·d cannot flip the
    sign of a non-zero b, a multiple of 1/4).
    """
    n = model.n_features
    silent = np.ones(n, dtype=bool)
    for value in (1e-6, 0.5, 1.0):
        outputs = model.forward(value * np.eye(n))
        silent &= np.diagonal(outputs) == 0.0
    return silent


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 6),
    m=st.integers(1, 4),
    data=st.data(),
)
def test_mask_matches_the_forward_pass(n, m, data):
    W_in = data.draw(arrays(np.float64, (m, n), elements=_QUARTERS))
    W_out = data.draw(arrays(np.float64, (n, m), elements=_QUARTERS))
    b = data.draw(arrays(np.float64, (n,), elements=_QUARTERS))
    model = ReluAutoencoder(W_in=W_in, W_out=W_out, b=b)
    expected = _forward_reference(model)
    np.testing.assert_array_equal(silent_feature_mask(model), expected)
    assert silent_features(model) == int(expected.sum())


def test_hand_cases():
    # d = 1 for every feature (W_out W_in = I); biases pick the four cases.
    W = np.eye(4)
    b = np.array([-2.0, -1.0, -0.5, 0.5])
    model = ReluAutoencoder(W_in=W, W_out=W, b=b)
    np.testing.assert_array_equal(silent_feature_mask(model), [True, True, False, False])
    tied = ReluAutoencoder.tied_from(np.eye(4), b)
    assert silent_features(tied) == 2


def test_refuses_other_models():
    with pytest.raises(InvalidParameter, match="model"):
        silent_features(object())


def test_training_result_carries_the_count():
    run = AutoencoderRun(
        n_features=32, ratio=0.25, feature_prob=0.05, train=TrainConfig(steps=50, batch_size=64)
    )
    result = train_run(run)
    assert result.silent_features == silent_features(result.model)
    assert result.summary()["silent_features"] == result.silent_features
