"""``toyforge sweep --dask-local`` prints its summary, not Dask's start-up and shutdown log."""

from __future__ import annotations

import subprocess
import sys

import pytest

SPEC = 'task = "predict"\n[grid]\nratio = [0.1, 0.2, 0.3, 0.4]\nfeature_prob = [0.05]\n'


@pytest.mark.slow
def test_dask_local_run_leaves_stderr_empty(tmp_path):
    pytest.importorskip("distributed")
    spec = tmp_path / "tiny.toml"
    spec.write_text(SPEC)
    command = [sys.executable, "-m", "toyforge", "sweep", str(spec), "--out", str(tmp_path / "o")]
    command += ["--dask-local", "1", "--no-progress"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "done 4, failed 0, pending 0" in result.stdout
    assert result.stderr == ""
