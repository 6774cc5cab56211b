"""The one wall clock of the app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rxapp.services.clock import utcnow


def test_utcnow_is_timezone_aware_utc():
    now = utcnow()
    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(0)


def test_utcnow_is_the_current_time():
    before = datetime.now(UTC)
    now = utcnow()
    after = datetime.now(UTC)
    assert before <= now <= after
