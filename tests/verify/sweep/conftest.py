"""The test tasks of sweep_testtasks.py, importable and allowed for every sweep test here.

A spec may only run registered tasks or references the caller allows by name; these tests
register the test tasks under their references, as a user program would (register_task).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from toyforge.verify import sweep
from toyforge.verify.sweep import registry

HERE = Path(__file__).resolve().parent
TEST_TASKS = (
    "noisy_square",
    "fail_on_negative",
    "slow_square",
    "bad_output",
    "echo_x",
    "tiny_model",
)


@pytest.fixture(autouse=True)
def _test_tasks_registered(monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))  # spawned workers inherit sys.path
    for name in TEST_TASKS:
        reference = f"sweep_testtasks:{name}"
        monkeypatch.setitem(
            registry._REGISTRY, reference, sweep.TaskInfo(name=reference, reference=reference)
        )
