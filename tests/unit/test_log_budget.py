"""A cap on the log lines anyone on the network can cause."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from rxapp import log_budget
from rxapp.log_budget import LogBudget


def test_a_minute_holds_so_many_lines_then_says_how_many_were_left_out(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clock = [600.0]
    monkeypatch.setattr(log_budget.time, "monotonic", lambda: clock[0])
    logger = logging.getLogger("rxapp.test_budget")
    budget = LogBudget(logger, 3, "test reports")
    with caplog.at_level(logging.WARNING, logger="rxapp.test_budget"):
        for number in range(5):
            budget.warn("line %d", number)
        assert [r.getMessage() for r in caplog.records] == [
            "line 0",
            "line 1",
            "line 2",
            "rxapp: more test reports this minute than the log takes: the rest are counted",
        ]
        clock[0] += 60
        budget.warn("line %d", 5)
    assert [r.getMessage() for r in caplog.records][4:] == [
        "rxapp: 2 more test reports were not logged",
        "line 5",
    ]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [600.0]
    monkeypatch.setattr(log_budget.time, "monotonic", lambda: now[0])
    return now


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records]


def test_one_source_spends_its_share_and_another_is_still_logged(
    clock: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    budget = LogBudget(logging.getLogger("rxapp.test_budget"), 6, "refusals", per_source=2)
    with caplog.at_level(logging.WARNING, logger="rxapp.test_budget"):
        for number in range(40):  # a flood from one address, over many connections
            budget.warn("flood %d", number, source="203.0.113.9")
        budget.warn("probe", source="198.51.100.7")
    assert _lines(caplog) == [
        "flood 0",
        "flood 1",
        "rxapp: more refusals from 203.0.113.9 this minute than the log takes: "
        "the rest are counted",
        "probe",
    ]
    clock[0] += 60
    budget.warn("later", source="203.0.113.9")
    assert _lines(caplog)[4:] == ["rxapp: 38 more refusals were not logged", "later"]


def test_when_the_whole_minute_is_spent_it_is_said_once(
    clock: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    budget = LogBudget(logging.getLogger("rxapp.test_budget"), 3, "refusals", per_source=2)
    with caplog.at_level(logging.WARNING, logger="rxapp.test_budget"):
        for number in range(6):  # six addresses, one line each
            budget.warn("line %d", number, source=f"192.0.2.{number}")
    assert _lines(caplog) == [
        "line 0",
        "line 1",
        "line 2",
        "rxapp: more refusals this minute than the log takes: the rest are counted",
    ]


def test_addresses_of_one_ipv6_network_are_one_source() -> None:
    assert log_budget.source_of("2001:db8:1:2:aaaa::1") == log_budget.source_of("2001:db8:1:2::9")
    assert log_budget.source_of("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert log_budget.source_of("2001:db8:1:3::1") != log_budget.source_of("2001:db8:1:2::1")
    assert log_budget.source_of("::ffff:192.0.2.1") == "192.0.2.1"
    assert log_budget.source_of("192.0.2.1") == "192.0.2.1"
    assert log_budget.source_of("") == ""


def test_the_count_left_out_is_logged_when_the_minute_ends_without_another_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = time.monotonic
    # A clock whose minute ends 0.2 s from now (the event loop reads the same clock).
    offset = 60 - real() % 60 - 0.2
    monkeypatch.setattr(log_budget.time, "monotonic", lambda: real() + offset)

    async def flood_then_stop() -> None:
        budget = LogBudget(logging.getLogger("rxapp.test_budget"), 1, "refusals")
        for line in ("one", "two", "three"):
            budget.warn(line)
        await asyncio.sleep(0.6)

    with caplog.at_level(logging.WARNING, logger="rxapp.test_budget"):
        asyncio.run(flood_then_stop())
    assert _lines(caplog) == [
        "one",
        "rxapp: more refusals this minute than the log takes: the rest are counted",
        "rxapp: 2 more refusals were not logged",
    ]
