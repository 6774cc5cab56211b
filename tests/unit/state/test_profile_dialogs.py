"""The backup-code reveal and the enrolment key without a browser, with an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rxapp.services import reveals
from rxapp.state import profile_dialogs, secret_cache
from rxapp.state.profile_dialogs import BackupCodesState, EnrollState
from tests.unit.state.conftest import substate

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
CODES = ["AAAA-BBBB-CCCC-DDDD", "EEEE-FFFF-GGGG-HHHH"]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(profile_dialogs, "utcnow", clock)
    monkeypatch.setattr(secret_cache, "utcnow", clock)
    return clock


@pytest.fixture
def backup(root, connect, clock):
    auth = connect("sid-1")
    auth.session_token = "t" * 43
    state = substate(root, BackupCodesState)
    state._show(reveals.Reveal(ref="ref-1", values=CODES, expires_at=T0 + timedelta(seconds=30)))
    return state


def test_the_codes_show_for_the_reveal_and_never_after(backup, clock):
    assert backup.codes == CODES
    assert backup.countdown == 30 and backup.open
    clock.now = T0 + timedelta(seconds=29.9)
    assert backup.codes == CODES
    clock.now = T0 + timedelta(seconds=30)
    assert backup.codes == []


def test_the_codes_go_only_to_the_connection_that_proved_the_session(backup, connect):
    connect("sid-2")
    assert backup.codes == []


def test_the_tab_state_holds_a_reference_never_the_codes(backup):
    import pickle

    stored = pickle.dumps(backup)
    for code in CODES:
        assert code.encode() not in stored


def test_closing_the_dialog_forgets_the_codes_in_memory(backup):
    backup._hide()
    assert backup.codes == []
    assert secret_cache.get("ref-1") is None


def test_the_countdown_milestones_are_announced_not_every_second(backup):
    backup.countdown = 30
    assert backup.countdown_announcement == "About 30 seconds left to save your backup codes."
    backup.countdown = 12
    assert backup.countdown_announcement == "About 20 seconds left to save your backup codes."
    backup.countdown = 0
    assert backup.countdown_announcement == "The backup codes are hidden now."


def test_the_enrolment_key_is_shown_only_while_the_dialog_is_open_on_the_proven_connection(
    root, connect, clock
):
    auth = connect("sid-1")
    auth.session_token = "t" * 43
    enroll = substate(root, EnrollState)
    enroll._show(
        profile_dialogs.totp_flows.Enrollment(secret="JBSWY3DPEHPK3PXP", uri="u", qr_data_uri="q")
    )
    assert enroll.key["plain"] == "JBSWY3DPEHPK3PXP"
    assert enroll.key["grouped"] == "JBSW Y3DP EHPK 3PXP"
    connect("sid-2")
    assert enroll.key["plain"] == ""
    connect("sid-1")
    enroll._close()
    assert enroll.key["plain"] == ""
