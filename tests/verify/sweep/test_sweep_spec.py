"""Sweep specs: axis syntax, validation, content hashes, seeds, the shipped example specs."""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from toyforge.core.errors import CorruptFile, InvalidParameter
from toyforge.verify import sweep

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "sweeps"
TEST_TASK = "sweep_testtasks:noisy_square"


def spec_dict(**changes):
    base = {
        "task": TEST_TASK,
        "grid": {"x": [1, 2, 3], "seed": {"range": [0, 2]}},
        "fixed": {"n": 8},
    }
    return {**base, **changes}


def independent_hash(task, params):
    """The documented hash, computed here without the library."""
    payload = json.dumps(
        {"params": params, "schema": 1, "task": task}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- axes


def test_linspace_logspace_range_list_and_scalar_axes():
    assert np.allclose(
        sweep.expand_axis("a", {"linspace": [0.002001, 0.8, 20]}),
        np.linspace(0.002001, 0.8, 20),
        rtol=1e-12,
        atol=0,
    )
    assert np.allclose(
        sweep.expand_axis("a", {"logspace": [1e-3, 1.0, 4]}),
        [1e-3, 1e-2, 1e-1, 1.0],
        rtol=1e-12,
        atol=0,
    )
    assert sweep.expand_axis("a", {"range": [0, 5]}) == (0, 1, 2, 3, 4)
    assert sweep.expand_axis("a", {"range": [1, 10, 4]}) == (1, 5, 9)
    assert sweep.expand_axis("a", [128, 1024]) == (128, 1024)
    assert sweep.expand_axis("a", "x") == ("x",)


def test_generated_values_are_rounded_to_12_digits():
    values = sweep.expand_axis("a", {"linspace": [0.0, 1.0, 11]})
    assert values[3] == 0.3  # np.linspace gives 0.30000000000000004


@pytest.mark.parametrize(
    "raw",
    [
        [],
        [1, 1],
        {"linspace": [0, 1]},
        {"linspace": [0, 1, 0]},
        {"logspace": [0, 1, 3]},
        {"range": [0.5, 3]},
        {"geomspace": [1, 2, 3]},
        {"linspace": [0, 1, 2], "range": [0, 1]},
        [float("nan")],
        [{"nested": 1}],
        {"linspace": ["a", "b", 3]},
    ],
)
def test_bad_axes_are_refused(raw):
    with pytest.raises(InvalidParameter):
        sweep.expand_axis("a", raw)


def test_grid_is_the_product_in_axis_order_last_axis_fastest():
    spec = sweep.SweepSpec.from_dict({"task": TEST_TASK, "grid": {"x": [1, 2, 3], "y": ["a", "b"]}})
    points = spec.points()
    assert spec.n_points == 6
    assert [(p.axis_values["x"], p.axis_values["y"]) for p in points] == list(
        itertools.product([1, 2, 3], ["a", "b"])
    )
    assert [p.index for p in points] == list(range(6))


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "changes",
    [
        {"unknown": 1},
        {"task": "no-such-task"},
        {"task": "module.without.function"},
        {"grid": {}},
        {"grid": {"bad name": [1]}},
        {"grid": {"x": [1], "status": [1]}},
        {"grid": {"x": [1], "n": [1, 2]}},
        {"fixed": {"n": {"nested": 1}}},
        {"save_models": "yes"},
    ],
)
def test_bad_specs_are_refused(changes):
    with pytest.raises(InvalidParameter):
        sweep.SweepSpec.from_dict(spec_dict(**changes))


def test_missing_task_or_grid_is_refused():
    with pytest.raises(InvalidParameter, match="task"):
        sweep.SweepSpec.from_dict({"grid": {"x": [1]}})


def test_load_spec_errors_name_the_file(tmp_path):
    with pytest.raises(InvalidParameter, match="existing file"):
        sweep.load_spec(tmp_path / "missing.toml")
    wrong = tmp_path / "spec.yaml"
    wrong.write_text("task: x\n")
    with pytest.raises(InvalidParameter, match=r"\.toml or \.json"):
        sweep.load_spec(wrong)
    broken = tmp_path / "broken.toml"
    broken.write_text("task = \n")
    with pytest.raises(CorruptFile, match="broken.toml"):
        sweep.load_spec(broken)


def test_toml_and_json_specs_give_the_same_points(tmp_path):
    toml = tmp_path / "s.toml"
    toml.write_text(
        'task = "sweep_testtasks:noisy_square"\n[grid]\n'
        "x = { linspace = [0.0, 1.0, 3] }\nseed = { range = [0, 2] }\n"
        "[fixed]\nn = 8\n"
    )
    as_json = tmp_path / "s.json"
    as_json.write_text(
        json.dumps(
            {"task": TEST_TASK, "fixed": {"n": 8}, "grid": {"x": [0.0, 0.5, 1.0], "seed": [0, 1]}}
        )
    )
    left, right = sweep.load_spec(toml), sweep.load_spec(as_json)
    assert [p.hash for p in left.points()] == [p.hash for p in right.points()]
    assert left.to_dict() == right.to_dict()


# --------------------------------------------------------------------------- hash and seed


def test_hash_is_sha256_of_canonical_json_of_task_params_and_schema():
    params = {"x": 0.5, "n": 8, "seed": 3}
    assert sweep.SCHEMA_VERSION == 1
    assert sweep.task_hash(TEST_TASK, params) == independent_hash(TEST_TASK, params)
    reordered = {"seed": 3, "n": 8, "x": 0.5}
    assert sweep.task_hash(TEST_TASK, reordered) == sweep.task_hash(TEST_TASK, params)
    assert sweep.task_hash("predict", params) != sweep.task_hash(TEST_TASK, params)
    assert sweep.task_hash(TEST_TASK, {**params, "x": 0.25}) != sweep.task_hash(TEST_TASK, params)


def test_point_hash_covers_fixed_settings_and_seed_comes_from_axis_or_hash():
    with_seed = sweep.SweepSpec.from_dict(spec_dict())
    point = with_seed.points()[3]
    assert dict(point.params) == {"n": 8, "x": 2, "seed": 1}
    assert point.hash == independent_hash(TEST_TASK, {"n": 8, "x": 2, "seed": 1})
    assert point.seed == 1
    without_seed = sweep.SweepSpec.from_dict(spec_dict(grid={"x": [1, 2]}))
    for point in without_seed.points():
        assert point.seed == int(independent_hash(TEST_TASK, dict(point.params))[:8], 16)


# --------------------------------------------------------------------------- shipped examples


def test_every_example_spec_loads():
    paths = sorted(EXAMPLES.glob("*.toml")) + sorted(EXAMPLES.glob("*.json"))
    assert len(paths) >= 2
    for path in paths:
        spec = sweep.load_spec(path)
        assert spec.n_points >= 1
        assert len({p.hash for p in spec.points()}) == spec.n_points


def test_paper_grid_example_is_the_papers_grid():
    spec = sweep.load_spec(EXAMPLES / "paper_grid.toml")
    axes = {axis.name: axis.values for axis in spec.axes}
    grid = np.linspace(0.002001, 0.8, 20)  # docs/large_n_theory.md#paper-grid-and-training-recipe
    assert np.allclose(axes["ratio"], grid, rtol=1e-12, atol=0)
    assert np.allclose(axes["feature_prob"], grid, rtol=1e-12, atol=0)
    assert axes["n_features"] == (128, 1024, 8192)
