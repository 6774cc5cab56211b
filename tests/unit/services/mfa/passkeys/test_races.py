"""Two tabs removing an account's last two methods at once: TOTP in one, the last passkey
in the other. Whatever the order, the account ends with 2FA off and no backup codes, never
"Activated" with nothing behind it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pyotp
import pytest
from sqlmodel import Session, select

from rxapp.models import Passkey, User
from rxapp.services.database import engine_for
from rxapp.services.mfa import flow as mfa
from rxapp.services.mfa.backup_codes import codes as backup_codes
from rxapp.services.mfa.passkeys import flows, store
from rxapp.services.mfa.totp import flows as totp_flows
from tests.unit.services.mfa.passkeys.soft_authenticator import SoftAuthenticator
from tests.unit.services.mfa.passkeys.test_flows import T0, new_user, register

pytestmark = [pytest.mark.usefixtures("secret_key"), pytest.mark.both_databases]

LATER = T0 + timedelta(seconds=60)


def _with_totp_and_a_passkey(db: Session) -> tuple[User, str, int]:
    user = new_user(db)
    enrollment = totp_flows.begin_enrollment(db, user, now=T0)
    assert totp_flows.confirm_enrollment(
        db, user.id, pyotp.TOTP(enrollment.secret).at(T0), now=T0
    ).ok
    assert register(db, user, SoftAuthenticator()).ok
    passkey_id = db.exec(select(Passkey.id)).one()
    db.commit()
    return user, pyotp.TOTP(enrollment.secret).at(LATER), passkey_id


def _account(db_url: str, user_id: int) -> dict[str, object]:
    with Session(engine_for(db_url)) as fresh:
        user = fresh.get(User, user_id)
        return {
            "twofa_active": user.twofa_active,
            "totp": totp_flows.is_enabled(user),
            "passkeys": store.count(fresh, user_id),
            "backup_codes": backup_codes.remaining(fresh, user_id),
        }


NOTHING_LEFT = {"twofa_active": False, "totp": False, "passkeys": 0, "backup_codes": 0}


def test_removing_the_passkey_with_a_stale_copy_of_the_account(db, db_url) -> None:
    user, code, passkey_id = _with_totp_and_a_passkey(db)
    with Session(engine_for(db_url)) as tab_b:
        # Loaded by tab B's session check, TOTP still on (held, as the handler holds it).
        loaded = tab_b.get(User, user.id)
        with Session(engine_for(db_url), expire_on_commit=False) as tab_a:
            assert mfa.disable(tab_a, user.id, code, now=LATER).ok
        assert flows.remove(tab_b, user.id, passkey_id, now=LATER, keep_session_id=None)
        assert loaded.id == user.id
    assert _account(db_url, user.id) == NOTHING_LEFT


def test_two_tabs_at_once(db, db_url) -> None:
    user, code, passkey_id = _with_totp_and_a_passkey(db)
    start = threading.Barrier(2)

    def turn_off_the_app() -> bool:
        with Session(engine_for(db_url), expire_on_commit=False) as tab:
            loaded = tab.get(User, user.id)
            start.wait()
            return bool(loaded) and mfa.disable(tab, user.id, code, now=LATER).ok

    def remove_the_passkey() -> bool:
        with Session(engine_for(db_url), expire_on_commit=False) as tab:
            loaded = tab.get(User, user.id)
            start.wait()
            return bool(loaded) and flows.remove(
                tab, user.id, passkey_id, now=LATER, keep_session_id=None
            )

    with ThreadPoolExecutor(2) as pool:
        outcomes = [pool.submit(turn_off_the_app), pool.submit(remove_the_passkey)]
        assert [outcome.result(timeout=30) for outcome in outcomes] == [True, True]
    assert _account(db_url, user.id) == NOTHING_LEFT


def test_two_tabs_asking_for_a_challenge_at_once_both_get_an_answer(db, db_url) -> None:
    from rxapp.services.mfa.passkeys import challenges

    start = threading.Barrier(4)

    def ask() -> bytes:
        with Session(engine_for(db_url)) as tab:
            start.wait()
            return challenges.issue(tab, "session:same", "register", now=T0)

    with ThreadPoolExecutor(4) as pool:
        issued = [f.result(timeout=30) for f in [pool.submit(ask) for _ in range(4)]]
    kept = challenges.spend(db, "session:same", "register", now=T0)
    assert kept is not None and kept.challenge in issued
