"""``python -m toyforge`` runs the command-line interface."""

import sys

from toyforge.cli import main

sys.exit(main())
