"""Hypothesis stays optional: importing toyforge never pulls it in; strategies say what to install.

Also runs examples/test_properties_example.py the way a user would (pytest in a subprocess, no
project conftest), so the copyable example cannot rot.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "test_properties_example.py"


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def _imports_hypothesis(code: str) -> bool:
    result = _run(f"{code}\nimport sys\nsys.exit(3 if 'hypothesis' in sys.modules else 0)")
    assert result.returncode in (0, 3), result.stderr
    return result.returncode == 3


def test_importing_toyforge_never_imports_hypothesis():
    assert not _imports_hypothesis(
        "import toyforge, toyforge.verify, toyforge.verify.testing.strategies, "
        "toyforge.verify.testing.checks"
    )
    # meta-test: the probe sees hypothesis once a strategy is built
    assert _imports_hypothesis("import toyforge.verify.testing as p\np.primes()")


def test_missing_hypothesis_names_the_testing_extra():
    code = """
import sys
sys.modules["hypothesis"] = None  # import hypothesis now raises ImportError
from toyforge.core.errors import ToyforgeError
import toyforge.verify.testing as p
assert p.check_loss_at_most(1.0, 2.0).passed           # checks need numpy only
for build in (p.primes, p.configurations, lambda: p.frequency_sets(7),
              lambda: p.key_value_tables(2, 2, 1)):
    try:
        build()
    except ToyforgeError as error:
        assert "toyforge[testing]" in str(error), error
    else:
        raise SystemExit("no error without hypothesis")
"""
    result = _run(code)
    assert result.returncode == 0, result.stderr + result.stdout


@pytest.mark.slow
def test_example_file_passes_under_plain_pytest(tmp_path):
    env = dict(os.environ, HYPOTHESIS_STORAGE_DIRECTORY=str(tmp_path / "hypothesis"))
    env.pop("PYTEST_ADDOPTS", None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            str(EXAMPLE),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "4 passed" in result.stdout
