"""``toyforge sweep --dask-local`` prints its summary, not Dask's start-up and shutdown log."""

from __future__ import annotations

import pytest

from toyforge.cli import main

SPEC = 'task = "predict"\n[grid]\nratio = [0.1, 0.2, 0.3, 0.4]\nfeature_prob = [0.05]\n'


@pytest.mark.slow
def test_dask_local_run_leaves_stderr_empty(tmp_path, capfd):
    pytest.importorskip("distributed")
    spec = tmp_path / "tiny.toml"
    spec.write_text(SPEC)
    argv = ["sweep", str(spec), "--out", str(tmp_path / "out"), "--dask-local", "1"]
    assert main([*argv, "--no-progress"]) == 0
    captured = capfd.readouterr()  # file descriptors: the scheduler and workers write there
    assert "done 4, failed 0, pending 0" in captured.out
    assert captured.err == ""
