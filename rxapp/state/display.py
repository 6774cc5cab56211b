"""Values as the browser shows them."""

from __future__ import annotations

from datetime import UTC, datetime

from rxapp.services.audit import ADMIN_CHANGES, Event


def iso_time(value: datetime | None) -> str:
    """A UTC time as ISO 8601 for the browser, which shows it in the reader's time zone."""
    if value is None:
        return ""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="seconds")


def day_in_words(value: datetime) -> str:
    """A date in server-made text, written as the pages write dates: `Dec 7, 2026`."""
    return f"{value:%b} {value.day}, {value.year}"


def admin_changes_notice(changes: list[tuple[Event, datetime]]) -> str:
    """Tell the owner what an admin changed on their account since they last signed in."""
    if not changes:
        return ""
    told = " ".join(
        f"An admin {ADMIN_CHANGES[event]} on {day_in_words(at)}." for event, at in changes
    )
    return f"{told} If you did not ask for this, contact your admin."
