"""`rxapp reset-2fa EMAIL`: turn a user's 2FA off from the command line, in-process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, func, select

from rxapp import cli
from rxapp.models import AuditEvent, BackupCode, PendingLogin, User
from rxapp.services import secretbox, sessions
from rxapp.services.mfa.totp import algorithm as totp
from rxapp.settings import get_settings
from tests.conftest import secret_key_set_to

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
PASSWORD_HASH = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$constant-cli-hash"


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str


@pytest.fixture
def rxapp(db_url: str, monkeypatch: pytest.MonkeyPatch, capsys) -> Iterator[Callable[..., Outcome]]:
    """Run `rxapp ARGS` in this process against the test's database."""
    get_settings.cache_clear()
    monkeypatch.setenv("REFLEX_DB_URL", db_url)
    get_settings.cache_clear()

    def run(*args: str) -> Outcome:
        capsys.readouterr()
        code = cli.main(list(args))
        out, err = capsys.readouterr()
        return Outcome(code, out, err)

    yield run
    get_settings.cache_clear()


def add_user(db: Session, email: str, **values) -> User:
    user = User(email=email, password_hash=PASSWORD_HASH, created_at=NOW - timedelta(days=9))
    for name, value in values.items():
        setattr(user, name, value)
    db.add(user)
    db.commit()
    return user


@pytest.fixture
def alice(db: Session) -> tuple[User, str]:
    """A user with 2FA on, backup codes, a half-run throttle and a pending login."""
    secret = totp.new_secret()
    user = add_user(
        db,
        "alice@example.com",
        totp_secret=secretbox.encrypt(secret),
        totp_enabled_at=NOW - timedelta(days=2),
        twofa_active=True,
        totp_last_step=1_000,
        second_factor_failures=3,
        second_factor_blocked_until=datetime.now(UTC) + timedelta(minutes=1),
    )
    db.exec(
        sa.insert(BackupCode),
        params=[
            {"user_id": user.id, "code_hash": f"hash-{n}", "created_at": NOW, "used_at": None}
            for n in range(5)
        ],
    )
    db.commit()
    sessions.start_pending_login(db, user, now=datetime.now(UTC))
    return user, secret


def audit_rows(db: Session) -> list[AuditEvent]:
    db.expire_all()
    return list(db.exec(select(AuditEvent).where(AuditEvent.event == "admin_reset_2fa")).all())


def test_reset_2fa_turns_off_a_users_2fa(rxapp, db, alice):
    user, secret = alice
    outcome = rxapp("reset-2fa", "alice@example.com")

    assert outcome.code == 0
    assert outcome.err == ""
    assert "Two-factor authentication reset for alice@example.com" in outcome.out
    assert secret not in outcome.out

    db.expire_all()
    after = db.get(User, user.id)
    assert (after.totp_secret, after.totp_enabled_at, after.twofa_active) == (None, None, False)
    assert (after.second_factor_failures, after.second_factor_blocked_until) == (0, None)
    assert after.totp_last_step is None
    assert after.password_hash == PASSWORD_HASH
    codes = db.exec(select(func.count()).select_from(BackupCode)).one()
    assert codes == 0
    open_logins = db.exec(
        select(func.count()).select_from(PendingLogin).where(PendingLogin.ended_at.is_(None))
    ).one()
    assert open_logins == 0


def test_reset_2fa_is_audited_as_done_from_the_command_line(rxapp, db, alice):
    user, secret = alice
    encrypted = user.totp_secret
    assert rxapp("reset-2fa", "alice@example.com").code == 0
    (row,) = audit_rows(db)
    assert (row.user_id, row.actor_id, row.email) == (user.id, None, "alice@example.com")
    assert row.detail == "via=command line"
    assert secret not in row.detail and encrypted not in row.detail


@pytest.mark.both_databases
def test_reset_2fa_finds_the_user_whatever_the_case_and_spaces(rxapp, db, alice):
    user, _ = alice
    outcome = rxapp("reset-2fa", "  Alice@Example.COM ")
    assert outcome.code == 0
    assert "alice@example.com" in outcome.out
    db.expire_all()
    assert db.get(User, user.id).twofa_active is False


def test_reset_2fa_leaves_other_users_alone(rxapp, db, alice):
    secret = totp.new_secret()
    bob = add_user(
        db,
        "bob@example.com",
        totp_secret=secretbox.encrypt(secret),
        totp_enabled_at=NOW,
        twofa_active=True,
    )
    assert rxapp("reset-2fa", "alice@example.com").code == 0
    db.expire_all()
    assert secretbox.decrypt(db.get(User, bob.id).totp_secret) == secret
    assert db.get(User, bob.id).twofa_active is True


def test_reset_2fa_of_a_user_without_2fa_says_there_is_nothing_to_reset(rxapp, db):
    add_user(db, "carl@example.com")
    outcome = rxapp("reset-2fa", "carl@example.com")
    assert outcome.code == 0
    assert outcome.err == ""
    assert "nothing to reset" in outcome.out
    assert "carl@example.com" in outcome.out
    assert audit_rows(db) == []


def test_reset_2fa_clears_an_enrolment_that_was_never_confirmed(rxapp, db):
    user = add_user(db, "dana@example.com", totp_pending_secret=secretbox.encrypt("X" * 32))
    outcome = rxapp("reset-2fa", "dana@example.com")
    assert outcome.code == 0
    db.expire_all()
    assert db.get(User, user.id).totp_pending_secret is None
    assert len(audit_rows(db)) == 1


def test_reset_2fa_of_an_unknown_email_fails_with_a_clear_message(rxapp, db, alice):
    outcome = rxapp("reset-2fa", "nobody@example.com")
    assert outcome.code == 1
    assert outcome.out == ""
    assert outcome.err.startswith("rxapp: error: ")
    assert "nobody@example.com" in outcome.err
    assert outcome.err.count("\n") == 1  # one line, no traceback
    assert audit_rows(db) == []
    db.expire_all()
    assert db.get(User, alice[0].id).twofa_active is True


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("not-an-email", "valid email address"),
        ("alice@localhost", "valid email address"),
        ("two@@example.com", "valid email address"),
        ("a" * 250 + "@example.com", "valid email address"),
        ("", "Enter your email address"),
        ("   ", "Enter your email address"),
    ],
)
def test_reset_2fa_of_a_malformed_email_fails_with_a_clear_message(rxapp, db, email, message):
    outcome = rxapp("reset-2fa", email)
    assert outcome.code == 1
    assert outcome.out == ""
    assert outcome.err.startswith("rxapp: error: ")
    assert message in outcome.err
    assert "Traceback" not in outcome.err
    assert audit_rows(db) == []


def test_reset_2fa_without_an_email_is_a_usage_error(rxapp):
    outcome = rxapp("reset-2fa")
    assert outcome.code == 2
    assert outcome.err == (
        "rxapp: error: give the account's email (or --lost-key after losing the key).\n"
    )
    both = rxapp("reset-2fa", "alice@example.com", "--lost-key")
    assert both.code == 2 and "give no EMAIL" in both.err


# --lost-key -----------------------------------------------------------------------------------

NEW_KEY = "bmV3LWtleS1uZXcta2V5LW5ldy1rZXktbmV3LWtleS0="


@pytest.mark.both_databases
def test_after_a_lost_key_every_account_it_cannot_open_is_reset_and_the_rest_kept(rxapp, db, alice):
    user, _ = alice
    setting_up = add_user(db, "sam@example.com", totp_pending_secret=secretbox.encrypt("X" * 32))
    with secret_key_set_to(NEW_KEY):
        kept_secret = totp.new_secret()
        kept = add_user(  # enrolled after the new key was set: it opens
            db,
            "kim@example.com",
            totp_secret=secretbox.encrypt(kept_secret),
            totp_enabled_at=NOW,
            twofa_active=True,
        )
        refused = rxapp("reset-2fa", "kim@example.com")
        assert refused.code == 1 and "does not decrypt" in refused.err
        assert "rxapp reset-2fa --lost-key" in refused.err

        outcome = rxapp("reset-2fa", "--lost-key")

        assert outcome.code == 0, outcome.err
        assert outcome.out.splitlines() == [
            "Two-factor authentication reset for 1 account(s) whose authenticator key the "
            "configured key cannot open (they sign in with their password alone, are told, "
            "and set 2FA up again):",
            "  alice@example.com",
            "1 2FA setup(s) in progress start again.",
        ]
        db.expire_all()
        after = db.get(User, user.id)
        assert (after.totp_secret, after.twofa_active) == (None, False)
        assert db.get(User, setting_up.id).totp_pending_secret is None
        assert secretbox.decrypt(db.get(User, kept.id).totp_secret) == kept_secret
        (row,) = audit_rows(db)
        assert (row.user_id, row.detail) == (user.id, "via=command line, lost key")
        # Nothing is left that the key cannot open: every command works again.
        assert rxapp("reset-2fa", "--lost-key").out == (
            "The key opens every secret stored in the database: nothing to reset.\n"
        )
        assert rxapp("reset-2fa", "kim@example.com").code == 0
