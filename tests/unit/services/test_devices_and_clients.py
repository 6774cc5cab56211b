"""No lockout by strangers, and no spraying from one client: the password throttle per known
device and per client address, through the password step, with time frozen by `now`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event
from sqlmodel import Session, select

from rxapp.models import AuditEvent, KnownDevice, LoginThrottle
from rxapp.services import accounts, devices, throttle
from rxapp.services.database import engine_for
from rxapp.services.tokens import new_token, token_hash

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
PASSWORD = "alice-password"
STRANGER_IP = "198.51.100.66"
OWNER_IP = "203.0.113.10"


@pytest.fixture
def db(sqlite_db_url):
    with Session(engine_for(sqlite_db_url), expire_on_commit=False) as session:
        yield session


@pytest.fixture
def alice(db):
    return accounts.create_user(db, "alice@example.com", PASSWORD, now=T0)


@pytest.fixture
def owner_device(db, alice) -> str:
    """The digest of a browser that signed in as alice before."""
    digest = token_hash(new_token())
    devices.remember(db, alice.id, digest, now=T0)
    return digest


def _try(db, password, *, now, device="", ip=STRANGER_IP) -> accounts.PasswordStep:
    return accounts.check_password_step(
        db, "alice@example.com", password, now=now, device=device, client_ip=ip
    )


def _stranger_locks_the_account(db, now: datetime) -> datetime:
    """Wrong passwords from unknown browsers (many addresses), each after its wait."""
    for i in range(12):
        step = _try(db, "wrong", now=now, ip=f"192.0.2.{i}")
        if step.message.startswith("Too many failed attempts"):
            now += timedelta(minutes=15)
            continue
        now += timedelta(seconds=1)
    return now


def test_a_strangers_wrong_passwords_never_delay_the_owners_known_browser(db, alice, owner_device):
    now = _stranger_locks_the_account(db, T0)
    # Unknown browsers are waiting now ...
    assert _try(db, PASSWORD, now=now, ip="192.0.2.200").message.startswith(
        "Too many failed attempts"
    )
    # ... while the owner's own browser signs in at once.
    step = _try(db, PASSWORD, now=now, device=owner_device, ip=OWNER_IP)
    assert step.user is not None and step.user.id == alice.id


def test_wrong_passwords_on_the_owners_device_are_throttled_on_that_device(db, alice, owner_device):
    now = T0
    for _ in range(throttle.FREE_FAILURES):
        _try(db, "wrong", now=now, device=owner_device, ip=OWNER_IP)
    assert _try(db, PASSWORD, now=now, device=owner_device, ip=OWNER_IP).message.startswith(
        "Too many"
    )
    # An unknown browser is not delayed by the owner's own typos.
    assert _try(db, PASSWORD, now=now, ip="192.0.2.7").user is not None


def test_a_device_token_of_another_account_counts_as_unknown(db, alice, owner_device):
    bob = accounts.create_user(db, "bob@example.com", "bob-password", now=T0)
    assert devices.is_known(db, alice.id, owner_device)
    assert not devices.is_known(db, bob.id, owner_device)
    assert not devices.is_known(db, alice.id, "")


def test_one_client_spraying_many_accounts_is_made_to_wait(db):
    now = T0
    for i in range(throttle.per_client().free_failures):
        step = accounts.check_password_step(
            db, f"victim{i}@example.com", "Summer2026!", now=now, client_ip=STRANGER_IP
        )
        assert step.message == accounts.GENERIC_SIGN_IN_ERROR
    blocked = accounts.check_password_step(
        db, "victim-next@example.com", "Summer2026!", now=now, client_ip=STRANGER_IP
    )
    assert blocked.message.startswith("Too many failed attempts")
    # Other clients are not affected, and the client's failures are forgotten after an hour.
    other = accounts.check_password_step(
        db, "victim-next@example.com", "x", now=now, client_ip="192.0.2.1"
    )
    assert other.message == accounts.GENERIC_SIGN_IN_ERROR
    later = now + timedelta(hours=1, minutes=16)
    again = accounts.check_password_step(
        db, "victim-more@example.com", "x", now=later, client_ip=STRANGER_IP
    )
    assert again.message == accounts.GENERIC_SIGN_IN_ERROR


def test_a_blocked_client_is_told_the_accounts_wait_when_that_is_longer(db, alice):
    client, per_client = throttle.client_key(STRANGER_IP), throttle.per_client()
    for _ in range(per_client.free_failures):
        throttle.record_key_failure(db, client, now=T0, policy=per_client)
    account = throttle.account_key(alice.email, "")
    for _ in range(throttle.FREE_FAILURES + 4):
        throttle.record_key_failure(db, account, now=T0)
    db.commit()
    client_wait = throttle.seconds_blocked(db, client, now=T0)
    account_wait = throttle.seconds_blocked(db, account, now=T0)
    assert 0 < client_wait < account_wait

    step = _try(db, PASSWORD, now=T0)

    # The page counts this down: at its end, the account may really try again.
    assert step.wait_seconds == account_wait
    assert step.message == throttle.wait_message(account_wait)


def test_throttled_attempts_leave_an_audit_row(db, alice):
    now = T0
    for _ in range(throttle.FREE_FAILURES + 1):
        _try(db, "wrong", now=now)
    events = db.exec(select(AuditEvent.event).where(AuditEvent.user_id == alice.id)).all()
    assert "sign_in_throttled" in events


def test_old_throttle_rows_are_pruned(db):
    accounts.check_password_step(db, "gone@example.com", "x", now=T0, client_ip=STRANGER_IP)
    assert db.exec(select(LoginThrottle)).all()
    later = T0 + timedelta(days=2)
    accounts.check_password_step(db, "new@example.com", "x", now=later, client_ip="192.0.2.9")
    keys = set(db.exec(select(LoginThrottle.key)).all())
    assert throttle.key_for("gone@example.com") not in keys
    assert throttle.client_key(STRANGER_IP) not in keys
    assert throttle.key_for("new@example.com") in keys


def test_ipv6_clients_are_limited_by_their_64_network():
    one = throttle.client_key("2001:db8:1:2:aaaa::1")
    assert one == throttle.client_key("2001:db8:1:2:ffff:ffff:ffff:ffff")
    assert one != throttle.client_key("2001:db8:1:3::1")
    assert throttle.client_key("203.0.113.1") != throttle.client_key("203.0.113.2")


def test_a_sign_in_losing_the_race_to_remember_its_browser_keeps_the_callers_work(
    db, sqlite_db_url, alice
):
    """Two sign-ins from one browser at once (two tabs): the one that finds the browser's
    row added by the other meanwhile must not roll back what its caller did before (a
    spent approval, say)."""
    digest = token_hash(new_token())
    db.add(AuditEvent(at=T0, event="caller_work", user_id=alice.id))  # not committed yet

    def the_other_tab_first(session, _context, _instances) -> None:
        if not any(isinstance(row, KnownDevice) for row in session.new):
            return  # only just before this browser's row is inserted
        with Session(engine_for(sqlite_db_url)) as other:
            devices.remember(other, alice.id, digest, now=T0)

    event.listen(db, "before_flush", the_other_tab_first)
    devices.remember(db, alice.id, digest, now=T0)

    with Session(engine_for(sqlite_db_url)) as fresh:
        assert fresh.exec(select(AuditEvent).where(AuditEvent.event == "caller_work")).first()
    assert devices.is_known(db, alice.id, digest)
