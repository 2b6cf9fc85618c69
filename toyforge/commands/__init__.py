"""One module per CLI subcommand; see :mod:`toyforge.cli`.

Imports: the CLI imports every module here at startup to build its parser, so a command module
imports the project's layers (and with them numba, matplotlib, scipy, sympy) inside the
function that runs the command, never at module top: ``toyforge --help`` and every command
load only what that command needs. ``tests/cli/test_cli_startup.py`` checks it.
"""
