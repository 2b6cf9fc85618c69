"""Atomic writes: toyforge's own temporary names, nothing left behind, stale files cleaned."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from toyforge.core import fileio


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.fixture(autouse=True)
def _fresh_cleanup_cache(monkeypatch):
    monkeypatch.setattr(fileio, "_cleaned", set())


def test_write_replaces_atomically_and_leaves_nothing(tmp_path):
    target = tmp_path / "a.txt"
    fileio.atomic_write_text(target, "one")
    fileio.atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_failed_write_leaves_no_file(tmp_path):
    target = tmp_path / "a.txt"
    with pytest.raises(RuntimeError), fileio.atomic_path(target) as temp:
        temp.write_text("half")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_temporary_names_are_toyforge_s_own(tmp_path):
    with fileio.atomic_path(tmp_path / "w.npz", suffix=".npz") as temp:
        match = fileio._TEMP_PATTERN.match(temp.name)
        assert match and match["name"] == "w.npz" and int(match["pid"]) == os.getpid()
        assert temp.name.endswith(".tmp.npz")
        temp.write_bytes(b"x")


def test_stale_files_of_dead_processes_are_removed_on_the_next_write(tmp_path):
    host = fileio._host_tag()
    stale = tmp_path / f".a.txt.toyforge-{host}-{dead_pid()}-0123abcd.tmp"
    live = tmp_path / f".b.txt.toyforge-{host}-{os.getppid()}-0123abcd.tmp"
    other_host = tmp_path / f".c.txt.toyforge-{'0' * 6 if host != '0' * 6 else '1' * 6}-1-0.tmp"
    unrelated = tmp_path / ".d.txt.abcdefgh.tmp"
    for path in (stale, live, other_host, unrelated):
        path.write_text("x")
    fileio.atomic_write_text(tmp_path / "z.txt", "z")
    assert not stale.exists()
    assert live.exists() and other_host.exists() and unrelated.exists()


def test_a_killed_writer_leaves_a_temporary_that_the_next_run_removes(tmp_path):
    code = (
        "import os, signal, sys\n"
        "from toyforge.core.fileio import atomic_path\n"
        "with atomic_path(sys.argv[1]) as temp:\n"
        "    temp.write_text('half')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "w.txt")], check=False)
    assert result.returncode == -9
    (left,) = tmp_path.iterdir()
    assert fileio._TEMP_PATTERN.match(left.name)
    fileio.atomic_write_text(tmp_path / "w.txt", "whole")
    assert [p.name for p in tmp_path.iterdir()] == ["w.txt"]
