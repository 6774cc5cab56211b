"""Values as pages and server-made messages show them."""

from __future__ import annotations

from datetime import UTC, datetime

from rxapp.services import audit
from rxapp.state.display import admin_changes_notice, day_in_words, iso_time
from rxapp.state.passcode import _failed_codes_notice


def test_server_made_text_writes_dates_as_the_pages_do():
    assert day_in_words(datetime(2026, 12, 7, 9, 5, tzinfo=UTC)) == "Dec 7, 2026"
    assert day_in_words(datetime(2027, 1, 31, tzinfo=UTC)) == "Jan 31, 2027"


def test_the_failed_codes_notice_says_when_in_the_same_words():
    failed = audit.FailedCodes(
        count=1, latest_at=datetime(2026, 12, 7, 9, 5, tzinfo=UTC), latest_ip="192.0.2.7"
    )

    assert _failed_codes_notice(failed) == (
        "1 failed code attempt on your account since you last signed in, the latest on "
        "Dec 7, 2026, 09:05 UTC from 192.0.2.7. If that was not you, someone knows your "
        "password."
    )


def test_times_go_to_the_browser_as_utc_iso_8601():
    assert iso_time(datetime(2026, 12, 7, 9, 5)) == "2026-12-07T09:05:00+00:00"
    assert iso_time(None) == ""


def test_the_admins_changes_are_told_in_the_pages_words():
    day = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    changes = [(audit.Event.ADMIN_RESET_2FA, day), (audit.Event.PASSWORD_RESET, day)]

    assert admin_changes_notice(changes) == (
        "An admin reset your two-factor authentication on Dec 1, 2026. "
        "An admin set a new password for your account on Dec 1, 2026. "
        "If you did not ask for this, contact your admin."
    )
    assert admin_changes_notice([]) == ""
