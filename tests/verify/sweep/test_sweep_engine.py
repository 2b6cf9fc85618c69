"""The sweep engine in-process: records, table, failures, resume, spec mismatch, storage."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from toyforge.core.errors import InvalidParameter, ToyforgeError
from toyforge.verify import sweep

HERE = Path(__file__).resolve().parent
GRID = {"x": [-1.0, 0.5, 2.0, 3.0], "seed": {"range": [0, 2]}}


@pytest.fixture(autouse=True)
def _test_tasks_importable(monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))


def spec(task="sweep_testtasks:fail_on_negative", **changes):
    return {"name": "engine", "task": task, "grid": GRID, "fixed": {"n": 8}, **changes}


def run(out, retry_failed=False, **changes):
    return sweep.run_sweep(
        spec(**changes), out, executor=sweep.InProcessExecutor(), retry_failed=retry_failed
    )


def expected_mean(seed, n=8):
    draws = np.random.default_rng(seed).random(n)
    return draws.mean(), draws.std(ddof=1) / math.sqrt(n)


def record_stats(out):
    return {
        path.name: (path.stat().st_ino, path.stat().st_mtime_ns, path.read_text())
        for path in (Path(out) / "tasks").glob("*.json")
    }


def test_run_writes_one_record_per_task_and_a_tidy_table(tmp_path):
    summary = run(tmp_path)
    status = summary.status
    assert (status.n_tasks, status.n_done, status.n_failed, status.n_pending) == (8, 6, 2, 0)
    assert summary.n_ran == 8 and summary.n_skipped == 0
    assert len(list((tmp_path / "tasks").glob("*.json"))) == 8
    rows = sweep.read_table(summary.table_path)
    assert [(row["x"], row["seed"]) for row in rows] == [(x, s) for x in GRID["x"] for s in (0, 1)]
    for row in rows:
        if row["x"] < 0:
            assert row["status"] == "failed" and row["error"] == "ValueError: negative x -1.0"
            assert row["square"] is None
            continue
        mean, stderr = expected_mean(row["seed"])
        assert row["status"] == "done" and row["error"] is None
        assert row["square"] == row["x"] ** 2
        assert row["mean"] == pytest.approx(mean, rel=1e-12)
        assert row["mean_stderr"] == pytest.approx(stderr, rel=1e-12)
        assert row["label"] == f"x={row['x']}"
        assert row["elapsed_s"] >= 0 and row["toyforge_version"]
    assert list(rows[0]) == [
        "hash",
        "status",
        "x",
        "seed",
        "square",
        "mean",
        "mean_stderr",
        "label",
        "elapsed_s",
        "cpu_s",
        "toyforge_version",
        "error",
    ]


def test_failed_record_holds_the_error_and_traceback(tmp_path):
    run(tmp_path)
    failed = [r for r in sweep.read_records(tmp_path).values() if r["status"] == "failed"]
    assert len(failed) == 2
    for record in failed:
        assert record["error"].startswith("ValueError")
        assert "fail_on_negative" in record["traceback"]
        assert record["run_id"] and record["schema_version"] == 1


def test_rerun_skips_finished_tasks_without_rewriting_them(tmp_path):
    run(tmp_path)
    before = record_stats(tmp_path)
    summary = run(tmp_path)
    assert summary.n_ran == 0 and summary.n_skipped == 8
    assert record_stats(tmp_path) == before


def test_retry_failed_reruns_only_the_failed_tasks(tmp_path):
    run(tmp_path)
    before = record_stats(tmp_path)
    summary = run(tmp_path, retry_failed=True)
    assert summary.n_ran == 2
    after = record_stats(tmp_path)
    changed = {name for name in before if before[name] != after[name]}
    failed = {
        f"{h}.json" for h, r in sweep.read_records(tmp_path).items() if r["status"] == "failed"
    }
    assert changed == failed


def test_a_different_spec_in_the_same_folder_is_refused(tmp_path):
    run(tmp_path)
    with pytest.raises(InvalidParameter, match=r"differ in \['fixed'\]"):
        sweep.run_sweep({**spec(), "fixed": {"n": 9}}, tmp_path)
    with pytest.raises(InvalidParameter, match="grid"):
        sweep.run_sweep({**spec(), "grid": {"x": [1.0]}}, tmp_path)


def test_the_spec_is_stored_and_copied(tmp_path):
    source = tmp_path / "s.json"
    source.write_text(json.dumps(spec()))
    out = tmp_path / "out"
    sweep.run_sweep(source, out, executor=sweep.InProcessExecutor())
    assert (out / "spec.json").read_text() == source.read_text()
    stored = json.loads((out / "sweep.json").read_text())
    assert stored["schema_version"] == 1
    assert stored["spec"]["grid"]["seed"] == [0, 1]
    assert sweep.stored_spec(out) == sweep.SweepSpec.from_dict(spec())


def test_pending_tasks_and_interrupted_writes(tmp_path):
    run(tmp_path)
    records = sorted((tmp_path / "tasks").glob("*.json"))
    records[0].unlink()
    records[1].write_text("{ half a rec")  # corrupt: counts as pending
    (tmp_path / "tasks" / ".abc.json.xyz.tmp").write_text("{")  # an interrupted atomic write
    status = sweep.sweep_status(tmp_path)
    assert status.n_pending == 2
    summary = run(tmp_path)
    assert summary.n_ran == 2 and summary.status.n_pending == 0


def test_task_outputs_that_cannot_be_stored_fail_the_task_not_the_sweep(tmp_path):
    summary = run(tmp_path, task="sweep_testtasks:bad_output")
    assert summary.status.n_failed == 8
    assert "ndarray" in summary.status.failures[0][2]


def test_outputs_named_like_a_parameter_fail_the_task(tmp_path):
    summary = run(tmp_path, task="sweep_testtasks:echo_x")
    assert summary.status.n_failed == 8
    assert "clash" in summary.status.failures[0][2]


def test_csv_table_when_pyarrow_is_missing_matches_parquet(tmp_path, monkeypatch):
    pytest.importorskip("pyarrow")
    parquet = run(tmp_path).table_path
    assert parquet.suffix == ".parquet"
    parquet_rows = sweep.read_table(parquet)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    csv_path = sweep.write_table(tmp_path)
    assert csv_path.name == "results.csv"
    assert sweep.same_results(sweep.read_table(csv_path), parquet_rows, ignore=())
    with pytest.raises(ToyforgeError, match="pyarrow"):
        sweep.write_table(tmp_path, table_format="parquet")


def test_models_are_saved_by_hash_when_asked(tmp_path):
    from toyforge.constructions.io import load

    summary = sweep.run_sweep(
        {"task": "sweep_testtasks:tiny_model", "save_models": True, "grid": {"n_hidden": [1, 2]}},
        tmp_path,
    )
    rows = sweep.read_table(summary.table_path)
    for row in rows:
        assert row["model_file"] == f"models/{row['hash']}.npz"
        model = load(tmp_path / row["model_file"])
        assert model.n_hidden == row["n_hidden"]


def test_registry(tmp_path):
    from sweep_testtasks import noisy_square

    info = sweep.register_task("test-noisy-square", noisy_square, replace=True)
    assert info.reference == "sweep_testtasks:noisy_square"
    assert sweep.resolve_task("test-noisy-square") == info
    for name in ("predict", "construct+evaluate", "train+evaluate", "compare"):
        assert sweep.registered_tasks()[name].reference.startswith("toyforge.verify.")
    with pytest.raises(InvalidParameter, match="not registered"):
        sweep.register_task("predict", noisy_square)
    summary = sweep.run_sweep({"task": "test-noisy-square", "grid": {"x": [1.0]}}, tmp_path)
    assert summary.status.n_done == 1 and summary.executor == "in-process"


def test_choose_executor_defaults():
    assert isinstance(
        sweep.choose_executor(sweep.CHEAP_IN_PROCESS, cheap=True), sweep.InProcessExecutor
    )
    if sweep.available_cpus() > 1:
        assert isinstance(sweep.choose_executor(1000, cheap=True), sweep.ProcessPoolExecutor)
        assert isinstance(sweep.choose_executor(sweep.TINY_SWEEP), sweep.ProcessPoolExecutor)
    assert isinstance(sweep.choose_executor(2), sweep.InProcessExecutor)
    assert isinstance(sweep.choose_executor(100, workers=1), sweep.InProcessExecutor)
    assert sweep.choose_executor(100, workers=3) == sweep.ProcessPoolExecutor(workers=3)
    assert sweep.choose_executor(5, dask_local=2) == sweep.DaskExecutor(n_workers=2)
    assert sweep.choose_executor(5, scheduler="tcp://h:1") == sweep.DaskExecutor(
        scheduler="tcp://h:1"
    )
    with pytest.raises(InvalidParameter):
        sweep.choose_executor(5, workers=2, dask_local=2)
    with pytest.raises(InvalidParameter):
        sweep.choose_executor(5, workers=0)


def test_dask_missing_gives_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ToyforgeError, match=r"toyforge\[distributed\]"):
        sweep.run_sweep(spec(), tmp_path, executor=sweep.DaskExecutor(n_workers=1))
