"""Fresh proofs before sensitive actions: a current code when 2FA is on, else the password.

Time is frozen by passing `now`; what a proof changed is read back in a session of its own.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlmodel import Session, select

from rxapp.models import AuditEvent, AuthSession, User
from rxapp.services import accounts, devices, reauth, sessions, throttle
from rxapp.services.database import engine_for
from rxapp.services.mfa.backup_codes import codes as backup_codes
from rxapp.services.mfa.totp import flows as totp_flows
from rxapp.services.sessions import SignedIn
from rxapp.services.tokens import new_token, token_hash

pytestmark = pytest.mark.usefixtures("secret_key")

T0 = datetime(2025, 3, 1, 8, 0, 15, tzinfo=UTC)  # 15 s into a 30 s step
SIGNED_IN_AT = T0 - timedelta(minutes=20)  # long enough ago that the proof is stale
PASSWORD = "correct horse battery staple"


def signed_in(db: Session, user: User, *, now: datetime = SIGNED_IN_AT) -> SignedIn:
    token = sessions.start_session(db, user, epoch=user.credential_epoch, now=now)
    found = sessions.current_session(db, token, now=now)
    assert found is not None
    return found


def enable_2fa(db: Session, user: User) -> str:
    """Turn 2FA on for `user` (enrolled 10 minutes before T0); return the secret."""
    at = T0 - timedelta(minutes=10)
    enrollment = totp_flows.begin_enrollment(db, user, now=at)
    assert totp_flows.confirm_enrollment(db, user.id, pyotp.TOTP(enrollment.secret).at(at), now=at)
    db.refresh(user)
    return enrollment.secret


def proof_time(db_url: str, session_id: int) -> datetime:
    """The session's fresh-proof time as another request reads it."""
    with Session(engine_for(db_url)) as other:
        row = other.get(AuthSession, session_id)
        assert row is not None
        return row.fresh_proof_at.astimezone(UTC)


def audit_rows(db_url: str, user_id: int) -> list[tuple[str, str]]:
    with Session(engine_for(db_url)) as other:
        rows = other.exec(
            select(AuditEvent).where(AuditEvent.user_id == user_id).order_by(AuditEvent.id)
        ).all()
        return [(r.event, r.detail) for r in rows if r.event.startswith("reauth")]


@pytest.fixture
def user(db: Session) -> User:
    return accounts.create_user(db, "alice@example.com", PASSWORD, now=SIGNED_IN_AT)


def test_without_2fa_the_proof_asked_is_the_password(db, user):
    assert reauth.asks_for_code(signed_in(db, user)) is False


def test_with_2fa_the_proof_asked_is_a_code(db, user):
    enable_2fa(db, user)
    assert reauth.asks_for_code(signed_in(db, user)) is True


def test_the_right_password_makes_the_session_freshly_proven_and_is_audited(db, db_url, user):
    current = signed_in(db, user)

    assert reauth.prove(db, current, PASSWORD, now=T0) is None

    assert proof_time(db_url, current.session.id) == T0
    assert audit_rows(db_url, user.id) == [("reauth_ok", "password")]


@pytest.mark.parametrize("wrong", ["not my password", "", None, 12345678, {"password": PASSWORD}])
def test_a_wrong_password_is_refused_and_leaves_the_proof_stale(db, db_url, user, wrong):
    current = signed_in(db, user)

    assert reauth.prove(db, current, wrong, now=T0) == throttle.Refusal(
        "That password is not right."
    )

    assert proof_time(db_url, current.session.id) == SIGNED_IN_AT
    assert audit_rows(db_url, user.id) == [("reauth_failed", "password")]


def test_repeated_wrong_passwords_make_even_the_right_one_wait(db, db_url, user):
    current = signed_in(db, user)
    for attempt in range(5):  # five failures are free
        assert reauth.prove(db, current, f"wrong-{attempt}", now=T0) is not None

    refused = reauth.prove(db, current, PASSWORD, now=T0)

    assert refused is not None and "Try again in" in refused.message
    # The page counts down the very wait the message tells.
    assert refused.message == throttle.wait_message(refused.wait_seconds)
    assert proof_time(db_url, current.session.id) == SIGNED_IN_AT


def test_with_2fa_a_current_code_makes_the_session_freshly_proven(db, db_url, user):
    secret = enable_2fa(db, user)
    current = signed_in(db, user)

    assert reauth.prove(db, current, pyotp.TOTP(secret).at(T0), now=T0) is None

    assert proof_time(db_url, current.session.id) == T0
    assert audit_rows(db_url, user.id) == [("reauth_ok", "code")]


def test_with_2fa_the_password_is_not_a_proof(db, db_url, user):
    enable_2fa(db, user)
    current = signed_in(db, user)

    problem = reauth.prove(db, current, PASSWORD, now=T0)

    assert problem is not None
    assert proof_time(db_url, current.session.id) == SIGNED_IN_AT
    assert audit_rows(db_url, user.id) == [("reauth_failed", "code")]


def test_with_2fa_a_wrong_code_counts_on_the_accounts_throttle(db, db_url, user):
    secret = enable_2fa(db, user)
    current = signed_in(db, user)
    near = {pyotp.TOTP(secret).at(T0 + timedelta(seconds=30 * s)) for s in range(-2, 3)}
    wrong = next(c for c in ("000000", "111111", "222222") if c not in near)

    assert reauth.prove(db, current, wrong, now=T0) is not None

    with Session(engine_for(db_url)) as other:
        assert other.get(User, user.id).second_factor_failures == 1
    assert proof_time(db_url, current.session.id) == SIGNED_IN_AT


def test_with_2fa_a_strangers_lockout_never_holds_back_the_owners_own_browser(db, db_url, user):
    secret = enable_2fa(db, user)
    browser = token_hash(new_token())
    devices.remember(db, user.id, browser, now=SIGNED_IN_AT, second_factor=True)
    current = signed_in(db, user)
    with Session(engine_for(db_url)) as other:  # strangers' wrong codes locked the account
        locked = other.get(User, user.id)
        locked.second_factor_failures = throttle.LOCKOUT_AFTER
        locked.second_factor_blocked_until = T0 + throttle.LOCKOUT
        other.add(locked)
        other.commit()
    code = pyotp.TOTP(secret).at(T0)

    refused = reauth.prove(db, current, code, now=T0)
    assert refused is not None and "Try again in 15 minutes" in refused.message
    assert 14 * 60 < refused.wait_seconds <= 15 * 60
    assert reauth.prove(db, current, code, now=T0, device=browser) is None
    assert proof_time(db_url, current.session.id) == T0


def test_with_2fa_retrying_before_the_wait_is_over_never_lengthens_it(db, db_url, user):
    secret = enable_2fa(db, user)
    current = signed_in(db, user)
    near = {pyotp.TOTP(secret).at(T0 + timedelta(seconds=30 * s)) for s in range(-2, 3)}
    wrong = next(c for c in ("000000", "111111", "222222") if c not in near)
    assert reauth.prove(db, current, wrong, now=T0) is not None  # 1 s to wait now

    for _ in range(5):  # impatient clicks, the right code among them
        told = reauth.prove(db, current, pyotp.TOTP(secret).at(T0), now=T0)
        assert told is not None and "Try again in 1 second" in told.message
        assert told.wait_seconds == 1

    with Session(engine_for(db_url)) as other:
        assert other.get(User, user.id).second_factor_failures == 1
    later = T0 + timedelta(seconds=1)
    assert reauth.prove(db, current, pyotp.TOTP(secret).at(later), now=later) is None


def test_with_2fa_a_backup_code_is_a_proof_and_is_spent(db, db_url, user):
    enable_2fa(db, user)
    codes = backup_codes.replace_batch(db, user.id, now=T0 - timedelta(minutes=5))
    current = signed_in(db, user)

    assert reauth.prove(db, current, codes[0], now=T0) is None
    assert backup_codes.remaining(db, user.id) == 4

    later = T0 + timedelta(minutes=1)
    assert reauth.prove(db, current, codes[0], now=later) is not None
    assert proof_time(db_url, current.session.id) == T0


def test_the_audit_rows_never_hold_the_proof(db, db_url, user):
    current = signed_in(db, user)
    reauth.prove(db, current, "a-wrong-password-to-look-for", now=T0)
    reauth.prove(db, current, PASSWORD, now=T0 + timedelta(seconds=5))

    with Session(engine_for(db_url)) as other:
        rows = other.exec(select(AuditEvent)).all()
    text = "\n".join(f"{r.event} {r.email} {r.detail}" for r in rows)
    assert "reauth_failed" in text and "reauth_ok" in text
    assert "a-wrong-password-to-look-for" not in text
    assert PASSWORD not in text


# --- adding or removing a way in -------------------------------------------------------


def test_without_2fa_a_recent_sign_in_may_add_a_way_in(db, user):
    current = signed_in(db, user, now=T0)

    assert reauth.may_change_methods(current, now=T0 + timedelta(minutes=4))
    assert not reauth.may_change_methods(current, now=T0 + timedelta(minutes=6))


def test_with_2fa_a_sign_in_alone_may_not_add_a_way_in(db, user):
    """One phished code signs in, but never yields a passkey or app of the attacker's."""
    secret = enable_2fa(db, user)
    current = signed_in(db, user, now=T0)

    assert not reauth.may_change_methods(current, now=T0 + timedelta(seconds=1))

    later = T0 + timedelta(seconds=40)  # the next step's code, entered in the proof dialog
    assert reauth.prove(db, current, pyotp.TOTP(secret).at(later), now=later) is None
    proven = signed_in_again(db, current)
    assert reauth.may_change_methods(proven, now=later + timedelta(minutes=4))
    assert not reauth.may_change_methods(proven, now=later + timedelta(minutes=6))


def test_the_password_changes_with_the_password_alone_only_without_2fa(db, user):
    current = signed_in(db, user, now=T0)
    # Without 2FA the current password (asked in the dialog) is the proof, at any time.
    assert reauth.may_change_password(current, now=T0 + timedelta(hours=1))

    secret = enable_2fa(db, user)
    current = signed_in(db, user, now=T0)
    # With 2FA, a phished password and code must not lock the owner out: a fresh code first.
    assert not reauth.may_change_password(current, now=T0 + timedelta(seconds=1))
    later = T0 + timedelta(seconds=40)
    assert reauth.prove(db, current, pyotp.TOTP(secret).at(later), now=later) is None
    assert reauth.may_change_password(signed_in_again(db, current), now=later)


def signed_in_again(db: Session, current: SignedIn) -> SignedIn:
    """`current` as the next request reads it (its proof times from the database)."""
    row = db.get(AuthSession, current.session.id)
    assert row is not None
    db.refresh(row)
    return SignedIn(session=row, user=current.user)
