"""Kill a sweep mid-way (SIGKILL on the CLI process), resume it, lose and redo nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from toyforge.verify import sweep

HERE = Path(__file__).resolve().parent
N_TASKS = 16
SPEC_TEXT = f"""\
name = "resume"
task = "sweep_testtasks:slow_square"
[grid]
x = {{ range = [0, {N_TASKS}] }}
[fixed]
delay = 0.1
"""


def snapshot(tasks: Path) -> dict[str, tuple[int, int, str]]:
    return {
        path.name: (path.stat().st_ino, path.stat().st_mtime_ns, path.read_text())
        for path in tasks.glob("*.json")
    }


@pytest.mark.slow
def test_killed_sweep_resumes_without_recomputing_or_losing_tasks(tmp_path, monkeypatch):
    spec_path = tmp_path / "resume.toml"
    spec_path.write_text(SPEC_TEXT)
    out = tmp_path / "out"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    command = [
        sys.executable,
        "-m",
        "toyforge",
        "sweep",
        str(spec_path),
        "--out",
        str(out),
        "--workers",
        "1",
        "--no-progress",
        "--allow-task",
        "sweep_testtasks:slow_square",
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    try:
        while len(list((out / "tasks").glob("*.json"))) < 3:
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "no records after 60 s"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stderr.close()
    first = snapshot(out / "tasks")
    assert 3 <= len(first) < N_TASKS, "the sweep finished before it could be killed"
    first_run = {json.loads(text)["run_id"] for _, _, text in first.values()}
    assert len(first_run) == 1
    assert not (out / "results.parquet").exists() and not (out / "results.csv").exists()

    monkeypatch.syspath_prepend(str(HERE))
    summary = sweep.run_sweep(spec_path, out, executor=sweep.InProcessExecutor())

    assert summary.n_skipped == len(first)
    assert summary.n_ran == N_TASKS - len(first)
    second = snapshot(out / "tasks")
    assert len(second) == N_TASKS
    assert {name: second[name] for name in first} == first  # not rewritten
    new_runs = {json.loads(second[name][2])["run_id"] for name in set(second) - set(first)}
    assert len(new_runs) == 1 and new_runs.isdisjoint(first_run)
    rows = sweep.read_table(summary.table_path)
    assert [row["x"] for row in rows] == list(range(N_TASKS))
    assert all(row["status"] == "done" and row["square"] == row["x"] ** 2 for row in rows)
