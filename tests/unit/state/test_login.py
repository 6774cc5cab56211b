"""LoginState's password step against a real database, without a browser."""

from __future__ import annotations

import pyotp
import pytest
from sqlmodel import Session

from rxapp.services import accounts, passwords, sessions
from rxapp.services.clock import utcnow
from rxapp.services.database import engine_for
from rxapp.services.mfa.totp import flows as totp_flows
from rxapp.state.login import LoginState
from tests.unit.state.conftest import substate

PASSWORD = "dave's long password"


@pytest.mark.both_databases
def test_a_password_sign_in_that_raced_turning_on_2fa_signs_in_to_no_live_session(
    root, db, db_url, monkeypatch
):
    dave = accounts.create_user(db, "dave@example.com", PASSWORD, now=utcnow())
    real_check = passwords.check_password

    def check_while_2fa_goes_on(password: str, stored: str | None) -> passwords.PasswordCheck:
        checked = real_check(password, stored)
        # Dave turns 2FA on in another tab while this sign-in's password is being checked:
        # sessions opened with the password alone must not outlive that.
        with Session(engine_for(db_url), expire_on_commit=False) as other_db:
            shown = totp_flows.begin_enrollment(
                other_db, other_db.get(type(dave), dave.id), now=utcnow()
            )
            code = pyotp.TOTP(shown.secret).now()
            assert totp_flows.confirm_enrollment(other_db, dave.id, code, now=utcnow()).ok
        return checked

    monkeypatch.setattr(passwords, "check_password", check_while_2fa_goes_on)
    state = substate(root, LoginState)
    with Session(engine_for(db_url), expire_on_commit=False) as request_db:
        outcome = state._password_step(request_db, "dave@example.com", PASSWORD, "", "")

    assert outcome.session_token  # the password was right when it was checked
    assert sessions.current_session(db, outcome.session_token, now=utcnow()) is None
