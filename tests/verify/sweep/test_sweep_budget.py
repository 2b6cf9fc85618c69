"""Sweep specs are sized before they are expanded; a refused spec leaves no folder behind."""

from __future__ import annotations

import json

import pytest

from toyforge.core.budget import memory_limit_set_to
from toyforge.core.errors import CorruptFile, InvalidParameter
from toyforge.verify import sweep

TASK = "sweep_testtasks:noisy_square"


@pytest.mark.parametrize(
    "grid",
    [
        {"a": {"range": [0, 10**6]}, "b": {"range": [0, 10**6]}},  # 10^12 points
        {"a": {"linspace": [0.0, 1.0, 10**12]}},
        {"a": {"logspace": [1.0, 2.0, 10**15]}},
        {"a": {"range": [0, 10**18]}},
    ],
)
def test_huge_grids_are_refused_before_expansion(grid):
    with pytest.raises(InvalidParameter, match="would need"):
        sweep.SweepSpec.from_dict({"task": TASK, "grid": grid})


def test_product_of_expanded_axes_is_checked_too():
    axes = tuple(sweep.Axis(name=f"a{i}", values=tuple(range(100))) for i in range(6))
    with pytest.raises(InvalidParameter, match="grid=.*would need"):
        sweep.SweepSpec(task=TASK, axes=axes)


def test_max_memory_lowers_the_limit():
    spec = {"task": TASK, "grid": {"x": {"range": [0, 1000]}}}
    assert sweep.SweepSpec.from_dict(spec).n_points == 1000
    with memory_limit_set_to(2**20), pytest.raises(InvalidParameter, match="1.0 MiB"):
        sweep.SweepSpec.from_dict(spec)


def test_range_with_step_zero_is_refused():
    with pytest.raises(InvalidParameter, match="step"):
        sweep.expand_axis("x", {"range": [0, 5, 0]})


def test_negative_seed_is_refused_before_the_folder_exists(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(InvalidParameter, match="seed"):
        sweep.run_sweep({"task": TASK, "grid": {"x": [1.0], "seed": [0, -1]}}, out)
    assert not out.exists()


def test_a_folder_whose_tasks_all_failed_takes_the_corrected_spec(tmp_path):
    out = tmp_path / "out"
    bad = {"task": "sweep_testtasks:fail_on_negative", "grid": {"x": [-1.0, -2.0]}}
    summary = sweep.run_sweep(bad, out, executor=sweep.InProcessExecutor())
    assert summary.status.n_failed == 2
    good = {**bad, "grid": {"x": [1.0, 2.0]}}
    summary = sweep.run_sweep(good, out, executor=sweep.InProcessExecutor())
    assert (summary.status.n_tasks, summary.status.n_done) == (2, 2)
    assert [row["x"] for row in sweep.read_table(summary.table_path)] == [1.0, 2.0]


def test_a_folder_without_records_takes_the_corrected_spec(tmp_path):
    out = tmp_path / "out"
    bad = {"task": TASK, "grid": {"x": [1.0]}, "fixed": {"n": 0}}
    sweep.plan_sweep(bad, out)  # the folder exists, no task has run
    good = {**bad, "fixed": {"n": 4}}
    summary = sweep.run_sweep(good, out, executor=sweep.InProcessExecutor())
    assert summary.status.n_done == 1
    assert sweep.stored_spec(out) == sweep.SweepSpec.from_dict(good)
    with pytest.raises(InvalidParameter, match="differ"):  # now it holds a record
        sweep.run_sweep(bad, out)


@pytest.mark.parametrize(
    ("name", "text", "error"),
    [
        ("deep.json", "[" * 100_000 + "]" * 100_000, CorruptFile),
        ("long.json", '{"task": "predict", "grid": {"x": [' + "9" * 5000 + "]}}", CorruptFile),
        ("not-utf8.toml", b"\xff\xfe task", CorruptFile),
        ("spec.yaml", "task: predict", InvalidParameter),
        ("list.json", "[1, 2]", InvalidParameter),
    ],
)
def test_malformed_spec_files(tmp_path, name, text, error):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(error):
        sweep.load_spec(path)


def test_a_folder_is_not_a_spec_and_a_file_is_not_a_sweep_folder(tmp_path):
    (tmp_path / "dir.toml").mkdir()
    with pytest.raises(InvalidParameter, match="existing file"):
        sweep.load_spec(tmp_path / "dir.toml")
    stored = tmp_path / "stored"
    (stored / "tasks").mkdir(parents=True)
    (stored / "sweep.json").write_text(json.dumps([1]))
    with pytest.raises(CorruptFile, match="stored sweep spec"):
        sweep.sweep_status(stored)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(InvalidParameter, match="--out"):
        sweep.plan_sweep({"task": TASK, "grid": {"x": [1]}}, a_file)
