"""predict_grid's in-place time-sharing objective against the formula written out in numpy."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from toyforge.theory.timesharing import time_sharing_objective


def _reference(r_axis, p_axis, symmetric_loss, served_axis, served_loss):
    """``v + r (L - v) / s`` on every (point, served ratio), ``inf`` where ``s < r``."""
    n_r, n_p = symmetric_loss.shape
    ratio = np.broadcast_to(r_axis[:, None], (n_r, n_p)).reshape(-1)
    p = np.broadcast_to(p_axis[None, :], (n_r, n_p)).reshape(-1)
    served = np.concatenate(
        [ratio[:, None], np.broadcast_to(served_axis[None, :], (ratio.size, served_axis.size))],
        axis=1,
    )
    shared = np.broadcast_to(served_loss.T[None, :, :], (n_r, n_p, served_axis.size))
    own = symmetric_loss.reshape(-1)[:, None]
    values = np.concatenate([own, shared.reshape(ratio.size, -1)], axis=1)
    variance = p / 3.0 - p * p / 4.0
    objective = variance[:, None] + ratio[:, None] * (values - variance[:, None]) / served
    return served, np.where(served >= ratio[:, None], objective, np.inf)


@given(
    st.integers(1, 7),
    st.integers(1, 7),
    st.integers(1, 9),
    st.integers(0, 2**32 - 1),
)
def test_objective_is_bit_identical_to_the_formula(n_r, n_p, n_s, seed):
    rng = np.random.default_rng(seed)
    r_axis = np.sort(rng.uniform(1e-3, 1.0, n_r))
    p_axis = rng.uniform(1e-3, 1.0, n_p)
    served_axis = np.sort(rng.uniform(1e-3, 1.0, n_s))
    symmetric_loss = rng.uniform(0, 0.1, (n_r, n_p))
    served_loss = rng.uniform(0, 0.1, (n_s, n_p))
    args = (r_axis, p_axis, symmetric_loss, served_axis, served_loss)
    served, objective = time_sharing_objective(*args)
    expected_served, expected_objective = _reference(*args)
    np.testing.assert_array_equal(served, expected_served)
    np.testing.assert_array_equal(objective, expected_objective)
