"""PasscodeState's second step against a real database, without a browser."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
import sqlalchemy as sa
from sqlmodel import Session

from rxapp.models import PendingLogin, User
from rxapp.services import accounts, admin, secretbox, sessions, throttle
from rxapp.services.clock import utcnow
from rxapp.services.database import engine_for
from rxapp.services.mfa import flow as mfa
from rxapp.services.mfa.totp import algorithm as totp
from rxapp.state.passcode import PasscodeState, pending_view
from tests.unit.state.conftest import substate


def user_with_totp(db: Session, email: str) -> tuple[User, str]:
    """A user with TOTP on (a real encrypted secret); the user and the secret in clear."""
    user = accounts.create_user(db, email, "a long enough password", now=utcnow())
    secret = totp.new_secret()
    db.exec(
        sa.update(User)
        .where(User.id == user.id)
        .values(totp_secret=secretbox.encrypt(secret), totp_enabled_at=utcnow(), twofa_active=True)
    )
    db.commit()
    db.refresh(user)
    return user, secret


@pytest.mark.both_databases
def test_a_right_code_that_raced_an_admin_reset_signs_in_to_no_live_session(root, db, db_url):
    boss = accounts.create_user(db, "boss@example.com", "the boss's password", now=utcnow())
    carol, secret = user_with_totp(db, "carol@example.com")
    pending_token = sessions.start_pending_login(db, carol, now=utcnow())

    def right_code_then_reset(request_db: Session, pending: PendingLogin) -> mfa.CodeCheck:
        checked = mfa.verify_login_code(request_db, pending, pyotp.TOTP(secret).now(), now=utcnow())
        # The admin's reset lands after the code was accepted, before the session is written.
        with Session(engine_for(db_url)) as admin_db:
            admin.reset_2fa(admin_db, carol.id, now=utcnow(), actor_id=boss.id, via="test")
        return checked

    state = substate(root, PasscodeState)
    with Session(engine_for(db_url), expire_on_commit=False) as request_db:
        pending = sessions.current_pending_login(request_db, pending_token, now=utcnow())
        outcome = state._check(request_db, pending, right_code_then_reset, device="")

    assert outcome.check.ok
    assert sessions.current_session(db, outcome.session_token, now=utcnow()) is None


def test_a_sign_in_after_a_change_of_credentials_is_live(root, db, db_url):
    carol, secret = user_with_totp(db, "carol@example.com")
    sessions.revoke_all_sessions(db, carol.id, now=utcnow())  # as a change of password does
    db.commit()
    db.refresh(carol)
    pending_token = sessions.start_pending_login(db, carol, now=utcnow())

    def right_code(request_db: Session, pending: PendingLogin) -> mfa.CodeCheck:
        return mfa.verify_login_code(request_db, pending, pyotp.TOTP(secret).now(), now=utcnow())

    state = substate(root, PasscodeState)
    with Session(engine_for(db_url), expire_on_commit=False) as request_db:
        pending = sessions.current_pending_login(request_db, pending_token, now=utcnow())
        outcome = state._check(request_db, pending, right_code, device="")

    assert outcome.check.ok
    assert sessions.current_session(db, outcome.session_token, now=utcnow()) is not None


@pytest.mark.parametrize(
    ("blocked_for", "told"),
    [(timedelta(seconds=-1), 0), (timedelta(seconds=1.5), 0), (timedelta(seconds=20.5), 21)],
    ids=["over", "too-short-to-tell", "running"],
)
def test_the_code_page_is_told_a_running_wait_long_enough_to_notice(db, blocked_for, told):
    carol, _secret = user_with_totp(db, "carol@example.com")
    db.exec(
        sa.update(User)
        .where(User.id == carol.id)
        .values(second_factor_failures=5, second_factor_blocked_until=utcnow() + blocked_for)
    )
    db.commit()
    token = sessions.start_pending_login(db, carol, now=utcnow())

    view = pending_view(db, sessions.current_pending_login(db, token, now=utcnow()))

    assert view.wait_seconds == told


def test_past_the_cap_the_code_page_tells_no_wait_the_first_code_meets_the_cap(db):
    carol, _secret = user_with_totp(db, "carol@example.com")
    db.exec(
        sa.update(User)
        .where(User.id == carol.id)
        .values(
            second_factor_failures=throttle.CAP,
            second_factor_blocked_until=utcnow() + timedelta(minutes=15),
        )
    )
    db.commit()
    token = sessions.start_pending_login(db, carol, now=utcnow())

    view = pending_view(db, sessions.current_pending_login(db, token, now=utcnow()))

    assert view.wait_seconds == 0
