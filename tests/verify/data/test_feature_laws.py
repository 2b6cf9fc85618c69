"""Per-feature laws and their text forms (toyforge.verify.data.laws)."""

from __future__ import annotations

import numpy as np
import pytest

from toyforge.core.errors import InvalidParameter
from toyforge.verify.data.laws import FeatureLaw, MagnitudeLaw, parse_law, parse_magnitudes


def test_constant_and_bare_number():
    np.testing.assert_array_equal(parse_law("constant:0.05").values(4), np.full(4, 0.05))
    np.testing.assert_array_equal(parse_law("0.05").values(3), np.full(3, 0.05))


def test_zipf_with_range_hits_both_ends_and_is_a_power_law():
    law = parse_law("zipf:1.2:0.4:5e-4")
    values = law.values(1000)
    assert values[0] == pytest.approx(0.4, rel=1e-14)
    assert values[-1] == pytest.approx(5e-4, rel=1e-12)
    # p(t) = max (1 + t k)^(-a): log p is linear in log(1 + t k) with slope -a
    k = (0.4 / 5e-4) ** (1 / 1.2) - 1
    t = np.arange(1000) / 999
    slope = np.polyfit(np.log1p(t * k), np.log(values), 1)[0]
    assert slope == pytest.approx(-1.2, abs=1e-10)
    assert np.all(np.diff(values) < 0)


def test_pure_zipf_and_geometric_and_linear():
    np.testing.assert_allclose(parse_law("zipf:2:0.5").values(3), [0.5, 0.125, 0.5 / 9])
    np.testing.assert_allclose(
        parse_law("geometric:0.9", role="importance").values(4), [1, 0.9, 0.81, 0.729]
    )
    np.testing.assert_allclose(parse_law("linear:0.1:0.3").values(3), [0.1, 0.2, 0.3])
    assert parse_law("linear:0.1:0.3").values(1)[0] == 0.1


def test_file_law(tmp_path):
    path = tmp_path / "p.npy"
    np.save(path, np.array([0.1, 0.2, 0.3]))
    law = parse_law(f"file:{path}")
    np.testing.assert_array_equal(law.values(3), [0.1, 0.2, 0.3])
    with pytest.raises(InvalidParameter, match="one per feature"):
        law.values(4)


def test_file_law_refuses_pickles_and_other_files(tmp_path):
    path = tmp_path / "obj.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InvalidParameter, match="feature_probs"):
        parse_law(f"file:{path}")
    with pytest.raises(InvalidParameter, match=r"\.npy"):
        parse_law(f"file:{tmp_path / 'p.txt'}")
    with pytest.raises(InvalidParameter, match="readable"):
        parse_law(f"file:{tmp_path / 'missing.npy'}")


@pytest.mark.parametrize(
    "text",
    [
        "0",
        "1.5",
        "-0.1",
        "nan",
        "constant:2",
        "linear:0.5:1.5",
        "linear:-0.1:0.5",
        "zipf:0:0.4",
        "zipf:1:2:0.1",
        "zipf:1:0.1:0.4",
        "zipf:1:0.4:0",
        "geometric:1.5",
        "bogus:1",
        "zipf:a:b",
        "",
        "constant:0.1:0.2",
        "constant:inf",
    ],
)
def test_impossible_probability_laws_are_refused(text):
    with pytest.raises(InvalidParameter, match="feature_probs"):
        parse_law(text).values(50)


@pytest.mark.parametrize("text", ["-1", "geometric:-0.5", "linear:1:-1", "constant:inf"])
def test_negative_or_infinite_importance_is_refused(text):
    with pytest.raises(InvalidParameter, match="importance"):
        parse_law(text, role="importance").values(5)


def test_importance_may_exceed_one():
    np.testing.assert_array_equal(parse_law("3", role="importance").values(2), [3.0, 3.0])


def test_error_names_the_flag():
    with pytest.raises(InvalidParameter, match="--feature-probs"):
        parse_law("1.5", name="--feature-probs")


def test_text_round_trip():
    law = parse_law("zipf:1.2:0.4:0.0005")
    assert parse_law(law.text()) == law
    assert FeatureLaw(kind="array", params=(0.1, 0.2)).text() == "array:2 values"


def test_magnitude_laws_moments_match_draws():
    rng = np.random.default_rng(0)
    for text in ("uniform", "constant", "exponential:0.7"):
        law = parse_magnitudes(text)
        draws = law.draw(rng, 200_000)
        mean, second = law.moments()
        # within 5 standard errors of the sample mean
        assert abs(draws.mean() - mean) < 5 * draws.std() / np.sqrt(draws.size) + 1e-15
        assert abs((draws**2).mean() - second) < 5 * (draws**2).std() / np.sqrt(draws.size) + 1e-15
    assert MagnitudeLaw(kind="exponential", mean=0.7).moments() == pytest.approx((0.7, 0.98))


@pytest.mark.parametrize("text", ["gauss", "exponential:-1", "exponential:x", "uniform:2", ""])
def test_bad_magnitude_laws(text):
    with pytest.raises(InvalidParameter, match="magnitudes"):
        parse_magnitudes(text)


@pytest.mark.parametrize(
    "text", ["0.1", "zipf:1.2:0.4:5e-4", "zipf:2:0.5", "linear:0.1:0.3", "geometric:0.9"]
)
def test_continuous_law_agrees_with_the_values_at_each_rank(text):
    law = parse_law(text, role="importance")
    n = 37
    np.testing.assert_allclose(law.continuous(n)(np.arange(n) / (n - 1)), law.values(n), rtol=1e-12)


def test_continuous_array_law_is_a_step_function():
    law = FeatureLaw(kind="array", params=(0.3, 0.2, 0.1))
    np.testing.assert_array_equal(
        law.continuous(3)(np.array([0.0, 0.2, 0.5, 1.0])), [0.3, 0.3, 0.2, 0.1]
    )
