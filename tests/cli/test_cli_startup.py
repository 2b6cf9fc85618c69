"""Building the CLI parser imports no layer below the front and no heavy dependency."""

from __future__ import annotations

import subprocess
import sys


def test_parser_imports_no_layer_and_no_heavy_dependency() -> None:
    code = (
        "import sys\n"
        "from toyforge.cli import build_parser\n"
        "build_parser()\n"
        "heavy = ('numba', 'matplotlib', 'scipy', 'sympy', 'toyforge.theory',\n"
        "         'toyforge.constructions', 'toyforge.verify', 'toyforge.figures',\n"
        "         'toyforge.report', 'toyforge.demo')\n"
        "print(' '.join(name for name in heavy if name in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
