"""Memory and work budgets: sizes parsed, limits read, refusals that name the flag."""

from __future__ import annotations

import pytest

from toyforge.core import budget
from toyforge.core.errors import InvalidParameter


@pytest.mark.parametrize(
    ("text", "expected"),
    [("512", 512), ("1K", 1024), ("2M", 2 * 2**20), ("1.5G", 3 * 2**29), ("8GiB", 8 * 2**30)],
)
def test_parse_size(text, expected):
    assert budget.parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "-1G", "0", "1X", "nan", "1e400G"])
def test_parse_size_refuses_nonsense(text):
    with pytest.raises(ValueError, match="size"):
        budget.parse_size(text)


def test_available_memory_matches_proc_meminfo():
    with open("/proc/meminfo") as handle:
        fields = dict(line.split(":", 1) for line in handle)
    expected = int(fields["MemAvailable"].split()[0]) * 1024
    # both readings are snapshots of a live value: allow 10% drift between them
    assert budget.available_memory() == pytest.approx(expected, rel=0.1)


def test_limit_order_override_then_environment_then_machine(monkeypatch):
    monkeypatch.delenv(budget.MEMORY_ENV, raising=False)
    assert budget.memory_limit() == pytest.approx(budget.available_memory(), rel=0.1)
    monkeypatch.setenv(budget.MEMORY_ENV, "3M")
    assert budget.memory_limit() == 3 * 2**20
    with budget.memory_limit_set_to(1000):
        assert budget.memory_limit() == 1000
    assert budget.memory_limit() == 3 * 2**20
    monkeypatch.setenv(budget.MEMORY_ENV, "lots")
    with pytest.raises(InvalidParameter, match=budget.MEMORY_ENV):
        budget.memory_limit()


def test_check_memory_names_flag_value_need_and_limit():
    with budget.memory_limit_set_to(2**20):
        budget.check_memory("--features", 10, 2**20)  # exactly at the limit: allowed
        with pytest.raises(InvalidParameter) as caught:
            budget.check_memory("--features", 10**6, 8e12, what="the weight matrix")
    message = str(caught.value)
    assert message.startswith("--features=1000000 is invalid")
    assert "the weight matrix would need 7.3 TiB" in message
    assert "1.0 MiB is available" in message and "--max-memory" in message
    assert "\n" not in message


def test_check_memory_refuses_nan_and_inf():
    for amount in (float("inf"), float("nan")):
        with pytest.raises(InvalidParameter):
            budget.check_memory("--x", 1, amount)


def test_check_work():
    budget.check_work("--samples", 10, budget.MAX_WORK_OPERATIONS)
    with pytest.raises(InvalidParameter, match="--samples=.*operations"):
        budget.check_work("--samples", 2**62, 2.0**62 * 100)


def test_format_bytes():
    assert budget.format_bytes(512) == "512 B"
    assert budget.format_bytes(1536) == "1.5 KiB"
    assert budget.format_bytes(3 * 2**30) == "3.0 GiB"
