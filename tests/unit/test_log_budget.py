"""A cap on the log lines anyone on the network can cause."""

from __future__ import annotations

import logging

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
        assert [r.getMessage() for r in caplog.records] == ["line 0", "line 1", "line 2"]
        clock[0] += 60
        budget.warn("line %d", 5)
    assert [r.getMessage() for r in caplog.records][3:] == [
        "rxapp: 2 more test reports were not logged",
        "line 5",
    ]
