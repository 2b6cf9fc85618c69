"""One module per CLI subcommand; see :mod:`toyforge.cli`."""
