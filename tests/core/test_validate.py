from __future__ import annotations

import math

import numpy as np
import pytest

from toyforge.core.errors import InvalidParameter
from toyforge.core.validate import (
    as_rng,
    check_choice,
    check_int,
    check_interval,
    check_probability,
    check_real,
)


def test_interval_messages_name_the_parameter():
    with pytest.raises(InvalidParameter, match=r"ratio=1\.5 is invalid: allowed is 0 < ratio <= 1"):
        check_interval("ratio", 1.5, 0.0, 1.0, low_open=True)
    assert check_interval("ratio", 1, 0.0, 1.0, low_open=True) == 1.0


@pytest.mark.parametrize("bad", [math.nan, math.inf, "0.3", None, True])
def test_real_refuses_non_numbers(bad):
    with pytest.raises(InvalidParameter):
        check_real("x", bad)


def test_probability_and_int_and_choice():
    assert check_probability("p", 1.0) == 1.0
    with pytest.raises(InvalidParameter):
        check_probability("p", 0.0)
    assert check_int("n", np.int64(4), minimum=1) == 4
    with pytest.raises(InvalidParameter):
        check_int("n", 4.0)
    with pytest.raises(InvalidParameter, match="one of 'a', 'b'"):
        check_choice("mode", "c", ("a", "b"))


def test_rng_is_reproducible():
    assert as_rng(3).random() == as_rng(3).random()
    generator = np.random.default_rng(0)
    assert as_rng(generator) is generator
    with pytest.raises(InvalidParameter):
        as_rng(-1)
