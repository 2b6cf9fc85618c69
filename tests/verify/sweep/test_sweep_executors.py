"""In-process, process-pool and Dask LocalCluster executors give identical tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from toyforge.verify import sweep
from toyforge.verify.sweep import registry

HERE = Path(__file__).resolve().parent
SPEC = {
    "name": "executors",
    "task": "sweep_testtasks:fail_on_negative",
    "fixed": {"n": 32},
    "grid": {"x": {"linspace": [-0.5, 1.0, 4]}, "rep": {"range": [0, 3]}},
}


@pytest.fixture(autouse=True)
def _test_tasks_importable(monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))  # spawned workers inherit sys.path


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("in-process")
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(HERE))
        reference = SPEC["task"]
        info = sweep.TaskInfo(name=reference, reference=reference)
        patch.setitem(registry._REGISTRY, reference, info)  # allowed, as conftest does
        summary = sweep.run_sweep(SPEC, out, executor=sweep.InProcessExecutor())
    rows = sweep.read_table(summary.table_path)
    assert len(rows) == 12 and summary.status.n_failed == 3
    return rows


def check_same(summary, reference):
    assert summary.n_ran == 12
    rows = sweep.read_table(summary.table_path)
    assert sweep.same_results(rows, reference)
    # the hash-derived seeds differ between points, so equal tables mean equal seeding
    assert len({row["mean"] for row in rows if row["status"] == "done"}) == 9


@pytest.mark.slow
def test_process_pool_matches_in_process(tmp_path, reference):
    executor = sweep.ProcessPoolExecutor(workers=2)
    check_same(sweep.run_sweep(SPEC, tmp_path, executor=executor), reference)


@pytest.mark.slow
def test_dask_local_cluster_matches_in_process(tmp_path, reference):
    pytest.importorskip("distributed")
    executor = sweep.DaskExecutor(n_workers=1)
    summary = sweep.run_sweep(SPEC, tmp_path, executor=executor)
    assert summary.executor == "dask LocalCluster (1 workers)"
    check_same(summary, reference)
