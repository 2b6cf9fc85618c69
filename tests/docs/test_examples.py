"""Every ``console`` and ``python`` example in README.md and docs/*.md runs as written.

The runner is small on purpose (a reader can check what it does):

* A ```` ```python ```` block is executed with :func:`exec` in a fresh namespace. A block whose
  first line starts with ``>>>`` is run as a doctest session instead.
* A ```` ```console ```` block is a sequence of commands, each a line ``$ toyforge ...`` (a line
  ending in ``\\`` continues on the next). The command goes through :func:`toyforge.cli.main`
  in-process, with ``shlex``-split arguments (``#`` starts a comment). The lines after a command,
  up to the next ``$`` line, are its expected output (stdout and stderr together). A comment
  ``# exit status N`` on the command line states the expected exit status (default 0). Every
  ``$`` line of a console block must be a ``toyforge`` command; other shell snippets belong in
  ```` ```bash ```` blocks, which are not executed.
* Output is compared exactly, trailing whitespace aside, unless the block is preceded by the
  HTML comment ``<!-- output: approximate -->`` (Monte Carlo numbers, timings): then the block
  only has to run (exit status as stated, doctest examples without an unexpected exception).
* ``<!-- example: slow -->`` before a block marks its case ``slow``.

Each block runs in its own temporary folder holding a copy of ``examples/`` (the working
directory is changed there, as if in a checkout), so the files an example writes are removed
afterwards; a block must therefore be self-contained, as a reader pasting it would need.
"""

from __future__ import annotations

import contextlib
import doctest
import io
import os
import re
import shlex
import shutil
import textwrap
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

from toyforge.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_FENCE = re.compile(r"^```(\w*)\s*$")
_MARKER = re.compile(r"^<!--\s*(output|example)\s*:\s*([\w-]+)\s*-->\s*$")
_EXIT = re.compile(r"#\s*exit status (\d+)")


@dataclass(frozen=True, kw_only=True, slots=True)
class Block:
    """One fenced example: where it is, its language, its text and its markers."""

    path: Path
    line: int  # 1-based line of the opening fence
    language: str
    text: str
    approximate: bool
    slow: bool

    @property
    def ident(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def parse_blocks(path: Path) -> list[Block]:
    """The ``python`` and ``console`` blocks of a Markdown file, with their markers."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    markers: set[tuple[str, str]] = set()
    i = 0
    while i < len(lines):
        marker = _MARKER.match(lines[i].strip())
        if marker:
            markers.add((marker.group(1), marker.group(2)))
            i += 1
            continue
        fence = _FENCE.match(lines[i])
        if not fence:
            if lines[i].strip():
                markers = set()
            i += 1
            continue
        start = i
        i += 1
        body: list[str] = []
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        if fence.group(1) in ("python", "console"):
            blocks.append(
                Block(
                    path=path,
                    line=start + 1,
                    language=fence.group(1),
                    text="\n".join(body) + "\n",
                    approximate=("output", "approximate") in markers,
                    slow=("example", "slow") in markers,
                )
            )
        markers = set()
        i += 1
    return blocks


def console_commands(text: str) -> list[tuple[str, int, str]]:
    """``(command, expected exit status, expected output)`` for each ``$`` line of a block."""
    commands: list[tuple[str, int, str]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.startswith("$ "):
            raise AssertionError(f"console output before any command: {line!r}")
        command = line[2:]
        while command.endswith("\\"):
            i += 1
            command = command[:-1] + " " + lines[i].strip()
        i += 1
        output: list[str] = []
        while i < len(lines) and not lines[i].startswith("$ "):
            output.append(lines[i])
            i += 1
        status = _EXIT.search(command)
        commands.append((command, int(status.group(1)) if status else 0, "\n".join(output)))
    return commands


def _normalise(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def run_console(block: Block) -> None:
    for command, expected_status, expected in console_commands(block.text):
        argv = shlex.split(command, comments=True)
        assert argv and argv[0] == "toyforge", (
            f"{block.ident}: only `toyforge` commands run in console blocks, got {command!r}"
        )
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            try:
                status = cli_main(argv[1:])
            except SystemExit as stop:  # argparse's --help/--version and usage errors
                status = stop.code if isinstance(stop.code, int) else 1
        got = buffer.getvalue()
        assert status == expected_status, (
            f"{block.ident}: `{command}` exited {status}, expected {expected_status}:\n{got}"
        )
        if not block.approximate:
            assert _normalise(got) == _normalise(expected), (
                f"{block.ident}: output of `{command}` differs\n--- documented\n{expected}\n"
                f"--- actual\n{got}"
            )


class _AnyOutput(doctest.OutputChecker):
    """Accept any printed output (approximate blocks), but not a missing expected exception."""

    def check_output(self, want: str, got: str, optionflags: int) -> bool:
        return not want.startswith("Traceback")


def run_python(block: Block) -> None:
    if block.text.lstrip().startswith(">>>"):
        parser = doctest.DocTestParser()
        test = parser.get_doctest(block.text, {}, block.ident, str(block.path), block.line)
        checker = _AnyOutput() if block.approximate else doctest.OutputChecker()
        runner = doctest.DocTestRunner(
            checker=checker, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
        )
        report = io.StringIO()
        runner.run(test, out=report.write)
        assert runner.failures == 0, f"{block.ident}: doctest failed\n{report.getvalue()}"
        return
    code = compile(textwrap.dedent(block.text), block.ident, "exec")
    namespace = {"__name__": "__main__"}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(code, namespace)  # noqa: S102 - executing the documentation is the point


def _cases() -> list:
    cases = []
    for path in DOCUMENTS:
        for block in parse_blocks(path):
            marks = [pytest.mark.slow] if block.slow else []
            cases.append(pytest.param(block, id=block.ident, marks=marks))
    return cases


@pytest.mark.parametrize("block", _cases())
def test_example_runs_as_written(block: Block, tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    previous = Path.cwd()
    os.chdir(tmp_path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a reader sees warnings; they do not fail a block
            if block.language == "console":
                run_console(block)
            else:
                run_python(block)
    finally:
        os.chdir(previous)


def test_parser_reads_markers_continuations_and_exit_status(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        "text\n\n<!-- output: approximate -->\n<!-- example: slow -->\n```console\n"
        "$ toyforge predict \\\n    --ratio 2   # exit status 2\nerror line\n```\n\n"
        "```python\nprint(1)\n```\n\n```bash\nmake demo\n```\n",
        encoding="utf-8",
    )
    console, python = parse_blocks(doc)
    assert (console.language, console.approximate, console.slow, console.line) == (
        "console",
        True,
        True,
        5,
    )
    assert (python.language, python.approximate, python.slow) == ("python", False, False)
    [(command, status, output)] = console_commands(console.text)
    assert shlex.split(command, comments=True) == ["toyforge", "predict", "--ratio", "2"]
    assert (status, output) == (2, "error line")


def test_runner_detects_a_wrong_output(tmp_path: Path) -> None:
    wrong = Block(
        path=ROOT / "README.md",
        line=1,
        language="console",
        text="$ toyforge predict --ratio 0.25 --feature-prob 0.05 --json\nnot this\n",
        approximate=False,
        slow=False,
    )
    with pytest.raises(AssertionError, match="differs"):
        run_console(wrong)
