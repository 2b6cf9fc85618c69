"""Test-only batch function for sweep_testtasks:noisy_square, importable by spawned workers.

Not collected by pytest (no ``test_`` prefix). Its points run in order; parameters that only
this function reads steer it (the single task ignores them):

* ``wait_dir``: before finishing point 1, wait until the driver has stored a record in
  ``wait_dir/tasks`` (proves that a finished point is stored while its job still runs);
* ``die_after`` and ``die_marker``: after that many points, kill this process with SIGKILL,
  once (the marker file says it happened);
* ``raise_after``: after that many points, raise (the job's other points then run one by one);
* ``sleep`` and ``log_dir``: sleep that many seconds before each point, then leave a file named
  after it in ``log_dir`` (to count the points a stopped job computed).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from sweep_testtasks import noisy_square

WAIT_SECONDS = 60


def _wait_for_a_record(folder: Path) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not any((folder / "tasks").glob("*.json")):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no record stored in {folder} while the batched job ran")
        time.sleep(0.01)


def square_batch(points, on_outputs, *, progress=None, memory_share=1.0):
    """noisy_square at every point, in order, each reported as it finishes."""
    for index, (params, seed) in enumerate(points):
        if index == 1 and "wait_dir" in params:
            _wait_for_a_record(Path(params["wait_dir"]))
        if index == params.get("die_after"):
            marker = Path(params["die_marker"])
            if not marker.exists():
                marker.write_text("killed")
                os.kill(os.getpid(), signal.SIGKILL)
        if index == params.get("raise_after"):
            raise RuntimeError("the batched job broke")
        if progress is not None:
            progress(index, 1, 0.0)
        if "log_dir" in params:
            time.sleep(float(params.get("sleep", 0.0)))
            (Path(params["log_dir"]) / f"point-{index}").write_text("")
        on_outputs(index, noisy_square(params, seed))
