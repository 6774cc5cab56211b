"""Two-factor flows: enrolment, the passcode step, throttling, backup codes, disabling, audit.

Time is frozen by passing `now`; codes are computed with pyotp, as an authenticator app would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pyotp
import pytest
from sqlalchemy import text, update
from sqlmodel import Session, select

from rxapp.models import (
    AuditEvent,
    AuthSession,
    BackupCode,
    KnownDevice,
    Passkey,
    PendingLogin,
    User,
)
from rxapp.services import accounts, admin, audit, devices, secretbox, sessions, throttle
from rxapp.services.database import engine_for
from rxapp.services.mfa import flow as mfa
from rxapp.services.mfa.backup_codes import codes as backup_codes
from rxapp.services.mfa.flow import PENDING_LOGIN_MAX_FAILURES as PENDING_TRIES
from rxapp.services.mfa.totp import algorithm as totp
from rxapp.services.mfa.totp import flows as totp_flows
from rxapp.services.tokens import new_token, token_hash

pytestmark = pytest.mark.usefixtures("secret_key")

T0 = datetime(2025, 3, 1, 8, 0, 15, tzinfo=UTC)  # 15 s into a 30 s step
ENROLLED_AT = T0 - timedelta(minutes=10)
STEP = timedelta(seconds=30)
SECOND = timedelta(seconds=1)
PASSWORD = "correct horse battery staple"
R = TypeVar("R")


@dataclass(frozen=True)
class Member:
    """A user with 2FA on, and the secret their authenticator app holds."""

    id: int
    email: str
    secret: str


def code_for(secret: str, now: datetime, offset: int = 0) -> str:
    return pyotp.TOTP(secret).at(now + offset * STEP)


def wrong_code(secret: str, now: datetime) -> str:
    """Six digits that are no code of `secret` within two steps of `now`."""
    near = {code_for(secret, now, offset) for offset in range(-2, 3)}
    return next(c for c in (f"{i:06d}" for i in range(1_000_000)) if c not in near)


def new_user(db: Session, email: str = "alice@example.com") -> User:
    return accounts.create_user(db, email, PASSWORD, now=ENROLLED_AT)


def enroll(db: Session, user: User, *, now: datetime = ENROLLED_AT) -> Member:
    enrollment = totp_flows.begin_enrollment(db, user, now=now)
    result = totp_flows.confirm_enrollment(db, user.id, code_for(enrollment.secret, now), now=now)
    assert result.ok, result.message
    return Member(id=user.id, email=user.email, secret=enrollment.secret)


@pytest.fixture
def member(db) -> Member:
    return enroll(db, new_user(db))


def sign_in(db: Session, user_id: int, *, now: datetime) -> str:
    """The password step: a pending login's token."""
    return sessions.start_pending_login(db, db.get(User, user_id), now=now)


def pending_of(db: Session, token: str, *, now: datetime) -> PendingLogin:
    pending = sessions.current_pending_login(db, token, now=now)
    assert pending is not None
    return pending


def fresh(db_url: str, user_id: int) -> User:
    """The user's row as another request would read it."""
    with Session(engine_for(db_url)) as other:
        user = other.get(User, user_id)
        other.expunge(user)
        return user


def failures_of(db_url: str, user_id: int) -> int:
    return fresh(db_url, user_id).second_factor_failures


def audit_events(db: Session, user_id: int) -> list[str]:
    return list(
        db.exec(
            select(AuditEvent.event).where(AuditEvent.user_id == user_id).order_by(AuditEvent.id)
        ).all()
    )


def run_together(count: int, work: Callable[[int], R]) -> list[R]:
    """Run `work(i)` for i in range(count) in as many threads, released at the same moment."""
    start = threading.Barrier(count)

    def call(i: int) -> R:
        start.wait()
        return work(i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(call, range(count)))


def is_wait(result: mfa.CodeCheck) -> bool:
    """An answer that only says to wait (nothing was checked or counted)."""
    return not result.ok and result.message.startswith("Too many failed attempts. Try again in")


# --- enrolment ---------------------------------------------------------------------------


def test_enrollment_offers_a_new_secret_without_turning_2fa_on(db, db_url):
    user = new_user(db)

    enrollment = totp_flows.begin_enrollment(db, user, now=ENROLLED_AT)

    assert len(enrollment.secret) == 32
    assert "alice%40example.com" in enrollment.uri or "alice@example.com" in enrollment.uri
    assert "issuer=rxapp" in enrollment.uri
    assert enrollment.qr_data_uri.startswith("data:image/svg+xml;base64,")
    stored = fresh(db_url, user.id)
    assert not totp_flows.is_enabled(stored)
    assert stored.totp_secret is None
    assert enrollment.secret not in stored.totp_pending_secret


def test_confirm_with_a_wrong_code_is_refused_with_the_setup_hint(db, db_url):
    user = new_user(db)
    enrollment = totp_flows.begin_enrollment(db, user, now=T0)

    result = totp_flows.confirm_enrollment(db, user.id, wrong_code(enrollment.secret, T0), now=T0)

    assert not result.ok
    assert "scanned the QR code" in result.message
    assert not totp_flows.is_enabled(fresh(db_url, user.id))
    # The dialog stays usable: the right code still works.
    assert totp_flows.confirm_enrollment(db, user.id, code_for(enrollment.secret, T0), now=T0).ok


@pytest.mark.parametrize("raw", ["12345", "１２３４５６", None, 123456, "ABCD-EFGH"])
def test_confirm_with_malformed_input_is_refused(db, db_url, raw):
    user = new_user(db)
    totp_flows.begin_enrollment(db, user, now=T0)

    result = totp_flows.confirm_enrollment(db, user.id, raw, now=T0)

    assert not result.ok
    assert "6-digit" in result.message
    assert not totp_flows.is_enabled(fresh(db_url, user.id))


def test_confirm_without_a_started_enrollment_is_refused(db):
    user = new_user(db)

    assert not totp_flows.confirm_enrollment(db, user.id, "123456", now=T0).ok


def test_a_new_enrollment_replaces_the_unconfirmed_secret(db):
    user = new_user(db)
    first = totp_flows.begin_enrollment(db, user, now=T0)
    second = totp_flows.begin_enrollment(db, user, now=T0)
    assert code_for(first.secret, T0) != code_for(second.secret, T0)

    assert not totp_flows.confirm_enrollment(db, user.id, code_for(first.secret, T0), now=T0).ok
    assert totp_flows.confirm_enrollment(db, user.id, code_for(second.secret, T0), now=T0).ok


def test_a_key_replaced_by_a_setup_in_another_tab_is_said_to_be_replaced(db):
    """Two tabs open the enable dialog: the first one's key no longer works, and its Check
    says why instead of blaming the scan; once the second has turned 2FA on, says that."""
    user = new_user(db)
    first = totp_flows.begin_enrollment(db, user, now=T0)
    second = totp_flows.begin_enrollment(db, user, now=T0)

    replaced = totp_flows.confirm_enrollment(
        db, user.id, code_for(first.secret, T0), now=T0, shown_secret=first.secret
    )
    assert not replaced.ok and replaced.message == totp_flows.REPLACED_ELSEWHERE

    assert totp_flows.confirm_enrollment(
        db, user.id, code_for(second.secret, T0), now=T0, shown_secret=second.secret
    ).ok
    later = T0 + timedelta(seconds=30)
    on = totp_flows.confirm_enrollment(
        db, user.id, code_for(first.secret, later), now=later, shown_secret=first.secret
    )
    assert not on.ok and on.message == totp_flows.TURNED_ON_ELSEWHERE


def test_confirm_with_the_right_code_enables_2fa_and_stores_the_step(db, db_url):
    user = new_user(db)
    enrollment = totp_flows.begin_enrollment(db, user, now=T0)

    result = totp_flows.confirm_enrollment(db, user.id, code_for(enrollment.secret, T0), now=T0)

    assert result.ok
    stored = fresh(db_url, user.id)
    assert totp_flows.is_enabled(stored)
    assert stored.totp_enabled_at == T0
    assert stored.totp_last_step == totp.time_step(T0)
    assert stored.totp_pending_secret is None
    assert secretbox.decrypt(stored.totp_secret) == enrollment.secret
    assert "twofa_enabled" in audit_events(db, user.id)


def test_the_enrollment_code_cannot_sign_in_again_in_the_same_step(db):
    user = new_user(db)
    member = enroll(db, user, now=T0)
    same_step = T0 + 10 * SECOND
    assert totp.time_step(same_step) == totp.time_step(T0)
    token = sign_in(db, member.id, now=same_step)

    replay = mfa.verify_login_code(
        db, pending_of(db, token, now=same_step), code_for(member.secret, T0), now=same_step
    )

    assert not replay.ok
    next_step = T0 + STEP
    result = mfa.verify_login_code(
        db, pending_of(db, token, now=next_step), code_for(member.secret, next_step), now=next_step
    )
    assert result.ok, result.message


def _stored_bytes(db_url: str) -> bytes:
    path = Path(db_url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def test_the_secret_is_stored_only_encrypted(db, db_url, member):
    column = db.exec(
        text("SELECT totp_secret FROM app_user WHERE id = :id").bindparams(id=member.id)
    ).scalar_one()

    assert column
    assert member.secret not in column
    assert secretbox.decrypt(column) == member.secret
    assert member.secret.encode() not in _stored_bytes(db_url)


# --- the passcode step ------------------------------------------------------------------


@pytest.mark.both_databases
def test_the_right_code_ends_the_pending_login_once(db, member):
    token = sign_in(db, member.id, now=T0)
    pending = pending_of(db, token, now=T0)

    result = mfa.verify_login_code(db, pending, code_for(member.secret, T0), now=T0)

    assert result.ok
    assert not result.used_backup_code
    assert sessions.current_pending_login(db, token, now=T0) is None
    later = T0 + STEP
    again = mfa.verify_login_code(db, pending, code_for(member.secret, later), now=later)
    assert not again.ok
    assert again.login_voided
    # That refusal spent nothing: the same code still signs in through a new pending login.
    other = pending_of(db, sign_in(db, member.id, now=later), now=later)
    assert mfa.verify_login_code(db, other, code_for(member.secret, later), now=later).ok


@pytest.mark.both_databases
def test_a_replayed_code_is_refused_in_a_new_login(db, db_url, member):
    first = pending_of(db, sign_in(db, member.id, now=T0), now=T0)
    code = code_for(member.secret, T0)
    assert mfa.verify_login_code(db, first, code, now=T0).ok

    later = T0 + 5 * SECOND
    second = pending_of(db, sign_in(db, member.id, now=later), now=later)
    result = mfa.verify_login_code(db, second, code, now=later)

    assert not result.ok
    assert result.message.startswith("That code was already used.")
    assert failures_of(db_url, member.id) == 1


def test_an_older_code_within_the_drift_window_is_refused_after_a_newer_one(db, member):
    first = pending_of(db, sign_in(db, member.id, now=T0), now=T0)
    assert mfa.verify_login_code(db, first, code_for(member.secret, T0), now=T0).ok

    later = T0 + 2 * SECOND
    second = pending_of(db, sign_in(db, member.id, now=later), now=later)
    previous_step = code_for(member.secret, T0, -1)

    assert not mfa.verify_login_code(db, second, previous_step, now=later).ok


@pytest.mark.parametrize("offset", [-1, 1])
def test_one_step_of_clock_drift_is_accepted(db, member, offset):
    pending = pending_of(db, sign_in(db, member.id, now=T0), now=T0)

    result = mfa.verify_login_code(db, pending, code_for(member.secret, T0, offset), now=T0)

    assert result.ok, result.message


@pytest.mark.parametrize("offset", [-2, 2])
def test_two_steps_of_clock_drift_are_refused(db, db_url, member, offset):
    pending = pending_of(db, sign_in(db, member.id, now=T0), now=T0)
    code = code_for(member.secret, T0, offset)
    assert code not in {code_for(member.secret, T0, o) for o in (-1, 0, 1)}

    result = mfa.verify_login_code(db, pending, code, now=T0)

    assert not result.ok
    assert result.message.startswith("That code is not right.")
    assert failures_of(db_url, member.id) == 1


@pytest.mark.parametrize("raw", ["12345", "abc", "１２３４５６", None, 42, ["123456"]])
def test_malformed_input_is_explained_and_not_counted(db, db_url, member, raw):
    pending = pending_of(db, sign_in(db, member.id, now=T0), now=T0)

    result = mfa.verify_login_code(db, pending, raw, now=T0)

    assert not result.ok
    assert "6-digit code" in result.message
    assert failures_of(db_url, member.id) == 0


def _only_passkeys_left(db: Session, member: Member) -> None:
    """The member's app is removed; a passkey keeps 2FA on."""
    db.add(
        Passkey(user_id=member.id, credential_id="cred", public_key="AA", name="Key", created_at=T0)
    )
    totp_flows.remove_totp(db, member.id)
    db.commit()


def test_an_account_with_only_passkeys_is_not_told_of_an_app(db, db_url, member):
    _only_passkeys_left(db, member)
    pending = pending_of(db, sign_in(db, member.id, now=T0), now=T0)

    malformed = mfa.verify_login_code(db, pending, "12345", now=T0)
    six_digits = mfa.verify_login_code(db, pending, code_for(member.secret, T0), now=T0)

    assert malformed.message == "Enter one of your backup codes, or use your passkey."
    assert not six_digits.ok
    assert six_digits.message.startswith(
        "That code is not right. This account has no authenticator app: use your passkey or a "
        "backup code."
    )
    assert failures_of(db_url, member.id) == 1


def test_a_user_without_2fa_cannot_pass_the_code_check(db):
    user = new_user(db)

    assert not mfa.check_code(db, user.id, "123456", now=T0).ok


# --- throttling -------------------------------------------------------------------------


def test_a_wrong_code_at_sign_in_is_reported_as_counted(db, db_url, member):
    pending = pending_of(db, sign_in(db, member.id, now=T0), now=T0)

    result = mfa.verify_login_code(db, pending, wrong_code(member.secret, T0), now=T0)

    assert not result.ok
    assert failures_of(db_url, member.id) == 1
    assert result.counted
    assert result.wait_seconds == 1


def test_an_attempt_within_the_backoff_is_refused_unchecked_and_spends_no_try(db, db_url, member):
    token = sign_in(db, member.id, now=T0)
    pending = pending_of(db, token, now=T0)
    mfa.verify_login_code(db, pending, wrong_code(member.secret, T0), now=T0)
    soon = T0 + timedelta(milliseconds=500)

    # Even the right code is not looked at before the wait is over.
    result = mfa.verify_login_code(db, pending, code_for(member.secret, soon), now=soon)

    assert not result.ok and result.unchecked
    assert result.message == (
        "Too many failed attempts. Try again in 1 second. "
        "After that, 4 tries left before you must sign in again."
    )
    assert result.wait_seconds == 1
    assert pending_of(db, token, now=soon).failures == 1  # the sign-in's tries are not spent
    # Once the wait is over, the right code works (its step was never spent).
    after = soon + SECOND
    assert mfa.verify_login_code(db, pending, code_for(member.secret, after), now=after).ok
    assert failures_of(db_url, member.id) == 0


def test_retrying_before_ones_own_wait_is_over_never_lengthens_it(db, db_url, member):
    """A person who clicks again and again during the wait their wrong code started: each
    retry is refused, none is counted, so the wait never doubles into a lockout."""
    token = sign_in(db, member.id, now=T0)
    pending = pending_of(db, token, now=T0)
    first = mfa.verify_login_code(db, pending, wrong_code(member.secret, T0), now=T0)
    assert first.message.endswith("4 tries left before you must sign in again.")

    now = T0
    for _ in range(PENDING_TRIES + 10):  # more than the sign-in's tries and the lockout's
        now += timedelta(milliseconds=50)
        early = mfa.verify_login_code(db, pending, code_for(member.secret, now), now=now)
        assert not early.ok and not early.login_voided and early.unchecked
        assert early.message.endswith("After that, 4 tries left before you must sign in again.")

    assert failures_of(db_url, member.id) == 1  # only the wrong code that was checked
    assert pending_of(db, token, now=now).failures == 1
    assert throttle.seconds_to_wait(db, member.id, now=now) <= 1
    after = now + SECOND
    assert mfa.verify_login_code(db, pending, code_for(member.secret, after), now=after).ok


def test_early_codes_from_a_sign_in_that_made_no_try_yet_still_count(db, db_url, member):
    """A burst from fresh sign-ins (a stranger with the password) still costs what the same
    guesses one by one would: their early codes are counted on the account."""
    first = pending_of(db, sign_in(db, member.id, now=T0), now=T0)
    mfa.verify_login_code(db, first, wrong_code(member.secret, T0), now=T0)
    other = pending_of(db, sign_in(db, member.id, now=T0), now=T0)
    soon = T0 + timedelta(milliseconds=500)

    early = mfa.verify_login_code(db, other, wrong_code(member.secret, soon), now=soon)

    assert early.unchecked and early.counted
    assert failures_of(db_url, member.id) == 2


def test_five_failures_void_the_pending_login(db, member):
    token = sign_in(db, member.id, now=T0)
    now = T0
    results = []
    for _ in range(5):
        pending = pending_of(db, token, now=now)
        results.append(mfa.verify_login_code(db, pending, wrong_code(member.secret, now), now=now))
        now += SECOND * throttle.seconds_to_wait(db, member.id, now=now)

    assert [r.login_voided for r in results] == [False, False, False, False, True]
    assert [r.message.rsplit(". ", 1)[-1] for r in results[:4]] == [
        "4 tries left before you must sign in again.",
        "3 tries left before you must sign in again.",
        "After that, 2 tries left before you must sign in again.",
        "After that, 1 try left before you must sign in again.",
    ]
    assert "Try again in 4 seconds." in results[2].message
    assert "sign in again" in results[4].message
    assert sessions.current_pending_login(db, token, now=now) is None
    assert "pending_login_voided" in audit_events(db, member.id)


def test_ten_consecutive_failures_lock_the_account_for_15_minutes(db, db_url, member):
    now = T0
    token = sign_in(db, member.id, now=now)
    results = []
    for _ in range(10):
        pending = sessions.current_pending_login(db, token, now=now)
        if pending is None or pending.failures == 4:  # expired, or one more would void it
            token = sign_in(db, member.id, now=now)
            pending = pending_of(db, token, now=now)
        results.append(mfa.verify_login_code(db, pending, wrong_code(member.secret, now), now=now))
        wait = throttle.seconds_to_wait(db, member.id, now=now)
        assert wait > 0
        now += wait * SECOND

    locked_at = now - 15 * 60 * SECOND
    assert not any(r.ok for r in results)
    assert "15 minutes" in results[-1].message
    assert results[-1].wait_seconds == 15 * 60
    # Each wait long enough to notice is said, in the answer to the code that started it.
    for result in results[:-1]:
        said = throttle.wait_message(result.wait_seconds) in result.message
        assert said == (result.wait_seconds >= mfa.NOTICEABLE_WAIT_SECONDS), result.message
    # The page counts down exactly the waits it was told of.
    assert [r.told_wait for r in results] == [0, 0, 4, 8, 16, 32, 64, 128, 256, 15 * 60]
    assert [r.wait_seconds for r in results[:4]] == [1, 2, 4, 8]
    assert failures_of(db_url, member.id) == 10
    assert "second_factor_lockout" in audit_events(db, member.id)

    # Still locked a minute before the end, even with the right code and a new sign-in.
    almost = locked_at + timedelta(minutes=14)
    pending = pending_of(db, sign_in(db, member.id, now=almost), now=almost)
    blocked = mfa.verify_login_code(db, pending, code_for(member.secret, almost), now=almost)
    assert not blocked.ok
    assert blocked.message == (
        "Too many failed attempts. Try again in 60 seconds. "
        "After that, 5 tries left before you must sign in again. " + mfa.ELSEWHERE_HINT
    )
    assert failures_of(db_url, member.id) == 10

    over = locked_at + timedelta(minutes=15)
    pending = pending_of(db, sign_in(db, member.id, now=over), now=over)
    assert mfa.verify_login_code(db, pending, code_for(member.secret, over), now=over).ok


def test_a_backup_code_is_refused_during_a_lockout_too(db, member):
    codes = backup_codes.replace_batch(db, member.id, now=T0)
    for _ in range(10):
        throttle.record_failure(db, member.id, now=T0)
    db.commit()

    result = mfa.check_code(db, member.id, codes[0], now=T0 + timedelta(minutes=1))

    assert not result.ok
    assert result.wait_seconds == 14 * 60
    assert backup_codes.remaining(db, member.id) == 5


def test_a_success_resets_the_counter(db, db_url, member):
    token = sign_in(db, member.id, now=T0)
    now = T0
    for _ in range(3):
        mfa.verify_login_code(
            db, pending_of(db, token, now=now), wrong_code(member.secret, now), now=now
        )
        now += SECOND * throttle.seconds_to_wait(db, member.id, now=now)
    assert failures_of(db_url, member.id) == 3

    assert mfa.verify_login_code(
        db, pending_of(db, token, now=now), code_for(member.secret, now), now=now
    ).ok

    stored = fresh(db_url, member.id)
    assert stored.second_factor_failures == 0
    assert stored.second_factor_blocked_until is None
    # The next failure starts the backoff from the beginning again.
    later = now + STEP
    pending = pending_of(db, sign_in(db, member.id, now=later), now=later)
    again = mfa.verify_login_code(db, pending, wrong_code(member.secret, later), now=later)
    assert again.wait_seconds == 1


# --- backup codes in the same path ------------------------------------------------------


def test_a_backup_code_signs_in_through_the_same_check(db, member):
    codes = backup_codes.replace_batch(db, member.id, now=T0)
    pending = pending_of(db, sign_in(db, member.id, now=T0), now=T0)
    typed = backup_codes.formatted(codes[0]).lower()

    result = mfa.verify_login_code(db, pending, typed, now=T0)

    assert result.ok
    assert result.used_backup_code
    assert result.backup_codes_left == 4
    assert "backup_code_used" in audit_events(db, member.id)
    later = T0 + SECOND
    other = pending_of(db, sign_in(db, member.id, now=later), now=later)
    assert not mfa.verify_login_code(db, other, codes[0], now=later).ok


def test_a_wrong_backup_code_counts_on_the_same_throttle(db, db_url, member):
    codes = backup_codes.replace_batch(db, member.id, now=T0)
    never_issued = next(c for c in iter(backup_codes.new_code, None) if c not in codes)
    token = sign_in(db, member.id, now=T0)

    result = mfa.verify_login_code(db, pending_of(db, token, now=T0), never_issued, now=T0)

    assert not result.ok
    assert "backup code" in result.message
    assert failures_of(db_url, member.id) == 1
    soon = T0 + timedelta(milliseconds=200)
    waited = mfa.verify_login_code(
        db, pending_of(db, token, now=soon), code_for(member.secret, soon), now=soon
    )
    assert is_wait(waited)
    assert backup_codes.remaining(db, member.id) == 5


# --- concurrency ------------------------------------------------------------------------


@pytest.mark.both_databases
def test_concurrent_sign_ins_with_the_same_code_succeed_exactly_once(db, db_url, member):
    tokens = [sign_in(db, member.id, now=T0) for _ in range(10)]
    code = code_for(member.secret, T0)

    def attempt(i: int) -> mfa.CodeCheck:
        with Session(engine_for(db_url), expire_on_commit=False) as own:
            pending = pending_of(own, tokens[i], now=T0)
            return mfa.verify_login_code(own, pending, code, now=T0)

    results = run_together(10, attempt)

    assert sum(r.ok for r in results) == 1
    live = [sessions.current_pending_login(db, t, now=T0) for t in tokens]
    assert sum(p is None for p in live) == 1


@pytest.mark.both_databases
def test_ten_concurrent_wrong_codes_count_ten_failures_and_only_one_is_checked(db, db_url, member):
    tokens = [sign_in(db, member.id, now=T0) for _ in range(10)]
    code = wrong_code(member.secret, T0)

    def attempt(i: int) -> mfa.CodeCheck:
        with Session(engine_for(db_url), expire_on_commit=False) as own:
            pending = pending_of(own, tokens[i], now=T0)
            return mfa.verify_login_code(own, pending, code, now=T0)

    results = run_together(10, attempt)

    checked = [r for r in results if "not right" in r.message]
    assert not any(r.ok for r in results)
    # One attempt held the account's slot and was checked; the burst was refused unchecked.
    assert len(checked) == 1
    assert all(is_wait(r) for r in results if r not in checked)
    assert all(r.counted for r in results)
    assert failures_of(db_url, member.id) == 10
    failed_rows = [e for e in audit_events(db, member.id) if e == "second_factor_failed"]
    assert len(failed_rows) == 10
    assert "second_factor_lockout" in audit_events(db, member.id)


@pytest.mark.both_databases
def test_a_burst_on_check_code_is_refused_except_for_one(db, db_url, member):
    code = wrong_code(member.secret, T0)

    def attempt(_: int) -> mfa.CodeCheck:
        with Session(engine_for(db_url), expire_on_commit=False) as own:
            return mfa.check_code(own, member.id, code, now=T0)

    results = run_together(10, attempt)

    assert sum("not right" in r.message for r in results) == 1
    assert all(r.counted for r in results)
    assert failures_of(db_url, member.id) == 10


# --- disabling --------------------------------------------------------------------------


def test_disable_needs_a_valid_code(db, db_url, member):
    backup_codes.replace_batch(db, member.id, now=T0)

    result = mfa.disable(db, member.id, wrong_code(member.secret, T0), now=T0)

    assert not result.ok
    stored = fresh(db_url, member.id)
    assert totp_flows.is_enabled(stored)
    assert secretbox.decrypt(stored.totp_secret) == member.secret
    assert backup_codes.remaining(db, member.id) == 5
    assert "twofa_disabled" not in audit_events(db, member.id)


def test_disable_removes_the_secret_and_every_backup_code(db, db_url, member):
    codes = backup_codes.replace_batch(db, member.id, now=T0)
    backup_codes.use(db, member.id, codes[0], now=T0)
    db.commit()

    result = mfa.disable(db, member.id, code_for(member.secret, T0), now=T0)

    assert result.ok
    stored = fresh(db_url, member.id)
    assert not totp_flows.is_enabled(stored)
    assert stored.totp_secret is None
    assert stored.totp_pending_secret is None
    assert stored.totp_enabled_at is None
    assert stored.totp_last_step is None
    assert db.exec(select(BackupCode).where(BackupCode.user_id == member.id)).all() == []
    assert "twofa_disabled" in audit_events(db, member.id)
    later = T0 + STEP
    assert not mfa.check_code(db, member.id, code_for(member.secret, later), now=later).ok
    assert not mfa.check_code(db, member.id, codes[1], now=later).ok


def test_disable_with_a_backup_code(db, db_url, member):
    codes = backup_codes.replace_batch(db, member.id, now=T0)

    assert mfa.disable(db, member.id, codes[4], now=T0).ok
    assert not totp_flows.is_enabled(fresh(db_url, member.id))
    assert backup_codes.remaining(db, member.id) == 0


# --- audit ------------------------------------------------------------------------------


def test_audit_rows_record_the_events_but_never_a_code_or_secret(db, member):
    codes = backup_codes.replace_batch(db, member.id, now=T0)
    shown_codes = [code_for(member.secret, ENROLLED_AT)]
    now = T0
    token = sign_in(db, member.id, now=now)
    attempts = [wrong_code(member.secret, now), "ZZZZ-ZZZZ-ZZZZ-ZZZZ", codes[0]]
    for attempt in attempts:
        mfa.verify_login_code(db, pending_of(db, token, now=now), attempt, now=now)
        now += SECOND * max(1, throttle.seconds_to_wait(db, member.id, now=now))
    later = now + STEP
    disabling = code_for(member.secret, later)
    assert mfa.disable(db, member.id, disabling, now=later).ok
    shown_codes += [*attempts, disabling]

    events = audit_events(db, member.id)
    for expected in (
        "twofa_enabled",
        "second_factor_failed",
        "backup_code_used",
        "twofa_disabled",
    ):
        assert expected in events
    assert events.count("second_factor_failed") == 2

    forbidden = {
        member.secret,
        totp.grouped(member.secret),
        member.secret.lower(),
        *shown_codes,
        *codes,
        *(backup_codes.formatted(c) for c in codes),
        *(c.lower() for c in codes),
        PASSWORD,
    }
    rows = db.exec(select(AuditEvent)).all()
    assert rows
    for row in rows:
        for column, value in row.model_dump().items():
            if isinstance(value, str):
                for secret in forbidden:
                    assert secret not in value, (row.event, column)


def test_enrolment_cannot_start_while_2fa_is_on(db, db_url, member):
    before = fresh(db_url, member.id)
    user = db.get(User, member.id)
    assert totp_flows.begin_enrollment(db, user, now=T0) is None
    after = fresh(db_url, member.id)
    assert after.totp_pending_secret is None
    assert after.totp_secret == before.totp_secret


# --- changes of factors end other sessions, in the same transaction ----------------------


def _live_session_ids(db: Session, user_id: int) -> set[int]:
    return set(
        db.exec(
            select(AuthSession.id).where(
                AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)
            )
        ).all()
    )


def _two_sessions(db: Session, user_id: int) -> tuple[int, int]:
    user = db.get(User, user_id)
    kept = sessions.current_session(
        db, sessions.start_session(db, user, epoch=user.credential_epoch, now=T0), now=T0
    )
    other = sessions.current_session(
        db, sessions.start_session(db, user, epoch=user.credential_epoch, now=T0), now=T0
    )
    return kept.session.id, other.session.id


def test_enabling_2fa_ends_every_other_session_and_refreshes_the_proof_of_this_one(db):
    user = new_user(db)
    kept, other = _two_sessions(db, user.id)
    enrollment = totp_flows.begin_enrollment(db, user, now=T0)
    later = T0 + timedelta(minutes=20)
    result = totp_flows.confirm_enrollment(
        db, user.id, code_for(enrollment.secret, later), now=later, keep_session_id=kept
    )
    assert result.ok
    assert _live_session_ids(db, user.id) == {kept}
    assert db.get(AuthSession, kept).fresh_proof_at == later
    assert other not in _live_session_ids(db, user.id)


def test_a_wrong_code_at_enrolment_ends_no_session(db):
    user = new_user(db)
    kept, other = _two_sessions(db, user.id)
    totp_flows.begin_enrollment(db, user, now=T0)
    result = totp_flows.confirm_enrollment(db, user.id, "000000", now=T0, keep_session_id=kept)
    assert not result.ok
    assert _live_session_ids(db, user.id) == {kept, other}


def test_disabling_2fa_ends_every_other_session(db, member):
    kept, _other = _two_sessions(db, member.id)
    later = T0 + STEP
    result = mfa.disable(
        db, member.id, code_for(member.secret, later), now=later, keep_session_id=kept
    )
    assert result.ok
    assert _live_session_ids(db, member.id) == {kept}


# --- the guessing cap (NIST SP 800-63B 5.2.2) --------------------------------------------


def _fail_until_capped(db: Session, member: Member) -> datetime:
    """Wrong app codes, each after its wait, until the cap; returns the time after."""
    now = T0
    for _ in range(throttle.CAP):
        now += SECOND * throttle.seconds_to_wait(db, member.id, now=now)
        result = mfa.check_code(db, member.id, wrong_code(member.secret, now), now=now)
        assert result.counted
    return now + SECOND * throttle.seconds_to_wait(db, member.id, now=now)


def test_after_the_cap_a_right_app_code_is_refused_and_the_owner_is_told(db, db_url, member):
    now = _fail_until_capped(db, member)
    assert failures_of(db_url, member.id) == throttle.CAP
    result = mfa.check_code(db, member.id, code_for(member.secret, now), now=now)
    assert not result.ok and result.capped
    assert "backup codes" in result.message and "admin" in result.message
    assert "second_factor_cap_reached" in audit_events(db, member.id)


def test_after_the_cap_a_backup_code_still_works_and_clears_it(db, db_url, member):
    codes = backup_codes.replace_batch(db, member.id, now=T0)
    now = _fail_until_capped(db, member)
    assert mfa.check_code(db, member.id, codes[0], now=now).ok
    db.commit()
    assert failures_of(db_url, member.id) == 0
    later = now + STEP
    assert mfa.check_code(db, member.id, code_for(member.secret, later), now=later).ok


def test_after_the_cap_an_admin_reset_lets_the_owner_start_again(db, db_url, member):
    _fail_until_capped(db, member)
    admin.reset_2fa(db, member.id, now=T0, actor_id=None, via="test")
    assert failures_of(db_url, member.id) == 0


def test_below_the_cap_a_right_app_code_still_works(db, member):
    now = T0
    for _ in range(throttle.CAP - 1):
        now += SECOND * throttle.seconds_to_wait(db, member.id, now=now)
        mfa.check_code(db, member.id, wrong_code(member.secret, now), now=now)
    now += SECOND * throttle.seconds_to_wait(db, member.id, now=now) + STEP
    assert mfa.check_code(db, member.id, code_for(member.secret, now), now=now).ok


# --- no lockout by strangers: a browser that signed in before counts apart ----------------


def a_browser() -> str:
    """The device digest of a browser (its token's SHA-256)."""
    return token_hash(new_token())


@pytest.fixture
def owners_browser(db, member) -> str:
    """A browser that completed a sign-in with a second factor for the member before."""
    digest = a_browser()
    devices.remember(db, member.id, digest, now=ENROLLED_AT, second_factor=True)
    return digest


def _login_code(db: Session, member: Member, code: str, *, now: datetime, device: str):
    """A fresh sign-in's second step with `code`, from `device`."""
    pending = pending_of(db, sign_in(db, member.id, now=now), now=now)
    return mfa.verify_login_code(db, pending, code, now=now, device=device)


def _strangers_fail(db: Session, member: Member, times: int, *, now: datetime) -> datetime:
    """Wrong codes from browsers the account does not know, each after its wait, each from a
    fresh sign-in; returns the moment after the last one (its wait not waited)."""
    for failures in range(1, times + 1):
        now += SECOND * throttle.seconds_to_wait(db, member.id, now=now)
        wrong = wrong_code(member.secret, now)
        result = _login_code(db, member, wrong, now=now, device=a_browser())
        assert result.counted
        # Only the lockout (not a short wait, not the cap) says to use the owner's browser.
        locked = throttle.LOCKOUT_AFTER <= failures < throttle.CAP
        assert (mfa.ELSEWHERE_HINT in result.message) == locked, result.message
    return now


def test_a_strangers_lockout_never_holds_back_the_owners_own_browser(
    db, db_url, member, owners_browser
):
    now = _strangers_fail(db, member, throttle.LOCKOUT_AFTER, now=T0)
    # Every browser the account does not know waits 15 minutes, even with the right code ...
    refused = _login_code(db, member, code_for(member.secret, now), now=now, device=a_browser())
    assert is_wait(refused) and "15 minutes" in refused.message
    assert refused.message.endswith(mfa.ELSEWHERE_HINT)  # the owner may use their own
    # ... while the owner's own browser signs in at once, with the same code.
    signed_in = _login_code(
        db, member, code_for(member.secret, now), now=now, device=owners_browser
    )
    assert signed_in.ok, signed_in.message
    # The owner's success hands the strangers no fresh guesses.
    assert failures_of(db_url, member.id) == throttle.LOCKOUT_AFTER
    later = now + STEP
    assert is_wait(_login_code(db, member, code_for(member.secret, later), now=later, device=""))


def test_past_the_strangers_cap_the_owners_browser_still_takes_app_codes(
    db, member, owners_browser
):
    now = _strangers_fail(db, member, throttle.CAP, now=T0) + throttle.LOCKOUT
    stranger = _login_code(db, member, code_for(member.secret, now), now=now, device=a_browser())
    assert (
        stranger.capped
        and "a browser where you have used two-factor authentication before" in stranger.message
    )
    owner = _login_code(db, member, code_for(member.secret, now), now=now, device=owners_browser)
    assert owner.ok, owner.message


def test_the_owners_wrong_codes_wait_on_their_own_browser_only(db, db_url, member, owners_browser):
    device_id = devices.code_throttle_id(db, member.id, owners_browser)
    now = T0
    for _ in range(2):
        now += SECOND * throttle.seconds_to_wait(db, member.id, now=now, device_id=device_id)
        wrong = wrong_code(member.secret, now)
        assert _login_code(db, member, wrong, now=now, device=owners_browser).counted
    # The owner's browser waits 2 seconds now; browsers the account does not know do not.
    assert throttle.seconds_to_wait(db, member.id, now=now, device_id=device_id) == 2
    assert throttle.seconds_to_wait(db, member.id, now=now) == 0
    assert failures_of(db_url, member.id) == 0
    new_browser = _login_code(db, member, code_for(member.secret, now), now=now, device="")
    assert new_browser.ok, new_browser.message
    # The owner's right code after the wait clears the browser's own count.
    later = now + 2 * SECOND + STEP
    right = code_for(member.secret, later)
    assert _login_code(db, member, right, now=later, device=owners_browser).ok
    assert throttle.seconds_to_wait(db, member.id, now=later + SECOND, device_id=device_id) == 0
    wrong = wrong_code(member.secret, later)
    assert (
        "Try again" not in _login_code(db, member, wrong, now=later, device=owners_browser).message
    )


def test_a_browser_known_to_another_account_counts_as_a_stranger(db, db_url, member):
    bob = enroll(db, new_user(db, "bob@example.com"))
    bobs_browser = a_browser()
    devices.remember(db, bob.id, bobs_browser, now=ENROLLED_AT, second_factor=True)

    assert _login_code(
        db, member, wrong_code(member.secret, T0), now=T0, device=bobs_browser
    ).counted

    assert failures_of(db_url, member.id) == 1


def _fail_on(db: Session, member: Member, device: str, times: int) -> datetime:
    """Wrong codes from `device`, each after its own key's wait; the moment after."""
    now = T0
    for _ in range(times):
        device_id = devices.code_throttle_id(db, member.id, device)
        now += SECOND * throttle.seconds_to_wait(db, member.id, now=now, device_id=device_id)
        assert _login_code(
            db, member, wrong_code(member.secret, now), now=now, device=device
        ).counted
    return now


def test_browsers_known_only_from_sign_ins_without_2fa_share_the_accounts_count(db, db_url):
    """Whoever had the password while 2FA was off could have signed in from any number of
    browsers: none of them gets a guessing cap of its own once 2FA is on."""
    user = new_user(db)
    browsers = [a_browser() for _ in range(3)]
    for browser in browsers:
        devices.remember(db, user.id, browser, now=ENROLLED_AT)  # the password alone
    member = enroll(db, user, now=ENROLLED_AT + SECOND)

    now = T0
    for browser in browsers * 2:
        now += SECOND * throttle.seconds_to_wait(db, member.id, now=now)
        assert _login_code(
            db, member, wrong_code(member.secret, now), now=now, device=browser
        ).counted

    assert failures_of(db_url, member.id) == 6
    assert all(devices.code_throttle_id(db, member.id, b) is None for b in browsers)


def test_turning_2fa_off_and_on_again_takes_every_browsers_own_count_away(
    db, db_url, member, owners_browser
):
    now = _fail_on(db, member, owners_browser, 3)
    assert mfa.disable(db, member.id, code_for(member.secret, now + STEP), now=now + STEP).ok
    again = enroll(db, db.get(User, member.id), now=now + 2 * STEP)

    # The browser signed in with a second factor under the old 2FA: not under this one.
    assert devices.code_throttle_id(db, again.id, owners_browser) is None
    later = now + 3 * STEP
    wrong = wrong_code(again.secret, later)
    assert _login_code(db, again, wrong, now=later, device=owners_browser).counted
    assert failures_of(db_url, again.id) == 1


def test_an_admin_reset_forgets_every_browser(db, db_url, member, owners_browser):
    _fail_on(db, member, owners_browser, 3)

    admin.reset_2fa(db, member.id, now=T0, actor_id=None, via="test")

    assert not devices.is_known(db, member.id, owners_browser)
    assert failures_of(db_url, member.id) == 0


def test_turning_the_app_off_forgets_every_browser_but_this_one(db, member, owners_browser):
    lost_phone = a_browser()
    devices.remember(db, member.id, lost_phone, now=ENROLLED_AT, second_factor=True)

    code = code_for(member.secret, T0)
    assert mfa.disable(db, member.id, code, now=T0, device=owners_browser).ok

    assert devices.is_known(db, member.id, owners_browser)
    assert not devices.is_known(db, member.id, lost_phone)


def test_past_100_failures_on_all_of_the_accounts_keys_no_browser_takes_app_codes(
    db, db_url, member, owners_browser
):
    """However many browsers have a key of their own, the account's keys together stop at
    NIST's 100 consecutive failures."""
    others = [a_browser() for _ in range(4)]
    for browser in others:
        devices.remember(db, member.id, browser, now=ENROLLED_AT, second_factor=True)
    with Session(engine_for(db_url)) as other:  # what the strangers' and owner's codes left
        other.exec(
            update(KnownDevice)
            .where(KnownDevice.token_hash.in_(others))
            .values(second_factor_failures=throttle.CAP - 1)
        )
        other.exec(
            update(KnownDevice)
            .where(KnownDevice.token_hash == owners_browser)
            .values(second_factor_failures=5)
        )
        other.exec(
            update(User).where(User.id == member.id).values(second_factor_failures=throttle.CAP - 1)
        )
        other.commit()  # 4 x 19 + 5 + 19: no key at its own cap, 100 together (81 known)

    capped = _login_code(db, member, code_for(member.secret, T0), now=T0, device=owners_browser)

    assert capped.capped and not capped.ok


@pytest.mark.parametrize(("known_total", "capped"), [(79, False), (80, True)])
def test_the_known_browsers_stop_taking_app_codes_at_80_failures_together(
    db, db_url, member, owners_browser, known_total, capped
):
    """80 with the account's own 20: never past NIST's 100 in all."""
    other_browser = a_browser()
    devices.remember(db, member.id, other_browser, now=ENROLLED_AT, second_factor=True)
    with Session(engine_for(db_url)) as other:
        other.exec(
            update(KnownDevice)
            .where(KnownDevice.token_hash == other_browser)
            .values(second_factor_failures=known_total)
        )
        other.commit()

    result = _login_code(db, member, code_for(member.secret, T0), now=T0, device=owners_browser)

    assert result.capped == capped and result.ok != capped


def test_however_far_strangers_drive_the_accounts_key_the_owners_browser_takes_app_codes(
    db, db_url, member, owners_browser
):
    """Past the cap, strangers' backup-code guesses go on counting on the account's key (one
    per lockout): that count never reaches the owner's browser, with no failure of its own."""
    with Session(engine_for(db_url)) as other:
        other.exec(
            update(User)
            .where(User.id == member.id)
            .values(second_factor_failures=throttle.ACCOUNT_CAP + 5)
        )
        other.commit()

    result = _login_code(db, member, code_for(member.secret, T0), now=T0, device=owners_browser)

    assert result.ok, result.message


def test_a_browser_forgotten_during_its_attempt_counts_on_the_account(db, db_url, member):
    browser = a_browser()
    devices.remember(db, member.id, browser, now=ENROLLED_AT, second_factor=True)
    device_id = devices.code_throttle_id(db, member.id, browser)
    devices.forget_others(db, member.id)  # an admin reset, a removed passkey, meanwhile
    db.commit()

    failure = throttle.record_failure(db, member.id, now=T0, device_id=device_id)
    db.commit()

    assert failure.failures == 1 and failures_of(db_url, member.id) == 1


def test_lockouts_tell_the_owner_which_browsers_they_hold_back(db, member, owners_browser):
    _strangers_fail(db, member, throttle.LOCKOUT_AFTER, now=T0)
    later = T0 + timedelta(hours=1)
    for _ in range(throttle.LOCKOUT_AFTER):
        later += SECOND * throttle.seconds_to_wait(
            db,
            member.id,
            now=later,
            device_id=devices.code_throttle_id(db, member.id, owners_browser),
        )
        wrong = wrong_code(member.secret, later)
        assert _login_code(db, member, wrong, now=later, device=owners_browser).counted

    shown = [a.what for a in audit.recent_activity(db, member.id, limit=50)]

    assert "Code attempts paused for 15 minutes on browsers not signed in before" in shown
    assert "Code attempts paused for 15 minutes on a browser signed in before" in shown


@pytest.mark.parametrize(("offset", "says"), [(4, "2 minutes fast"), (-20, "10 minutes slow")])
def test_clock_drift_message_says_how_far_and_which_way(offset, says):
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

    message = totp_flows.clock_drift_message(secret, code_for(secret, T0, offset), now=T0)

    assert message is not None and says in message and "automatic time" in message
    assert totp_flows.clock_drift_message(secret, code_for(secret, T0), now=T0) is None


def test_new_backup_codes_are_made_only_while_2fa_is_on(db, member):
    assert len(mfa.new_backup_codes(db, member.id, now=ENROLLED_AT)) == backup_codes.BATCH_SIZE

    # Turned off in another tab after this one's fresh proof: nothing is made or audited.
    off = mfa.disable(db, member.id, code_for(member.secret, ENROLLED_AT, 1), now=ENROLLED_AT)
    assert off.ok, off.message
    before = audit_events(db, member.id)
    assert mfa.new_backup_codes(db, member.id, now=ENROLLED_AT) == []
    assert backup_codes.remaining(db, member.id) == 0
    assert audit_events(db, member.id) == before
