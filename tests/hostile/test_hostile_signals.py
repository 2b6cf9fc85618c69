"""Signals: a killed or interrupted ``toyforge sweep`` leaves no worker process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

TEST_TASKS = Path(__file__).resolve().parents[1] / "verify" / "sweep"
SPEC = """\
task = "sweep_testtasks:slow_square"
[grid]
x = { range = [0, 40] }
[fixed]
delay = 1.0
"""

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc/*/stat parent links)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    """Running (not gone, not a zombie waiting to be reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def start_sweep(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path]:
    spec = tmp_path / "slow.toml"
    spec.write_text(SPEC)
    out = tmp_path / "out"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TEST_TASKS), os.environ.get("PYTHONPATH", "")]),
    }
    command = [sys.executable, "-m", "toyforge", "sweep", str(spec), "--out", str(out)]
    command += ["--workers", "2", "--no-progress", "--allow-task", "sweep_testtasks:slow_square"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return process, out


def wait_for_workers(process: subprocess.Popen[bytes], out: Path) -> set[int]:
    deadline = time.monotonic() + 60
    while not list((out / "tasks").glob("*.json")):
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline, "no task finished within 60 s"
        time.sleep(0.05)
    workers = descendants(process.pid)
    assert len(workers) >= 2, workers  # two pool workers (and the resource tracker)
    return workers


def wait_until_gone(pids: set[int], seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    while (survivors := {pid for pid in pids if alive(pid)}) and time.monotonic() < deadline:
        time.sleep(0.1)
    return survivors


@pytest.mark.slow
def test_sigkill_of_the_driver_leaves_no_worker(tmp_path):
    process, out = start_sweep(tmp_path)
    try:
        workers = wait_for_workers(process, out)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        survivors = wait_until_gone(workers, seconds=5)
    finally:
        if process.poll() is None:
            process.kill()
        process.stderr.close()
    for pid in survivors:  # clean up before failing
        os.kill(pid, signal.SIGKILL)
    assert not survivors, f"worker processes {sorted(survivors)} outlived their parent"


@pytest.mark.slow
def test_ctrl_c_stops_the_sweep_in_one_line_and_ends_its_workers(tmp_path):
    process, out = start_sweep(tmp_path)
    try:
        workers = wait_for_workers(process, out)
        process.send_signal(signal.SIGINT)
        status = process.wait(timeout=30)
        error = process.stderr.read().decode()
        survivors = wait_until_gone(workers, seconds=5)
    finally:
        if process.poll() is None:
            process.kill()
        process.stderr.close()
    assert status == 130
    assert error.splitlines() == ["toyforge sweep: interrupted"], error
    assert not survivors
    assert not [path for path in out.rglob("*") if ".tmp" in path.name]


def test_a_closed_pipe_ends_quietly():
    """``toyforge predict ... | head -0``: no broken-pipe message, no traceback."""
    command = [sys.executable, "-m", "toyforge", "predict", "--ratio", "0.5"]
    command += ["--feature-prob", "0.1", "--json"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # the reader is gone before the first line
    _, error = process.communicate(timeout=60)
    assert process.returncode == 0
    assert error.decode() == ""
