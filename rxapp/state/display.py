"""Values as the browser shows them."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_time(value: datetime | None) -> str:
    """A UTC time as ISO 8601 for the browser, which shows it in the reader's time zone."""
    if value is None:
        return ""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="seconds")


def day_in_words(value: datetime) -> str:
    """A date in server-made text, written as the pages write dates: `Dec 7, 2026`."""
    return f"{value:%b} {value.day}, {value.year}"
