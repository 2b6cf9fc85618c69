"""The ``toyforge`` command line.

Each subcommand lives in its own module under :mod:`toyforge.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a function
``run(args) -> int``. Heavy imports happen inside ``run``, so ``toyforge --help`` is fast.

User mistakes (a bad number, an out-of-range value, an unwritable path, a corrupt file) print one
line on stderr and exit with status 2 — never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import pkgutil
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import toyforge.commands
from toyforge.commands._budgets import check_budget
from toyforge.core.budget import memory_limit_set_to, parse_size
from toyforge.core.errors import InvalidParameter, ToyforgeError
from toyforge.core.version import __version__

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
    _add_max_memory(parser, top_level=True)
    return parser


MAX_MEMORY_HELP = (
    "refuse work whose arrays would need more than SIZE (e.g. 512M, 8G; default: the "
    "available memory)"
)


def _add_max_memory(parser: argparse.ArgumentParser, *, top_level: bool) -> None:
    """``--max-memory`` on the top-level parser and on every (nested) subcommand."""
    parser.add_argument(
        "--max-memory",
        type=parse_size,
        metavar="SIZE",
        help=MAX_MEMORY_HELP,
        **({"default": None} if top_level else {"default": argparse.SUPPRESS}),
    )
    for action in parser._actions:  # argparse keeps subcommand parsers only here
        if isinstance(action, argparse._SubParsersAction):
            for subparser in dict.fromkeys(action.choices.values()):
                _add_max_memory(subparser, top_level=False)


# Library parameter names that a command's option carries under another name (its dest).
_LIBRARY_NAMES = {
    "n_features": "features",
    "n_hidden": "hidden",
    "n_test": "test_points",
    "n_points": "points",
    "steps": "steps",
    "warmup_steps": "warmup",
    "eval_every": "log_every",
    "n_samples": "samples",
    "batch_size": "batch",
    "path": "file",
    "modulus": "modulus",
}


def _invoked_parser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Any:
    """The (sub-)subparser that parsed ``args``."""
    for name in (args.command, getattr(args, f"{args.command}_kind", None)):
        actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if name is None or not actions or name not in actions[0].choices:
            break
        parser = actions[0].choices[name]
    return parser


def _as_flag(
    parser: argparse.ArgumentParser, args: argparse.Namespace, name: str, value: object
) -> str:
    """The option string of the invoked command whose destination is ``name`` (or its library
    alias) and whose parsed value is ``value``, else ``name`` unchanged (a library parameter
    that the user did not type, e.g. a file's ``path`` beside an unrelated ``--path``)."""
    dest = _LIBRARY_NAMES.get(name, name)
    for action in _invoked_parser(parser, args)._actions:
        if action.dest != dest or not _same(getattr(args, dest, None), value):
            continue
        if action.option_strings:
            return max(action.option_strings, key=len)
        return str(action.metavar or dest.upper())  # a positional argument
    return name


def _same(typed: object, received: object) -> bool:
    try:
        return bool(typed == received)
    except (TypeError, ValueError):  # e.g. arrays compared elementwise
        return False


def _user_facing(
    error: ToyforgeError, parser: argparse.ArgumentParser, args: argparse.Namespace
) -> ToyforgeError:
    """An InvalidParameter named as the user typed it (``--test-points``, not ``n_test``)."""
    if isinstance(error, InvalidParameter) and not error.name.startswith("-"):
        flag = _as_flag(parser, args, error.name, error.value)
        if flag != error.name:
            return InvalidParameter(flag, error.value, error.allowed)
    return error


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _silence_stdout() -> None:
    """After a broken pipe (``toyforge ... | head``), send further output nowhere."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


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
        with memory_limit_set_to(args.max_memory):
            check_budget(args)
            status = int(args.func(args) or 0)
            sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
            return status
    except BrokenPipeError:  # the reader of our output went away: not an error of ours
        _silence_stdout()
        return 0
    except ToyforgeError as error:
        error = _user_facing(error, parser, args)
        print(f"toyforge {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:  # unwritable or missing paths
        print(f"toyforge {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return EXIT_USAGE
    except MemoryError:  # a last resort: the budgets should refuse such work up front
        print(
            f"toyforge {args.command}: error: out of memory; use smaller sizes or a lower "
            "--max-memory so that the command refuses up front",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"toyforge {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
