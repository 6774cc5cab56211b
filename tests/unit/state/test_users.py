"""The admin dashboard's live refresh stops as soon as its session may no longer see it."""

from __future__ import annotations

import pyotp

from rxapp.services import accounts, sessions
from rxapp.services.clock import utcnow
from rxapp.services.mfa import flow as mfa
from rxapp.services.mfa.totp import flows as totp_flows
from rxapp.services.tokens import token_hash
from rxapp.state.users import dashboard_still_open


def test_the_live_refresh_stops_when_the_admin_turns_2fa_off(db):
    admin = accounts.create_user(
        db, "root@example.com", "an admin's password", now=utcnow(), is_admin=True
    )
    shown = totp_flows.begin_enrollment(db, admin, now=utcnow())
    totp = pyotp.TOTP(shown.secret)
    assert totp_flows.confirm_enrollment(db, admin.id, totp.now(), now=utcnow()).ok
    db.refresh(admin)
    token = sessions.start_session(
        db, admin, now=utcnow(), epoch=admin.credential_epoch, second_factor=True
    )
    digest = token_hash(token)
    assert dashboard_still_open(db, digest)[0]

    session = sessions.current_session(db, token, now=utcnow())
    code = totp.at(utcnow(), counter_offset=1)  # the step after the one spent enrolling
    assert mfa.disable(db, admin.id, code, now=utcnow(), keep_session_id=session.session.id).ok

    assert dashboard_still_open(db, digest) == (False, 0)  # the same session, still live
    assert sessions.current_session(db, token, now=utcnow()) is not None
