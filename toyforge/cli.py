"""The ``toyforge`` command line.

Each subcommand lives in its own module under :mod:`toyforge.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a function
``run(args) -> int``. Heavy imports happen inside ``run``, so ``toyforge --help`` is fast.

User mistakes (a bad number, an out-of-range value, an unwritable path, a corrupt file) print one
line on stderr and exit with status 2 — never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import NoReturn

from toyforge.core.errors import ToyforgeError

# Subcommands in the order they appear in --help; any other public module under
# toyforge.commands is appended alphabetically (so adding a command never edits this file).
PREFERRED_ORDER: tuple[str, ...] = (
    "demo",
    "predict",
    "scan",
    "build",
    "train",
    "evaluate",
    "compare",
    "figure",
    "double_descent",
    "sweep",
    "sweep_status",
    "report",
    "warmup",
)


def command_modules() -> list[str]:
    """Names of the subcommand modules under :mod:`toyforge.commands`."""
    import pkgutil

    import toyforge.commands

    found = {
        info.name
        for info in pkgutil.iter_modules(toyforge.commands.__path__)
        if not info.name.startswith("_")
    }
    ordered = [name for name in PREFERRED_ORDER if name in found]
    return ordered + sorted(found - set(ordered))


EXIT_USAGE = 2


class _OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered subcommand."""
    from toyforge import __version__

    parser = _OneLineParser(
        prog="toyforge",
        description="Solver for toy models of neural networks.",
    )
    parser.add_argument("--version", action="version", version=f"toyforge {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log progress (-v info, -vv debug) to stderr",
    )
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_OneLineParser
    )
    for name in command_modules():
        importlib.import_module(f"toyforge.commands.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI on ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except ToyforgeError as error:
        print(f"toyforge {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:  # unwritable or missing paths
        print(f"toyforge {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"toyforge {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
