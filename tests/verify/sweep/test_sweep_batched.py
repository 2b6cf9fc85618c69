"""Batched sweep jobs: pending training points of one shape trained together.

The reference of every comparison is the same spec run with ``batch_training = false`` (one
point per job, the path that existed before batching); batching must store the same rows.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from toyforge.core.budget import memory_limit_set_to
from toyforge.core.errors import InvalidParameter, ToyforgeError
from toyforge.verify import sweep
from toyforge.verify.sweep import batch_tasks, registry
from toyforge.verify.sweep.batching import batch_jobs, fitting_chunks, split_evenly

HERE = Path(__file__).resolve().parent
SQUARE = "sweep_testtasks:noisy_square"
TIMING_OUTPUTS = ("train_seconds", "steps_per_second", "construction_samples_per_second")
TRAIN_SPEC = {
    "name": "batched",
    "task": "train+evaluate",
    "grid": {"ratio": [0.25, 0.5], "feature_prob": [0.05, 0.2], "seed": [0, 1]},
    "fixed": {
        "n_features": 16,
        "steps": 300,
        "batch_size": 64,
        "window": 100,
        "n_samples": 2000,
    },
}


@pytest.fixture(autouse=True)
def _batched_test_task(monkeypatch):
    """noisy_square with a batch function, registered as a user program would."""
    monkeypatch.syspath_prepend(str(HERE))  # spawned workers inherit sys.path
    info = sweep.TaskInfo(
        name=SQUARE,
        reference=SQUARE,
        batch="sweep_batchtasks:square_batch",
        batch_keys=("n",),
    )
    monkeypatch.setitem(registry._REGISTRY, SQUARE, info)


def square_spec(**fixed):
    return {
        "name": "squares",
        "task": SQUARE,
        "grid": {"x": {"range": [0, 6]}},
        "fixed": {"n": 8, **fixed},
    }


def records(folder):
    return sweep.read_records(folder)


TRAIN_LOSS = "final_train_loss"
"""The last training-batch loss: summed by the trainer's kernels with reassociation allowed
(verify/kernels/autoencoder_train.py), so its last bits follow the alignment of the buffers and
vary between any two runs, batched or not (the weights and the held-out loss do not)."""


def stored_outputs(folder):
    """hash -> what a record stores about its point, timing and the training loss left out."""
    return {
        digest: {
            "params": record["params"],
            "seed": record["seed"],
            "status": record["status"],
            "error": record["error"],
            "model_file": record.get("model_file"),
            "outputs": {
                key: value
                for key, value in record["outputs"].items()
                if key not in (*TIMING_OUTPUTS, TRAIN_LOSS)
            },
        }
        for digest, record in records(folder).items()
    }


def assert_same_records(folder, reference):
    """The records of ``folder`` are those of ``reference``: identical but for the timings;
    the training-batch loss equal to 1e-12 relative (see TRAIN_LOSS)."""
    assert stored_outputs(folder) == stored_outputs(reference)
    got, expected = records(folder), records(reference)
    for digest, record in expected.items():
        if TRAIN_LOSS in record["outputs"]:
            value = record["outputs"][TRAIN_LOSS]
            assert got[digest]["outputs"][TRAIN_LOSS] == pytest.approx(value, rel=1e-12)


def run(spec, folder, executor=None, **spec_keys):
    return sweep.run_sweep(
        {**spec, **spec_keys}, folder, executor=executor or sweep.InProcessExecutor()
    )


# --------------------------------------------------------------------------- the rule


def job(digest, n):
    return {"task": "t", "reference": "m:f", "hash": digest, "params": {"n": n}, "seed": 0}


def test_one_shape_gives_one_batched_job_per_worker():
    jobs = [job(f"h{i}", 256) for i in range(9)]
    work = batch_jobs(jobs, batch_reference="m:batch", keys=("n",), slots=2)
    assert [len(item["jobs"]) for item in work] == [5, 4]
    assert [member["hash"] for item in work for member in item["jobs"]] == [
        f"h{i}" for i in (0, 2, 4, 6, 8, 1, 3, 5, 7)
    ]
    assert work[0]["hash"] == "batch-h0" and work[1]["hash"] == "batch-h1"
    assert all(item["batch_reference"] == "m:batch" for item in work)
    assert all(item["memory_share"] == 0.5 for item in work)


def test_points_of_different_shapes_are_never_in_one_job_and_lone_points_stay_plain():
    jobs = [job("a", 64), job("b", 128), job("c", 64), job("d", 32)]
    work = batch_jobs(jobs, batch_reference="m:batch", keys=("n",), slots=1)
    assert [m["hash"] for m in work[0]["jobs"]] == ["a", "c"]
    assert work[1:] == [jobs[1], jobs[3]]  # alone in their shape: plain jobs


@given(st.integers(1, 40), st.integers(1, 3), st.integers(1, 8))
def test_every_point_in_one_job_every_worker_busy_no_job_above_ceil_pending_over_slots(
    n_jobs, n_shapes, slots
):
    jobs = [job(f"h{i}", i % n_shapes) for i in range(n_jobs)]
    work = batch_jobs(jobs, batch_reference="m:batch", keys=("n",), slots=slots)
    members = [item.get("jobs", [item]) for item in work]
    assert sorted(m["hash"] for group in members for m in group) == sorted(j["hash"] for j in jobs)
    assert max(len(group) for group in members) <= math.ceil(n_jobs / slots)
    assert all(len({m["params"]["n"] for m in group}) == 1 for group in members)
    assert len(work) >= min(slots, n_jobs)
    if n_shapes == 1:
        assert len(work) == min(slots, n_jobs)


@given(st.lists(st.floats(0.0, 10.0), max_size=30), st.floats(0.5, 20.0))
def test_fitting_chunks_cover_in_order_and_fit_the_limit(sizes, limit):
    chunks = fitting_chunks(sizes, limit)
    assert [index for chunk in chunks for index in chunk] == list(range(len(sizes)))
    for chunk, following in zip(chunks, [*chunks[1:], None], strict=False):
        total = sum(sizes[index] for index in chunk)
        assert len(chunk) == 1 or total <= limit
        if following is not None and total <= limit:  # greedy: the next item did not fit
            assert total + sizes[following[0]] > limit


def test_split_evenly():
    assert split_evenly(list(range(9)), 2) == [[0, 2, 4, 6, 8], [1, 3, 5, 7]]
    assert split_evenly(list(range(10)), 3) == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
    assert split_evenly(list(range(3)), 5) == [[0], [1], [2]]


# --------------------------------------------------------------------------- the spec


def test_batch_training_is_validated_like_every_spec_key():
    with pytest.raises(InvalidParameter, match="batch_training"):
        sweep.SweepSpec.from_dict({**TRAIN_SPEC, "batch_training": "no"})
    assert sweep.SweepSpec.from_dict(TRAIN_SPEC).batch_training is True


def test_toggling_batch_training_keeps_a_folders_finished_tasks(tmp_path):
    first = run(square_spec(), tmp_path, batch_training=False)
    assert first.n_ran == 6
    again = run(square_spec(), tmp_path, batch_training=True)
    assert again.n_ran == 0 and again.n_skipped == 6
    assert json.loads((tmp_path / "sweep.json").read_text())["spec"]["batch_training"] is True


def test_an_executor_without_slots_gets_one_point_per_job(tmp_path):
    class Plain:
        label = "plain"

        def run(self, jobs):
            for item in jobs:
                assert "jobs" not in item
                yield sweep.run_job(item)

    summary = run(square_spec(), tmp_path, Plain())
    assert summary.n_ran == 6
    assert not any("batch" in record for record in records(tmp_path).values())


# --------------------------------------------------------------------------- same rows


def test_batched_train_sweep_stores_the_rows_of_the_unbatched_sweep(tmp_path):
    spec = {**TRAIN_SPEC, "save_models": True}
    alone = run(spec, tmp_path / "alone", batch_training=False)
    batched = run(spec, tmp_path / "batched")
    assert alone.n_ran == batched.n_ran == 8 and batched.status.n_failed == 0
    stored = records(tmp_path / "batched").values()
    batch_of = {record.get("batch", {}).get("job") for record in stored}
    assert len(batch_of) == 1 and None not in batch_of  # all eight trained in one job
    assert_same_records(tmp_path / "batched", tmp_path / "alone")
    ignore = ("elapsed_s", "cpu_s", *TIMING_OUTPUTS, TRAIN_LOSS)
    rows_alone = sweep.read_table(alone.table_path)
    assert sweep.same_results(sweep.read_table(batched.table_path), rows_alone, ignore=ignore)
    assert len({row["loss"] for row in rows_alone}) == 8  # distinct points, not one repeated
    for model in (tmp_path / "alone" / "models").glob("*.npz"):
        with (
            np.load(model, allow_pickle=False) as left,
            np.load(tmp_path / "batched" / "models" / model.name, allow_pickle=False) as right,
        ):
            assert sorted(left.files) == sorted(right.files)
            for name in left.files:
                np.testing.assert_array_equal(left[name], right[name])


def test_a_point_that_fails_fails_the_same_way_inside_a_batched_job(tmp_path):
    spec = {**TRAIN_SPEC, "grid": {**TRAIN_SPEC["grid"], "feature_prob": [0.05, 1.5]}}
    alone = run(spec, tmp_path / "alone", batch_training=False)
    batched = run(spec, tmp_path / "batched")
    assert alone.status.n_failed == batched.status.n_failed == 4
    assert_same_records(tmp_path / "batched", tmp_path / "alone")
    errors = {r["error"] for r in records(tmp_path / "batched").values() if r["error"]}
    assert len(errors) == 1 and "feature_prob" in errors.pop()


def test_a_batched_job_beyond_the_memory_limit_trains_in_parts_that_fit(monkeypatch):
    from toyforge.verify.train import runs

    sizes = []
    real = runs.train_runs

    def counting(batch, *args, **kwargs):
        sizes.append(len(batch))
        return real(batch, *args, **kwargs)

    monkeypatch.setattr(runs, "train_runs", counting)
    params = {**TRAIN_SPEC["fixed"], "ratio": 0.25, "feature_prob": 0.1}
    points = [(params, seed) for seed in range(5)]
    one = runs.run_bytes(batch_tasks.train_evaluate_run(params, 0)[0])
    got = {}
    with memory_limit_set_to(int(2.5 * one)):
        batch_tasks.train_evaluate_batch(points, got.__setitem__)
    assert sizes == [2, 2, 1]
    assert sorted(got) == list(range(5))
    alone = sweep.train_evaluate_task(dict(params), 3)
    assert got[3]["loss"].value == alone["loss"].value
    np.testing.assert_array_equal(got[3]["model"].W_in, alone["model"].W_in)


def test_a_batch_that_breaks_runs_its_unfinished_points_one_by_one(tmp_path):
    spec = square_spec(raise_after=2)
    alone = run(spec, tmp_path / "alone", batch_training=False)
    broken = run(spec, tmp_path / "broken")
    assert alone.n_ran == broken.n_ran == 6 and broken.status.n_failed == 0
    got = records(tmp_path / "broken")
    assert sorted(r["params"]["x"] for r in got.values() if "batch" in r) == [0, 1]
    assert_same_records(tmp_path / "broken", tmp_path / "alone")


# --------------------------------------------------------------------------- streaming, kills


def test_a_finished_point_is_stored_while_its_batched_job_runs_in_process(tmp_path):
    out = tmp_path / "out"
    summary = run(square_spec(wait_dir=str(out)), out)
    assert summary.n_ran == 6 and summary.status.n_failed == 0
    assert all("batch" in record for record in records(out).values())


@pytest.mark.slow
def test_a_finished_point_is_stored_while_its_batched_job_runs_in_a_pool(tmp_path):
    out = tmp_path / "out"
    summary = run(square_spec(wait_dir=str(out)), out, sweep.ProcessPoolExecutor(workers=1))
    assert summary.n_ran == 6 and summary.status.n_failed == 0
    assert all("batch" in record for record in records(out).values())


@pytest.mark.slow
def test_a_killed_batched_job_loses_only_its_unfinished_points(tmp_path):
    out = tmp_path / "out"
    spec = square_spec(die_after=3, die_marker=str(tmp_path / "killed"))
    pool = sweep.ProcessPoolExecutor(workers=1)
    with pytest.raises(ToyforgeError, match="worker process died"):
        run(spec, out, pool)
    first = {path.name: path.read_text() for path in (out / "tasks").glob("*.json")}
    assert sorted(json.loads(text)["params"]["x"] for text in first.values()) == [0, 1, 2]
    resumed = run(spec, out, pool)
    assert resumed.n_skipped == 3 and resumed.n_ran == 3 and resumed.status.n_done == 6
    assert {name: (out / "tasks" / name).read_text() for name in first} == first


@pytest.mark.slow
def test_process_pool_batched_training_matches_unbatched_in_process(tmp_path):
    alone = run(TRAIN_SPEC, tmp_path / "alone", batch_training=False)
    pooled = run(TRAIN_SPEC, tmp_path / "pool", sweep.ProcessPoolExecutor(workers=2))
    jobs = {r["batch"]["job"] for r in records(tmp_path / "pool").values()}
    assert len(jobs) == 2 and alone.n_ran == pooled.n_ran == 8
    assert_same_records(tmp_path / "pool", tmp_path / "alone")


@pytest.mark.slow
def test_dask_batched_training_matches_unbatched_in_process(tmp_path):
    pytest.importorskip("distributed")
    alone = run(TRAIN_SPEC, tmp_path / "alone", batch_training=False)
    out = tmp_path / "dask"
    dask = run({**TRAIN_SPEC}, out, sweep.DaskExecutor(n_workers=1))
    assert dask.n_ran == 8 and all("batch" in r for r in records(out).values())
    assert_same_records(out, tmp_path / "alone")
    assert alone.n_ran == 8


@pytest.mark.slow
def test_dask_stores_a_finished_point_while_its_batched_job_runs(tmp_path):
    pytest.importorskip("distributed")
    out = tmp_path / "out"
    summary = run(square_spec(wait_dir=str(out)), out, sweep.DaskExecutor(n_workers=1))
    assert summary.n_ran == 6 and summary.status.n_failed == 0
    assert all("batch" in record for record in records(out).values())


# --------------------------------------------------------------------------- compare


COMPARE_SPEC = {
    "name": "compare-batched",
    "task": "compare",
    "grid": {"ratio": [0.25, 0.5], "feature_prob": [0.05, 0.2], "train": [True, False]},
    "fixed": {
        "n_features": 16,
        "train_steps": 300,
        "train_window": 100,
        "n_samples": 2000,
        "eval_samples": 2000,
    },
}


def test_only_points_that_train_are_batched():
    jobs = [{**job(f"h{i}", 16), "params": {"n": 16, "train": i % 2 == 0}} for i in range(6)]
    work = batch_jobs(jobs, batch_reference="m:batch", keys=("n",), slots=1, when="train")
    batched = [item for item in work if "jobs" in item]
    assert len(batched) == 1 and [m["hash"] for m in batched[0]["jobs"]] == ["h0", "h2", "h4"]
    assert sorted(item["hash"] for item in work if "jobs" not in item) == ["h1", "h3", "h5"]


def test_batched_compare_sweep_stores_the_rows_of_the_unbatched_sweep(tmp_path):
    alone = run(COMPARE_SPEC, tmp_path / "alone", batch_training=False)
    batched = run(COMPARE_SPEC, tmp_path / "batched")
    assert alone.n_ran == batched.n_ran == 8 and batched.status.n_failed == 0
    got = records(tmp_path / "batched").values()
    assert sorted(r["params"]["train"] for r in got if "batch" in r) == [True] * 4
    assert_same_records(tmp_path / "batched", tmp_path / "alone")
    trained = [r["outputs"]["trained_loss"] for r in got if r["params"]["train"]]
    assert len(set(trained)) == 4 and all(value > 0 for value in trained)


def test_the_cli_refuses_a_bad_batch_training_in_one_line_and_creates_nothing(
    tmp_path, monkeypatch, capsys
):
    from toyforge.cli import main

    monkeypatch.chdir(tmp_path)
    spec = 'task = "train+evaluate"\nbatch_training = "yes"\n[grid]\nratio = [0.5]\n'
    (tmp_path / "spec.toml").write_text(spec)
    assert main(["sweep", "spec.toml", "--out", "out", "--workers", "1"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "batch_training" in lines[0] and "'yes'" in lines[0], lines
    assert sorted(path.name for path in tmp_path.iterdir()) == ["spec.toml"]


def test_closing_the_in_process_iterator_stops_its_batched_job(tmp_path):
    import threading

    log = tmp_path / "log"
    log.mkdir()
    plan = sweep.plan_sweep(square_spec(sleep=0.5, log_dir=str(log)), tmp_path / "out")
    work = plan.work(1)
    assert len(work) == 1 and len(work[0]["jobs"]) == 6
    records_iterator = sweep.InProcessExecutor().run(work)
    first = next(records_iterator)
    assert first["status"] == "done" and first["batch"]["size"] == 6
    records_iterator.close()  # what Ctrl-C in the driver does
    assert not [thread for thread in threading.enumerate() if thread.name == "toyforge-batch"]
    # the job stopped at its next step: not all six points were computed (each takes 0.5 s)
    assert len(list(log.iterdir())) < 6


@pytest.mark.slow
def test_a_dask_schedulers_slots_are_its_workers_threads():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        assert sweep.DaskExecutor(scheduler=cluster.scheduler_address).n_slots() == 2


def test_points_with_feature_laws_are_batched_with_the_unbatched_rows(tmp_path):
    spec = {
        **TRAIN_SPEC,
        "grid": {
            "ratio": [0.25, 0.5],
            "feature_probs": ["zipf:1.2:0.4:0.01", "constant:0.1"],
            "importance": ["constant:1", "geometric:0.9"],
        },
    }
    alone = run(spec, tmp_path / "alone", batch_training=False)
    batched = run(spec, tmp_path / "batched")
    assert alone.n_ran == batched.n_ran == 8 and batched.status.n_failed == 0
    assert all("batch" in record for record in records(tmp_path / "batched").values())
    assert_same_records(tmp_path / "batched", tmp_path / "alone")
