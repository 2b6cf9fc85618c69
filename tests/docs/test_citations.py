"""Citations of the documentation resolve, and nothing cites notes a user does not have.

* Every ``docs/<page>.md`` or ``docs/<page>.md#<anchor>`` written in code, tests, examples,
  benchmarks, the Makefile, pyproject.toml, README.md or docs/ must name an existing page and,
  when an anchor is given, a heading of that page (GitHub's slug rule: lowercase, punctuation
  other than ``-`` and ``_`` removed, spaces turned into ``-``, ``-1``, ``-2`` … for repeats).
* Relative links between docs pages (``[text](page.md#anchor)``) must resolve the same way.
* Test references in docs (``tests/<path>.py::<name>``) must name an existing test function.
* No tracked file outside docs/ cites the background notes the project was built from
  (a section sign after the word spec, the design note, the note file names): a user cannot
  follow those. A section sign in code must come with its paper (arXiv number, year or
  "et al.") on the same line.
"""

from __future__ import annotations

import re
import subprocess
import unicodedata
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

CITATION = re.compile(r"(?<![\w/.-])docs/([\w.-]+?\.md)(?:#([\w-]+))?")
RELATIVE_LINK = re.compile(r"\]\((?!https?:|/|#)([\w.-]+\.md)(?:#([\w-]+))?\)")
TEST_REFERENCE = re.compile(r"(tests/[\w/]+\.py)::(\w+)")
BACKGROUND_NOTE = re.compile(
    r"(?i:spec) §|(?i:spec) `|(?<!docs/)persian_rug\.md|structured_superposition\.md|DESIGN\.md"
    r"|aesthetics_ecosystem\.md|(?<!docs/)modular_addition\.md|(?<!docs/)memorization\.md"
    r"|(?<!docs/)performance\.md"
)
FENCE_OR_CODE = re.compile(r"^```")
# A section sign in code names a section of some document; only a paper's is allowed there.
BARE_SECTION = re.compile(r"§\s?\d")
PAPER_CONTEXT = re.compile(r"arXiv|\b(?:19|20)\d\d\b|et al|paper")


def tracked_files() -> list[Path]:
    """Files under version control (the working tree's copy), or every file without git."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, text=True
        ).stdout.split("\0")
        return [ROOT / name for name in listed if name and (ROOT / name).is_file()]
    except (OSError, subprocess.CalledProcessError):  # a source tree without git
        return [p for p in ROOT.rglob("*") if p.is_file() and ".venv" not in p.parts]


def citing_files() -> list[Path]:
    """The files whose citations must resolve (code, tests, examples, benchmarks, docs)."""
    files = set()
    for path in tracked_files() + sorted(DOCS.glob("*.md")):
        rel = path.relative_to(ROOT)
        if path.suffix in (".py", ".md", ".toml") or rel.name == "Makefile":
            files.add(path)
    return sorted(files)


def github_slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading text."""
    text = re.sub(r"`|\*\*|__", "", heading.strip()).lower()
    kept = "".join(
        ch
        for ch in text
        if ch in " -_" or unicodedata.category(ch)[0] in ("L", "N") or ch.isalnum()
    )
    return kept.replace(" ", "-")


@cache
def anchors(page: str) -> frozenset[str]:
    """Every heading anchor of ``docs/<page>``, repeats numbered as GitHub does."""
    seen: dict[str, int] = {}
    found = set()
    in_fence = False
    for line in (DOCS / page).read_text(encoding="utf-8").splitlines():
        if FENCE_OR_CODE.match(line):
            in_fence = not in_fence
            continue
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if in_fence or not match:
            continue
        slug = github_slug(match.group(1))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return frozenset(found)


def _problems(path: Path, text: str, pattern: re.Pattern[str]) -> list[str]:
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        for match in pattern.finditer(line):
            page, anchor = match.group(1), match.group(2)
            where = f"{path.relative_to(ROOT)}:{number}"
            if not (DOCS / page).is_file():
                problems.append(f"{where}: docs/{page} does not exist")
            elif anchor and anchor not in anchors(page):
                problems.append(f"{where}: docs/{page} has no heading with anchor #{anchor}")
    return problems


def test_slug_rule_matches_github() -> None:
    assert github_slug("The closed-form loss") == "the-closed-form-loss"
    assert github_slug("Elementwise bounds: MMSE and JumpReLU") == (
        "elementwise-bounds-mmse-and-jumprelu"
    )
    assert github_slug("Untied quadratic (Gromov)") == "untied-quadratic-gromov"
    assert github_slug("`toyforge evaluate`") == "toyforge-evaluate"
    assert github_slug("Why p·n, not n") == "why-pn-not-n"
    assert github_slug("T-gon memoriser") == "t-gon-memoriser"
    assert github_slug("The paper's grid") == "the-papers-grid"


def test_the_docs_folder_has_its_index() -> None:
    assert (DOCS / "index.md").is_file()


def test_every_docs_citation_names_an_existing_page_and_heading() -> None:
    problems = []
    for path in citing_files():
        problems += _problems(path, path.read_text(encoding="utf-8", errors="replace"), CITATION)
    assert not problems, "broken docs citations:\n" + "\n".join(problems)


def test_links_between_docs_pages_resolve() -> None:
    problems = []
    for path in sorted(DOCS.glob("*.md")):
        problems += _problems(path, path.read_text(encoding="utf-8"), RELATIVE_LINK)
    assert not problems, "broken links in docs/:\n" + "\n".join(problems)


MARKDOWN_TARGET = re.compile(r"\]\((?!https?:|#|mailto:)([^)#\s]+)(?:#[^)]*)?\)")


def test_files_linked_from_readme_and_docs_exist() -> None:
    """Images and files linked from README.md and docs/ (relative to the linking file) exist."""
    problems = []
    for path in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for match in MARKDOWN_TARGET.finditer(line):
                if not (path.parent / match.group(1)).exists():
                    problems.append(f"{path.relative_to(ROOT)}:{number}: {match.group(1)}")
    assert not problems, "links to files that do not exist:\n" + "\n".join(problems)


def test_tests_named_in_docs_exist() -> None:
    problems = []
    for path in sorted(DOCS.glob("*.md")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for match in TEST_REFERENCE.finditer(line):
                test_file, name = ROOT / match.group(1), match.group(2)
                where = f"{path.relative_to(ROOT)}:{number}"
                if not test_file.is_file():
                    problems.append(f"{where}: {match.group(1)} does not exist")
                elif not re.search(rf"^\s*(async\s+)?def {name}\(", test_file.read_text(), re.M):
                    problems.append(f"{where}: {match.group(1)} has no function {name}")
    assert not problems, "docs name tests that do not exist:\n" + "\n".join(problems)


def test_no_file_outside_docs_cites_the_background_notes() -> None:
    this_file = Path(__file__).resolve()
    problems = []
    for path in tracked_files():
        rel = path.relative_to(ROOT)
        if rel.parts[0] == "docs" or path.resolve() == this_file:
            continue
        if path.suffix not in (".py", ".md", ".toml", ".txt", ".cfg", ".ini", ".yml", ".yaml"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            if BACKGROUND_NOTE.search(line):
                problems.append(f"{rel}:{number}: {line.strip()[:100]}")
    assert not problems, (
        "cite a docs/ page or a paper instead of the background notes:\n" + "\n".join(problems)
    )


def test_section_signs_in_code_belong_to_papers() -> None:
    problems = []
    for path in tracked_files():
        rel = path.relative_to(ROOT)
        if path.suffix not in (".py", ".toml") or rel.parts[:2] == ("tests", "docs"):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if BARE_SECTION.search(line) and not PAPER_CONTEXT.search(line):
                problems.append(f"{rel}:{number}: {line.strip()[:100]}")
    assert not problems, (
        "a section sign without its paper (cite docs/<page>.md#<section> instead):\n"
        + "\n".join(problems)
    )


@pytest.mark.parametrize(
    ("line", "cited"),
    [
        ("see docs/large_n_theory.md#the-closed-form-loss", False),
        ("(spec persian_rug" + ".md §2.3)", True),
        ("see docs/rug_construction.md#row-selection", False),
        ("DESIGN" + ".md numba rules", True),
        ("spec" + " §7 runs", True),
        ("Spec §3.3.", True),
        ("constructions/persian_rug.py", False),
    ],
)
def test_background_pattern(line: str, cited: bool) -> None:
    assert bool(BACKGROUND_NOTE.search(line)) is cited
