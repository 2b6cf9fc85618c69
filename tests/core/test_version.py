"""One version, readable from the ground floor without importing the front package."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import toyforge
from toyforge.core import version


def test_version_is_the_installed_distribution_version() -> None:
    assert version.__version__ == metadata.version("toyforge")
    assert toyforge.__version__ is version.__version__


def test_core_version_does_not_import_the_front_package() -> None:
    code = (
        "import sys\n"
        "import toyforge.core.version as v\n"
        "front = [m for m in ('toyforge.cli', 'toyforge.commands', 'toyforge.report') "
        "if m in sys.modules]\n"
        "assert not front, front\n"
        "print(v.__version__)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == metadata.version("toyforge")
