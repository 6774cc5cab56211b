"""Admin actions: resetting another user's 2FA (lost phone and lost backup codes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, func, select

from rxapp.models import AuditEvent, BackupCode, PendingLogin, User
from rxapp.services import admin, audit, secretbox, sessions
from rxapp.services.database import engine_for
from rxapp.services.mfa.backup_codes import codes as backup_codes
from rxapp.services.mfa.totp import algorithm as totp
from tests.conftest import stored_bytes

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ENABLED_AT = NOW - timedelta(days=3)
PASSWORD_HASH = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$constant-test-hash"


def add_user(db: Session, email: str, *, is_admin: bool = False) -> User:
    user = User(
        email=email, password_hash=PASSWORD_HASH, is_admin=is_admin, created_at=NOW - timedelta(9)
    )
    db.add(user)
    db.commit()
    return user


def turn_on_2fa(db: Session, user: User) -> tuple[str, list[str]]:
    """2FA on with a real encrypted secret, a batch of backup codes (one spent), a half-run
    throttle and a pending enrolment secret; return the secret and the codes in clear."""
    secret = totp.new_secret()
    db.exec(
        sa.update(User)
        .where(User.id == user.id)
        .values(
            totp_secret=secretbox.encrypt(secret),
            totp_enabled_at=ENABLED_AT,
            twofa_active=True,
            totp_last_step=123_456,
            totp_pending_secret=secretbox.encrypt(totp.new_secret()),
            second_factor_failures=4,
            second_factor_blocked_until=NOW + timedelta(seconds=8),
        )
    )
    db.commit()
    codes = backup_codes.replace_batch(db, user.id, now=ENABLED_AT)
    assert backup_codes.use(db, user.id, codes[0], now=ENABLED_AT + timedelta(hours=1))
    db.commit()
    return secret, codes


@pytest.fixture
def people(db: Session) -> dict[str, User]:
    return {
        "admin": add_user(db, "boss@example.com", is_admin=True),
        "alice": add_user(db, "alice@example.com"),
        "bob": add_user(db, "bob@example.com"),
    }


def fresh(db: Session, user_id: int) -> User:
    db.expire_all()
    return db.get(User, user_id)


def code_count(db: Session, user_id: int) -> int:
    return db.exec(
        select(func.count()).select_from(BackupCode).where(BackupCode.user_id == user_id)
    ).one()


def test_reset_removes_the_secret_the_flag_the_codes_and_the_throttle(db, people):
    alice = people["alice"]
    turn_on_2fa(db, alice)
    result = admin.reset_2fa(db, alice.id, now=NOW, actor_id=people["admin"].id, via="dashboard")

    assert result is not None and result.id == alice.id
    user = fresh(db, alice.id)
    assert user.totp_secret is None
    assert user.totp_pending_secret is None
    assert user.totp_enabled_at is None
    assert user.twofa_active is False
    assert user.totp_last_step is None
    assert user.second_factor_failures == 0
    assert user.second_factor_blocked_until is None
    assert code_count(db, alice.id) == 0
    assert result.totp_secret is None  # the returned user is current, not stale


def test_reset_leaves_the_password_and_other_users_alone(db, people):
    alice, bob = people["alice"], people["bob"]
    turn_on_2fa(db, alice)
    bob_secret, _ = turn_on_2fa(db, bob)
    bob_before = fresh(db, bob.id).model_dump()

    admin.reset_2fa(db, alice.id, now=NOW, actor_id=people["admin"].id, via="dashboard")

    assert fresh(db, alice.id).password_hash == PASSWORD_HASH
    assert fresh(db, bob.id).model_dump() == bob_before
    assert secretbox.decrypt(fresh(db, bob.id).totp_secret) == bob_secret
    assert code_count(db, bob.id) == 5


def test_reset_ends_the_users_pending_logins_and_no_one_elses(db, people):
    alice, bob = people["alice"], people["bob"]
    turn_on_2fa(db, alice)
    turn_on_2fa(db, bob)
    started = NOW - timedelta(minutes=1)
    alice_tokens = [sessions.start_pending_login(db, alice, now=started) for _ in range(2)]
    bob_token = sessions.start_pending_login(db, bob, now=started)
    assert all(sessions.current_pending_login(db, t, now=NOW) for t in alice_tokens)

    admin.reset_2fa(db, alice.id, now=NOW, actor_id=people["admin"].id, via="dashboard")

    db.expire_all()
    for token in alice_tokens:
        assert sessions.current_pending_login(db, token, now=NOW) is None
    assert sessions.current_pending_login(db, bob_token, now=NOW) is not None
    ended = db.exec(select(PendingLogin.ended_at).where(PendingLogin.user_id == alice.id)).all()
    assert ended == [NOW, NOW]


def test_reset_keeps_the_end_time_of_an_already_ended_pending_login(db, people):
    alice = people["alice"]
    turn_on_2fa(db, alice)
    token = sessions.start_pending_login(db, alice, now=NOW - timedelta(minutes=3))
    pending = sessions.current_pending_login(db, token, now=NOW - timedelta(minutes=2))
    earlier = NOW - timedelta(minutes=2)
    assert sessions.end_pending_login(db, pending.id, now=earlier)
    db.commit()

    admin.reset_2fa(db, alice.id, now=NOW, actor_id=people["admin"].id, via="dashboard")

    db.expire_all()
    assert db.get(PendingLogin, pending.id).ended_at == earlier


@pytest.mark.both_databases
def test_reset_is_audited_with_the_actor_and_never_a_secret(db, db_url, people):
    alice, boss = people["alice"], people["admin"]
    secret, codes = turn_on_2fa(db, alice)
    encrypted = fresh(db, alice.id).totp_secret

    admin.reset_2fa(db, alice.id, now=NOW, actor_id=boss.id, via="dashboard")

    rows = db.exec(
        select(AuditEvent).where(AuditEvent.event == audit.Event.ADMIN_RESET_2FA.value)
    ).all()
    assert len(rows) == 1
    row = rows[0]
    assert (row.user_id, row.actor_id, row.email, row.at) == (
        alice.id,
        boss.id,
        "alice@example.com",
        NOW,
    )
    assert row.detail == "via=dashboard"
    text = " ".join(str(value) for value in row.model_dump().values())
    for never in [secret, encrypted, PASSWORD_HASH, *codes, *map(backup_codes.formatted, codes)]:
        assert never not in text
    # The secret and the codes in clear were never written anywhere in the database.
    everything = stored_bytes(db_url)
    for never in [secret, *codes]:
        assert never.encode() not in everything


def test_reset_of_a_user_without_2fa_still_ends_pending_logins_and_is_audited(db, people):
    bob = people["bob"]
    token = sessions.start_pending_login(db, bob, now=NOW - timedelta(minutes=1))

    result = admin.reset_2fa(db, bob.id, now=NOW, actor_id=None, via="command line")

    assert result is not None and result.twofa_active is False
    db.expire_all()
    assert sessions.current_pending_login(db, token, now=NOW) is None
    row = db.exec(select(AuditEvent).where(AuditEvent.event == "admin_reset_2fa")).one()
    assert (row.user_id, row.actor_id, row.detail) == (bob.id, None, "via=command line")


def test_unknown_user_gives_none_and_writes_nothing(db, people):
    alice = people["alice"]
    turn_on_2fa(db, alice)
    token = sessions.start_pending_login(db, alice, now=NOW - timedelta(minutes=1))
    audit_before = db.exec(select(func.count()).select_from(AuditEvent)).one()
    alice_before = fresh(db, alice.id).model_dump()

    assert admin.reset_2fa(db, 9_999, now=NOW, actor_id=people["admin"].id, via="x") is None

    db.rollback()  # anything left uncommitted would vanish here; nothing must have been
    assert db.exec(select(func.count()).select_from(AuditEvent)).one() == audit_before
    assert fresh(db, alice.id).model_dump() == alice_before
    assert code_count(db, alice.id) == 5
    assert sessions.current_pending_login(db, token, now=NOW) is not None


@pytest.mark.both_databases
def test_reset_commits_so_another_session_sees_it(db, db_url, people):
    alice = people["alice"]
    turn_on_2fa(db, alice)
    admin.reset_2fa(db, alice.id, now=NOW, actor_id=people["admin"].id, via="dashboard")
    with Session(engine_for(db_url)) as other:
        assert other.get(User, alice.id).totp_secret is None
        assert other.exec(select(func.count()).select_from(AuditEvent)).one() == 1


def test_an_admin_cannot_reset_their_own_2fa(db, db_url):
    admin_user = add_user(db, "root@example.com", is_admin=True)
    turn_on_2fa(db, admin_user)

    with pytest.raises(ValueError, match="My profile"):
        admin.reset_2fa(db, admin_user.id, now=NOW, actor_id=admin_user.id, via="dashboard")

    with Session(engine_for(db_url)) as other:
        still = other.get(User, admin_user.id)
        assert still is not None and still.twofa_active and still.totp_secret is not None
