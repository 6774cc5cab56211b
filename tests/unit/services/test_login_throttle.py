"""The per-email throttle on password attempts, through the password step itself."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from rxapp.models import AuditEvent, LoginThrottle
from rxapp.services import accounts, passwords, throttle
from rxapp.services.database import engine_for

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


@pytest.fixture
def alice(db):
    return accounts.create_user(db, "alice@example.com", "alice-password", now=T0)


def fail(db, email: str, now: datetime) -> accounts.PasswordStep:
    return accounts.check_password_step(db, email, "not-the-password", now=now)


def test_the_delay_is_free_for_five_failures_then_doubles_up_to_15_minutes():
    assert [throttle.delay_after(n, throttle.PASSWORD).total_seconds() for n in range(8)] == [
        0,
        0,
        0,
        0,
        0,
        1,
        2,
        4,
    ]
    assert throttle.delay_after(30, throttle.PASSWORD) == timedelta(minutes=15)


@pytest.mark.parametrize("email", ["alice@example.com", "nobody@example.com"])
def test_known_and_unknown_emails_are_throttled_alike(db, alice, email):
    answers = [fail(db, email, T0).message for _ in range(5)]
    assert set(answers) == {accounts.GENERIC_SIGN_IN_ERROR}
    sixth = fail(db, email, T0)
    assert sixth.user is None
    assert sixth.message == "Too many failed attempts. Try again in 1 second."
    assert sixth.wait_seconds == 1  # counted down on the page
    # Waiting it out lets the next attempt through, and the wait then doubles.
    assert fail(db, email, T0 + SECOND).message == accounts.GENERIC_SIGN_IN_ERROR
    assert (
        fail(db, email, T0 + SECOND).message == "Too many failed attempts. Try again in 2 seconds."
    )


def test_while_waiting_even_the_right_password_is_not_checked(db, alice):
    for _ in range(6):
        fail(db, alice.email, T0)
    step = accounts.check_password_step(db, alice.email, "alice-password", now=T0)
    assert step.user is None and "Try again" in step.message
    later = T0 + 2 * SECOND
    assert accounts.check_password_step(db, alice.email, "alice-password", now=later).user


def test_the_right_password_clears_the_count(db, alice):
    for _ in range(4):
        fail(db, alice.email, T0)
    assert accounts.check_password_step(db, alice.email, "alice-password", now=T0).user
    assert db.exec(select(LoginThrottle)).all() == []
    for _ in range(5):
        assert fail(db, alice.email, T0).message == accounts.GENERIC_SIGN_IN_ERROR


def test_other_emails_are_not_slowed_down(db, alice):
    for _ in range(7):
        fail(db, "mallory@example.com", T0)
    assert accounts.check_password_step(db, alice.email, "alice-password", now=T0).user


@pytest.mark.both_databases
def test_the_throttle_table_holds_no_email_address(db, alice):
    fail(db, "secret-address@example.com", T0)
    row = db.exec(select(LoginThrottle)).one()
    assert "secret-address" not in repr(row.model_dump())
    assert row.key == throttle.key_for("secret-address@example.com")


@pytest.mark.both_databases
def test_a_burst_of_attempts_checks_one_password(db, db_url, alice, monkeypatch):
    threads = 8
    start = threading.Barrier(threads)
    checking, release = [], threading.Event()
    real_check = passwords.check_password

    def slow_check(password: str, stored: str | None) -> passwords.PasswordCheck:
        # A hash that takes as long as the burst does, whatever the machine's load: the
        # attempt that claimed the account holds its claim until every other one answered.
        checking.append(password)
        release.wait(timeout=30)
        return real_check(password, stored)

    monkeypatch.setattr(passwords, "check_password", slow_check)

    def attempt() -> str:
        with Session(engine_for(db_url), expire_on_commit=False) as own:
            start.wait()
            return accounts.check_password_step(own, alice.email, "guess-password", now=T0).message

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(attempt) for _ in range(threads)]
        deadline = time.monotonic() + 30
        while sum(f.done() for f in futures) < threads - 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        release.set()
        messages = [f.result() for f in futures]

    assert len(checking) == 1
    assert messages.count(accounts.GENERIC_SIGN_IN_ERROR) == 1
    # The others were not checked, and are told so (not that they failed too often).
    assert messages.count(accounts.BUSY_MESSAGE) == threads - 1


@pytest.mark.parametrize("email", ["alice@example.com", "nobody@example.com"])
def test_while_another_attempt_is_being_checked_one_is_told_to_retry_not_to_wait(db, alice, email):
    # Another tab (or person) has claimed the account's key and is being checked.
    assert throttle.claim_key(db, throttle.key_for(email), now=T0) == 0

    step = accounts.check_password_step(db, email, "alice-password", now=T0)

    assert step.user is None and step.busy
    assert step.message == accounts.BUSY_MESSAGE  # the same for every email
    events = db.exec(select(AuditEvent.event).where(AuditEvent.email == email)).all()
    assert "sign_in_throttled" not in events


def test_a_real_wait_is_never_passed_off_as_another_check(db, alice):
    for _ in range(throttle.FREE_FAILURES):
        fail(db, alice.email, T0)

    step = accounts.check_password_step(db, alice.email, "alice-password", now=T0)

    assert not step.busy
    assert step.message == "Too many failed attempts. Try again in 1 second."
    assert step.wait_seconds == 1


def test_asking_the_password_again_shares_the_throttle(db, alice):
    for _ in range(6):
        fail(db, alice.email, T0)
    waiting = accounts.check_password_again(db, alice, "alice-password", now=T0)
    assert waiting == throttle.Refusal.to_wait(waiting.wait_seconds)
    assert waiting.wait_seconds > 0
    assert accounts.check_password_again(db, alice, "wrong", now=T0 + 2 * SECOND) == (
        throttle.Refusal("That password is not right.")
    )
    later = T0 + 10 * SECOND
    assert accounts.check_password_again(db, alice, "alice-password", now=later) is None


def test_asking_the_password_again_in_two_tabs_at_once_is_no_failed_attempt(db, alice):
    # One tab's check holds the key (a signed-in account's password asked again).
    key = throttle.account_key(alice.email, "")
    assert throttle.claim_key(db, key, now=T0) == 0

    answer = accounts.check_password_again(db, alice, "alice-password", now=T0)

    assert answer == throttle.Refusal(accounts.PASSWORD_BEING_CHECKED)
    assert not answer.message.startswith("Too many failed attempts")
