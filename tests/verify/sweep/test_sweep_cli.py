"""``toyforge sweep`` and ``toyforge sweep-status`` through ``toyforge.cli.main``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from toyforge.cli import main

HERE = Path(__file__).resolve().parent
SPEC = """\
name = "cli"
task = "sweep_testtasks:fail_on_negative"
[grid]
x = [-1.0, 1.0, 2.0]
seed = { range = [0, 2] }
"""


@pytest.fixture(autouse=True)
def _test_tasks_importable(monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))


@pytest.fixture
def spec_path(tmp_path):
    path = tmp_path / "cli.toml"
    path.write_text(SPEC)
    return path


def sweep(spec_path, out, *extra):
    allow = ["--allow-task", "sweep_testtasks:fail_on_negative"]
    return main(["sweep", str(spec_path), "--out", str(out), "--no-progress", *allow, *extra])


def test_sweep_reports_counts_and_exits_1_when_tasks_failed(spec_path, tmp_path, capsys):
    out = tmp_path / "out"
    assert sweep(spec_path, out, "--workers", "1") == 1
    text = capsys.readouterr().out
    assert "sweep 'cli' (task sweep_testtasks:fail_on_negative): 6 tasks; ran 6 (2 failed)" in text
    assert "done 4, failed 2, pending 0" in text
    assert "table: " in text and (out / "tasks").is_dir()
    assert sweep(spec_path, out) == 1
    assert "ran 0 (0 failed), skipped 6 finished; in-process" in capsys.readouterr().out


def test_sweep_status_lists_failures_and_rebuilds_the_table(spec_path, tmp_path, capsys):
    out = tmp_path / "out"
    sweep(spec_path, out, "--workers", "1", "--format", "csv")
    capsys.readouterr()
    (out / "results.csv").unlink()
    assert main(["sweep-status", str(out), "--format", "csv"]) == 0
    text = capsys.readouterr().out
    assert "tasks  done  failed  pending" in text
    assert "6      4     2       0" in text
    assert text.count("ValueError: negative x -1.0") == 2
    assert (out / "results.csv").exists()
    assert main(["sweep-status", str(out), "--json", "--no-table"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["n_done"], status["n_failed"], status["n_pending"]) == (4, 2, 0)
    assert status["failures"][0]["point"] == {"x": -1.0, "seed": 0}


def test_user_mistakes_are_one_line_and_exit_2(spec_path, tmp_path, capsys):
    out = tmp_path / "out"
    sweep(spec_path, out, "--workers", "1")
    capsys.readouterr()
    other = tmp_path / "other.toml"
    other.write_text(SPEC.replace("2.0]", "3.0]"))
    assert sweep(other, out) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "differ in ['grid']" in error
    assert sweep(tmp_path / "missing.toml", out) == 2
    assert "existing file" in capsys.readouterr().err
    assert main(["sweep-status", str(tmp_path / "nowhere")]) == 2
    assert "existing sweep folder" in capsys.readouterr().err
    assert sweep(spec_path, tmp_path / "o2", "--workers", "0") == 2
    assert "--workers=0" in capsys.readouterr().err


def test_dask_without_the_extra_is_a_clear_error(spec_path, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    assert sweep(spec_path, tmp_path / "out", "--dask-local", "1") == 2
    assert "toyforge[distributed]" in capsys.readouterr().err


def test_executor_options_are_exclusive(spec_path, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        sweep(spec_path, tmp_path / "out", "--workers", "2", "--dask-local", "1")
    assert exit_info.value.code == 2
    assert "not allowed with" in capsys.readouterr().err
