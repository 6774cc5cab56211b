"""Server-side sessions and pending logins, with time frozen by passing `now`."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from rxapp.models import AuthSession, PendingLogin, User
from rxapp.services import accounts, sessions
from rxapp.services.database import engine_for
from rxapp.settings import get_settings
from tests.conftest import stored_bytes

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
ABSOLUTE = timedelta(hours=12)
IDLE = timedelta(minutes=30)
PENDING = timedelta(minutes=5)


@pytest.fixture(autouse=True)
def default_settings(monkeypatch):
    """The documented defaults, whatever the environment running the tests says."""
    for name in ("RXAPP_SESSION_HOURS", "RXAPP_SESSION_IDLE_MINUTES"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def user(db) -> User:
    return accounts.create_user(db, "alice@example.com", "alice-password", now=T0)


@pytest.fixture
def current(db_url):
    """`current_session` as one request of the app sees it: in a database session of its own,
    so that nothing carries over in memory from an earlier request."""

    def check(token: object, *, now: datetime) -> sessions.SignedIn | None:
        with Session(engine_for(db_url), expire_on_commit=False) as request_db:
            return sessions.current_session(request_db, token, now=now)

    return check


# Full sessions --------------------------------------------------------------------------------


@pytest.mark.both_databases
def test_session_token_is_stored_only_as_its_sha256(db, db_url, user):
    token = sessions.start_session(db, user, epoch=user.credential_epoch, now=T0)

    rows = db.exec(select(AuthSession)).all()
    assert len(rows) == 1
    assert rows[0].token_hash != token
    assert rows[0].token_hash == hashlib.sha256(token.encode()).hexdigest()
    everything = stored_bytes(db_url)
    assert rows[0].token_hash.encode() in everything  # the search does see stored values
    assert token.encode() not in everything


def test_session_token_has_at_least_128_bits(db, user):
    token = sessions.start_session(db, user, epoch=user.credential_epoch, now=T0)

    # URL-safe base64: 6 bits a character.
    assert len(token) * 6 >= 128


def test_every_session_gets_a_new_token(db, user):
    first = sessions.start_session(db, user, epoch=user.credential_epoch, now=T0)
    second = sessions.start_session(db, user, epoch=user.credential_epoch, now=T0)

    assert first != second


def test_new_session_is_live_and_records_the_sign_in(db, user, current):
    token = sessions.start_session(db, user, epoch=user.credential_epoch, now=T0)

    signed_in = current(token, now=T0)

    assert signed_in is not None
    assert signed_in.user.id == user.id
    assert db.get(User, user.id).last_sign_in_at == T0


def test_session_ends_12_hours_after_sign_in_even_when_active(db, user, current):
    token = sessions.start_session(db, user, epoch=user.credential_epoch, now=T0)
    # Stay active every 20 minutes, so the idle limit never applies.
    at = T0
    while at + timedelta(minutes=20) < T0 + ABSOLUTE:
        at += timedelta(minutes=20)
        assert current(token, now=at) is not None, at

    assert current(token, now=T0 + ABSOLUTE - SECOND) is not None
    assert current(token, now=T0 + ABSOLUTE) is None
    assert current(token, now=T0 + ABSOLUTE + SECOND) is None


def test_session_is_live_just_before_30_idle_minutes(db, user, current):
    token = sessions.start_session(db, user, epoch=user.credential_epoch, now=T0)

    assert current(token, now=T0 + IDLE - SECOND) is not None


@pytest.mark.both_databases
@pytest.mark.parametrize("after", [timedelta(0), SECOND], ids=["at-30-min", "30-min-1-s"])
def test_session_ends_after_30_idle_minutes(db, user, after, current):
    token = sessions.start_session(db, user, epoch=user.credential_epoch, now=T0)

    assert current(token, now=T0 + IDLE + after) is None


def test_activity_pushes_the_idle_limit_back(db, user, current):
    token = sessions.start_session(db, user, epoch=user.credential_epoch, now=T0)
    active = T0 + timedelta(minutes=20)
    assert current(token, now=active) is not None

    assert current(token, now=active + IDLE - SECOND) is not None


def test_background_check_does_not_count_as_activity(db, user, db_url, current):
    token = sessions.start_session(db, user, epoch=user.credential_epoch, now=T0)
    with Session(engine_for(db_url), expire_on_commit=False) as request_db:
        peek = sessions.current_session(
            request_db, token, now=T0 + timedelta(minutes=20), touch=False
        )
    assert peek is not None

    assert current(token, now=T0 + IDLE) is None


def test_idle_session_stays_ended_when_used_again(db, user, current):
    token = sessions.start_session(db, user, epoch=user.credential_epoch, now=T0)
    assert current(token, now=T0 + IDLE) is None

    # A later request (or a clock that moved back) must not revive it.
    assert current(token, now=T0 + IDLE + timedelta(minutes=1)) is None


def test_revoked_session_is_over(db, user, current):
    token = sessions.start_session(db, user, epoch=user.credential_epoch, now=T0)

    assert sessions.revoke_session(db, token, now=T0 + SECOND) == user.id

    assert current(token, now=T0 + 2 * SECOND) is None
    assert db.exec(select(AuthSession)).one().revoked_at == T0 + SECOND


def test_revoking_twice_reports_nothing_the_second_time(db, user):
    token = sessions.start_session(db, user, epoch=user.credential_epoch, now=T0)
    sessions.revoke_session(db, token, now=T0)

    assert sessions.revoke_session(db, token, now=T0 + SECOND) is None


def test_signing_out_of_an_expired_session_reports_nothing(db, user):
    token = sessions.start_session(db, user, epoch=user.credential_epoch, now=T0)
    assert sessions.revoke_session(db, token, now=T0 + IDLE + SECOND) is None


def test_revoking_one_session_leaves_the_others(db, user, current):
    phone = sessions.start_session(db, user, epoch=user.credential_epoch, now=T0)
    laptop = sessions.start_session(db, user, epoch=user.credential_epoch, now=T0)

    sessions.revoke_session(db, phone, now=T0)

    assert current(laptop, now=T0 + SECOND) is not None


def test_revoke_all_sessions_ends_sessions_and_pending_logins(db, user, current):
    token = sessions.start_session(db, user, epoch=user.credential_epoch, now=T0)
    pending = sessions.start_pending_login(db, user, now=T0)

    sessions.revoke_all_sessions(db, user.id, now=T0 + SECOND)
    db.commit()

    assert current(token, now=T0 + 2 * SECOND) is None
    assert sessions.current_pending_login(db, pending, now=T0 + 2 * SECOND) is None


@pytest.mark.parametrize(
    "token",
    [None, "", "garbage", "x" * 129, "x" * 100_000, b"bytes", 42, ["token"], {"t": 1}],
    ids=["none", "empty", "garbage", "129-chars", "huge", "bytes", "int", "list", "dict"],
)
def test_anything_but_a_live_token_is_no_session(db, user, token, current):
    sessions.start_session(db, user, epoch=user.credential_epoch, now=T0)

    assert current(token, now=T0) is None
    assert sessions.current_pending_login(db, token, now=T0) is None
    assert sessions.revoke_session(db, token, now=T0) is None


def test_the_stored_hash_itself_is_not_a_token(db, user, current):
    sessions.start_session(db, user, epoch=user.credential_epoch, now=T0)
    stored_hash = db.exec(select(AuthSession)).one().token_hash

    assert current(stored_hash, now=T0) is None


def test_fresh_proof_lasts_5_minutes_and_can_be_renewed(db, user, current):
    token = sessions.start_session(db, user, epoch=user.credential_epoch, now=T0)
    signed_in = current(token, now=T0)
    assert sessions.has_fresh_proof(signed_in, now=T0 + PENDING - SECOND)
    assert not sessions.has_fresh_proof(signed_in, now=T0 + PENDING)

    sessions.mark_fresh_proof(db, signed_in.session.id, now=T0 + timedelta(minutes=10))
    renewed = current(token, now=T0 + timedelta(minutes=11))

    assert sessions.has_fresh_proof(renewed, now=T0 + timedelta(minutes=11))


# Pending logins -------------------------------------------------------------------------------


def test_pending_login_token_is_stored_only_as_its_sha256(db, db_url, user):
    token = sessions.start_pending_login(db, user, now=T0)

    row = db.exec(select(PendingLogin)).one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    everything = stored_bytes(db_url)
    assert row.token_hash.encode() in everything  # the search does see stored values
    assert token.encode() not in everything


def test_pending_login_is_live_for_just_under_5_minutes(db, user):
    token = sessions.start_pending_login(db, user, now=T0)

    pending = sessions.current_pending_login(db, token, now=T0 + PENDING - SECOND)

    assert pending is not None
    assert pending.user_id == user.id


@pytest.mark.both_databases
@pytest.mark.parametrize("after", [timedelta(0), SECOND], ids=["at-5-min", "5-min-1-s"])
def test_pending_login_expires_after_5_minutes(db, user, after):
    token = sessions.start_pending_login(db, user, now=T0)

    assert sessions.current_pending_login(db, token, now=T0 + PENDING + after) is None


def test_pending_login_is_not_a_session(db, user, current):
    token = sessions.start_pending_login(db, user, now=T0)

    assert current(token, now=T0) is None
    assert sessions.revoke_session(db, token, now=T0) is None
    assert db.exec(select(AuthSession)).all() == []
    assert db.get(User, user.id).last_sign_in_at is None


def test_session_token_is_not_a_pending_login(db, user):
    token = sessions.start_session(db, user, epoch=user.credential_epoch, now=T0)

    assert sessions.current_pending_login(db, token, now=T0) is None


@pytest.mark.both_databases
def test_pending_login_ends_only_once(db, user):
    token = sessions.start_pending_login(db, user, now=T0)
    pending = sessions.current_pending_login(db, token, now=T0)

    assert sessions.end_pending_login(db, pending.id, now=T0 + SECOND) is True
    db.commit()
    assert sessions.end_pending_login(db, pending.id, now=T0 + 2 * SECOND) is False
    db.commit()

    assert sessions.current_pending_login(db, token, now=T0 + 3 * SECOND) is None


def test_ending_an_unknown_pending_login_reports_false(db, user):
    assert sessions.end_pending_login(db, 999_999, now=T0) is False


# A sign-in that raced a change of credentials -------------------------------------------------
# The change (a password change, 2FA turned off, an admin reset) ends every other session
# and pending login; a sign-in that read the account's factors before it and writes its
# session after it must not escape (on PostgreSQL the two run side by side). Here the change
# is committed by another request in between, as it would land in that race.


@pytest.fixture
def other_request(db_url):
    """Commit `change(db)` in a database session of its own, as another request would."""

    def run(change) -> None:
        with Session(engine_for(db_url), expire_on_commit=False) as other_db:
            change(other_db)
            other_db.commit()

    return run


@pytest.mark.both_databases
def test_a_session_written_after_a_change_from_factors_read_before_it_is_dead(
    db, user, current, other_request
):
    token = sessions.start_pending_login(db, user, now=T0)
    pending = sessions.current_pending_login(db, token, now=T0)  # the second factor's step
    assert sessions.end_pending_login(db, pending.id, now=T0 + SECOND)  # ... it passed
    db.commit()

    other_request(lambda other: sessions.revoke_all_sessions(other, user.id, now=T0 + SECOND))
    raced = sessions.start_session(
        db, user, now=T0 + SECOND, second_factor=True, epoch=pending.credential_epoch
    )

    assert current(raced, now=T0 + 2 * SECOND) is None


@pytest.mark.both_databases
def test_a_pending_login_written_after_a_change_from_a_password_read_before_it_is_dead(
    db, db_url, current, other_request
):
    accounts.create_user(db, "bob@example.com", "bob-password", now=T0)
    with Session(engine_for(db_url), expire_on_commit=False) as request_db:
        bob = accounts.find_user(request_db, "bob@example.com")  # read for the password check
        other_request(lambda other: sessions.revoke_all_sessions(other, bob.id, now=T0))
        raced = sessions.start_pending_login(request_db, bob, now=T0)

    assert sessions.current_pending_login(db, raced, now=T0 + SECOND) is None


def test_the_session_kept_through_a_change_and_sign_ins_after_it_stay_live(db, user, current):
    kept = sessions.start_session(db, user, epoch=user.credential_epoch, now=T0)
    kept_id = current(kept, now=T0).session.id

    sessions.revoke_all_sessions(db, user.id, now=T0 + SECOND, keep_session_id=kept_id)
    db.commit()
    db.refresh(user)
    after = sessions.start_session(db, user, now=T0 + 2 * SECOND, epoch=user.credential_epoch)
    pending_after = sessions.start_pending_login(db, user, now=T0 + 2 * SECOND)

    assert user.credential_epoch == 1
    assert current(kept, now=T0 + 3 * SECOND) is not None
    assert current(after, now=T0 + 3 * SECOND) is not None
    assert sessions.current_pending_login(db, pending_after, now=T0 + 3 * SECOND) is not None
