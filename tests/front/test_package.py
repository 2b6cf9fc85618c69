"""Package-level guarantees: torch is never imported, the public API resolves, errors read well."""

from __future__ import annotations

import subprocess
import sys

import pytest

import toyforge
from toyforge.core.errors import CorruptFile, IncompatibleWeights, InvalidParameter, ToyforgeError

# Everything a user may import; none of it may pull in torch.
_IMPORTS = (
    "import toyforge, toyforge.theory, toyforge.constructions, toyforge.verify, "
    "toyforge.figures, toyforge.cli"
)


def _imports_torch(code: str) -> bool:
    probe = f"{code}\nimport sys\nsys.exit(3 if 'torch' in sys.modules else 0)"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=300
    )
    assert result.returncode in (0, 3), result.stderr
    return result.returncode == 3


def test_toyforge_never_imports_torch():
    pytest.importorskip("numba")
    assert not _imports_torch(_IMPORTS)


def test_torch_probe_can_fail():
    # Meta-test: the probe must detect torch when something imports it (faked via sys.modules).
    assert _imports_torch("import sys, types; sys.modules['torch'] = types.ModuleType('torch')")


def test_version_and_lazy_exports():
    assert toyforge.__version__
    for name in toyforge.__all__:
        assert getattr(toyforge, name) is not None, name
    with pytest.raises(AttributeError):
        toyforge.does_not_exist  # noqa: B018


def test_error_family_and_message():
    error = InvalidParameter("feature_prob", 1.5, "0 < feature_prob <= 1")
    assert isinstance(error, ToyforgeError) and isinstance(error, ValueError)
    assert str(error) == "feature_prob=1.5 is invalid: allowed is 0 < feature_prob <= 1"
    assert issubclass(CorruptFile, ToyforgeError)
    assert issubclass(IncompatibleWeights, ToyforgeError)


def test_python_dash_m_runs():
    result = subprocess.run(
        [sys.executable, "-m", "toyforge", "--version"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0
    assert result.stdout.startswith("toyforge ")


def test_cli_usage_error_is_one_line():
    result = subprocess.run(
        [sys.executable, "-m", "toyforge", "no-such-command"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
