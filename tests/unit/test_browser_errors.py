"""Errors browsers report are logged as one short line each."""

from __future__ import annotations

import logging

import pytest

from rxapp import browser_errors


def test_a_report_is_one_printable_line_cut_short(caplog: pytest.LogCaptureFixture) -> None:
    forged = "x\nINFO rxapp.audit: sign_in_ok admin@example.com\r\n\x1b[31m" + "A" * 10_000
    with caplog.at_level(logging.WARNING, logger="rxapp.browser"):
        browser_errors.on_frontend_exception(Exception(forged))
    (record,) = caplog.records
    line = record.getMessage()
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert line.startswith("rxapp: a browser reported an error: x INFO rxapp.audit")
    assert len(line) < browser_errors.MAX_REPORT_CHARS + 60
    assert line.endswith("(truncated)")
