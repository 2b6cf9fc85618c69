"""Helpers shared by the CLI subcommands: argument types, output paths, tables, progress bars."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from toyforge.core.errors import InvalidParameter
from toyforge.core.serde import to_jsonable

T = TypeVar("T")


def float_arg(text: str) -> float:
    """argparse type: a finite float (argparse turns the ValueError into a one-line error)."""
    value = float(text)
    if not np.isfinite(value):
        raise ValueError(text)
    return value


float_arg.__name__ = "number"


def float_list_arg(text: str) -> tuple[float, ...]:
    """argparse type: ``0.05,0.1`` -> (0.05, 0.1); at least one finite number."""
    try:
        values = tuple(float_arg(part) for part in text.split(",") if part.strip())
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected numbers like 0.05,0.1, got {text!r}") from error
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    return values


def int_list_arg(text: str) -> tuple[int, ...]:
    """argparse type: ``1,5,7`` -> (1, 5, 7); at least one integer."""
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected integers like 1,5,7, got {text!r}") from error
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values


def positive_int_list_arg(text: str) -> tuple[int, ...]:
    """argparse type: like :func:`int_list_arg`, every value >= 1."""
    values = int_list_arg(text)
    if min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def grid_arg(text: str) -> tuple[float, float, int]:
    """argparse type for ``A:B:K`` (K points from A to B inclusive)."""
    parts = text.split(":")
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"expected START:STOP:COUNT, got {text!r}")
    try:
        start, stop, count = float(parts[0]), float(parts[1]), int(parts[2])
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected START:STOP:COUNT, got {text!r}") from error
    if count < 1:
        raise argparse.ArgumentTypeError(f"COUNT must be >= 1, got {count}")
    return start, stop, count


def grid_values(spec: tuple[float, float, int], log: bool, name: str) -> np.ndarray:
    """The points of a ``grid_arg`` spec, linearly or logarithmically spaced."""
    start, stop, count = spec
    if log:
        if start <= 0 or stop <= 0:
            raise InvalidParameter(name, f"{start}:{stop}:{count}", "positive bounds with --log")
        return np.geomspace(start, stop, count)
    return np.linspace(start, stop, count)


WEIGHT_SUFFIXES = (".npz", ".safetensors")
FIGURE_SUFFIXES = (".png", ".pdf", ".svg")


def output_path(path: str, name: str = "--out", suffixes: Sequence[str] | None = None) -> Path:
    """Check that ``path`` can be written (its folder exists and is writable) and, when
    ``suffixes`` are given, that it ends in one of them."""
    target = Path(path)
    if suffixes is not None and target.suffix.lower() not in suffixes:
        raise InvalidParameter(name, path, "a file name ending in " + ", ".join(suffixes))
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise InvalidParameter(name, path, "a path in an existing folder")
    if not os.access(folder, os.W_OK):
        raise InvalidParameter(name, path, "a path in a writable folder")
    if target.is_dir():
        raise InvalidParameter(name, path, "a file path, not a folder")
    return target


def weights_path(path: str, name: str = "--out") -> Path:
    """:func:`output_path` for a weight file (``.npz`` or ``.safetensors``)."""
    return output_path(path, name, WEIGHT_SUFFIXES)


def figure_path(path: str, name: str = "--out") -> Path:
    """:func:`output_path` for an image (``.png``, ``.pdf`` or ``.svg``)."""
    return output_path(path, name, FIGURE_SUFFIXES)


def planned_folder(path: str, name: str = "--out") -> Path:
    """Check that folder ``path`` exists and is writable, or can be created; create nothing
    (the command creates it once every other option is checked)."""
    folder = Path(path)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise InvalidParameter(name, path, f"a folder ({existing} is a file)")
    if not os.access(existing, os.W_OK):
        raise InvalidParameter(name, path, "a writable folder")
    return folder


def output_folder(path: str, name: str = "--out") -> Path:
    """Create folder ``path`` if needed and check it is writable."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InvalidParameter(name, path, f"a creatable folder ({error.strerror})") from error
    if not os.access(folder, os.W_OK):
        raise InvalidParameter(name, path, "a writable folder")
    return folder


def print_json(obj: Any) -> None:
    """Print ``obj`` as indented JSON on stdout."""
    print(json.dumps(to_jsonable(obj), indent=2, allow_nan=False))


def format_number(value: Any) -> str:
    """Numbers in 4 significant digits, everything else as str."""
    if isinstance(value, (float, np.floating)):
        return f"{value:.4g}"
    return str(value)


def print_table(rows: Sequence[Sequence[Any]], header: Sequence[str] | None = None) -> None:
    """Print an aligned plain-text table."""
    cells = [[format_number(v) for v in row] for row in rows]
    if header is not None:
        cells.insert(0, list(header))
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    for index, row in enumerate(cells):
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print(line.rstrip())
        if header is not None and index == 0:
            print("  ".join("-" * width for width in widths))


def save_and_report_construction(
    model: Any, out: Path, info: dict[str, Any], as_json: bool
) -> None:
    """Write a built model with ``info`` as its construction metadata, then print ``info``.

    ``--json`` prints the dictionary; otherwise a quantity/value table and the path written.
    """
    from toyforge.constructions.io import save  # the CLI loads no layer before a command runs

    save(model, out, metadata={"construction": info})
    if as_json:
        print_json(info)
    else:
        print_table([[key, value] for key, value in info.items()], header=["quantity", "value"])
        print(f"wrote {out}")


def progress(
    iterable: Iterable[T], *, total: int | None = None, desc: str = "", enabled: bool = True
) -> Iterator[T]:
    """Wrap ``iterable`` in a tqdm bar on stderr when tqdm is installed and ``enabled``."""
    if enabled and sys.stderr.isatty() or enabled and os.environ.get("TOYFORGE_PROGRESS") == "1":
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return iter(iterable)
        return iter(tqdm(iterable, total=total, desc=desc, file=sys.stderr, leave=False))
    return iter(iterable)


def register_family(subparsers: Any, name: str, help_text: str) -> None:
    """Register a command family (``train``, ``build``, ``figure``, ``compare``, …).

    Every module ``toyforge.commands._<name>_<member>`` defines ``register(members)`` and adds
    its own sub-subcommand (``toyforge train relu-ae``, ``toyforge build persian-rug``), so
    adding a member never edits a shared file.
    """
    import importlib
    import pkgutil

    import toyforge.commands

    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    members = parser.add_subparsers(dest=f"{name}_kind", metavar="KIND", parser_class=type(parser))
    members.required = True
    prefix = f"_{name}_"
    for info in sorted(pkgutil.iter_modules(toyforge.commands.__path__), key=lambda i: i.name):
        if info.name.startswith(prefix):
            importlib.import_module(f"toyforge.commands.{info.name}").register(members)
