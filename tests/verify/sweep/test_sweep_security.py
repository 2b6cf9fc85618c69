"""A spec file never runs code by itself: only registered tasks, or references allowed by name.

Every refusal happens before anything is imported or written: a sentinel module with an import
side effect shows that nothing was imported, and the output folder is never created.
"""

from __future__ import annotations

import json
import sys

import pytest

from toyforge.cli import main
from toyforge.core.errors import InvalidParameter
from toyforge.verify import sweep
from toyforge.verify.sweep import registry

SENTINEL = """\
from pathlib import Path
Path({marker!r}).write_text("imported")


def run(params, seed):
    return {{"doubled": 2 * params["x"]}}
"""


@pytest.fixture
def sentinel(tmp_path, monkeypatch):
    """A module ``tf_sentinel_mod`` on sys.path whose import writes ``imported.txt``."""
    marker = tmp_path / "imported.txt"
    folder = tmp_path / "modules"
    folder.mkdir()
    (folder / "tf_sentinel_mod.py").write_text(SENTINEL.format(marker=str(marker)))
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, "tf_sentinel_mod", raising=False)
    return marker


def refused(capsys, argv):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1, captured.err
    return captured.err


def test_subprocess_run_in_a_toml_spec_is_refused_before_anything_runs(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "evil.toml"
    spec.write_text('task = "subprocess:run"\n[grid]\ntouch = [1]\npwned = [1]\n')
    error = refused(capsys, ["sweep", str(spec), "--out", "out", "--workers", "1"])
    assert "task='subprocess:run'" in error and "--allow-task subprocess:run" in error
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "out").exists()


def test_subprocess_popen_in_a_json_spec_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    script = tmp_path / "script.sh"
    script.write_text("touch pwned\n")
    spec = tmp_path / "evil.json"
    spec.write_text(json.dumps({"task": "subprocess:Popen", "grid": {"sh": [str(script)]}}))
    refused(capsys, ["sweep", str(spec), "--out", "out"])
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "out").exists()


def test_nothing_is_imported_before_the_check_and_allow_task_runs_it(tmp_path, sentinel, capsys):
    spec = tmp_path / "custom.toml"
    spec.write_text('task = "tf_sentinel_mod:run"\n[grid]\nx = [1, 2]\n')
    out = tmp_path / "out"
    refused(capsys, ["sweep", str(spec), "--out", str(out), "--workers", "1"])
    assert "tf_sentinel_mod" not in sys.modules
    assert not sentinel.exists() and not out.exists()
    other = ["--allow-task", "tf_sentinel_mod:other"]  # allowing another name does not help
    refused(capsys, ["sweep", str(spec), "--out", str(out), *other])
    assert "tf_sentinel_mod" not in sys.modules and not out.exists()
    allow = ["--allow-task", "tf_sentinel_mod:run"]
    argv = ["sweep", str(spec), "--out", str(out), "--workers", "1", "--no-progress", *allow]
    assert main(argv) == 0
    assert sentinel.read_text() == "imported"
    rows = sweep.read_table(next(out.glob("results.*")))
    assert [row["doubled"] for row in rows] == [2, 4]


def test_a_malformed_allow_task_is_refused(tmp_path, sentinel, capsys):
    spec = tmp_path / "custom.toml"
    spec.write_text('task = "tf_sentinel_mod:run"\n[grid]\nx = [1]\n')
    error = refused(capsys, ["sweep", str(spec), "--out", str(tmp_path / "o"), "--allow-task", "x"])
    assert "--allow-task='x'" in error and not sentinel.exists()


def test_python_api_needs_registration_or_allow_tasks(tmp_path, sentinel):
    spec = {"task": "tf_sentinel_mod:run", "grid": {"x": [3]}}
    with pytest.raises(InvalidParameter, match="allow"):
        sweep.run_sweep(spec, tmp_path / "a")
    with pytest.raises(InvalidParameter, match="allow"):
        sweep.plan_sweep(spec, tmp_path / "a")
    assert "tf_sentinel_mod" not in sys.modules and not (tmp_path / "a").exists()
    summary = sweep.run_sweep(
        spec,
        tmp_path / "b",
        executor=sweep.InProcessExecutor(),
        allow_tasks=["tf_sentinel_mod:run"],
    )
    assert summary.status.n_done == 1 and sentinel.exists()


def test_a_registered_name_runs_its_function(tmp_path, sentinel, monkeypatch):
    monkeypatch.setitem(
        registry._REGISTRY, "doubler", sweep.TaskInfo(name="doubler", reference="x:y")
    )
    info = sweep.register_task("doubler", "tf_sentinel_mod:run", replace=True)
    assert sweep.resolve_task("doubler") == info
    summary = sweep.run_sweep(
        {"task": "doubler", "grid": {"x": [5]}}, tmp_path, executor=sweep.InProcessExecutor()
    )
    assert sweep.read_table(summary.table_path)[0]["doubled"] == 10


@pytest.mark.parametrize("task", ["os.system", "subprocess:run;rm", "a:b:c", ":run", "m:"])
def test_malformed_references_are_refused_at_spec_level(task):
    with pytest.raises(InvalidParameter, match="task"):
        sweep.SweepSpec.from_dict({"task": task, "grid": {"x": [1]}})
