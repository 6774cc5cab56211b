"""The per-account second-factor throttle: backoff, lockout, atomic counting, reset."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from rxapp.models import User
from rxapp.services import throttle
from rxapp.services.database import engine_for

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def add_user(db: Session, email: str = "alice@example.com") -> int:
    user = User(email=email, password_hash="not-a-real-hash", created_at=T0)
    db.add(user)
    db.commit()
    return user.id


def stored(db_url: str, user_id: int) -> User:
    with Session(engine_for(db_url)) as fresh:
        user = fresh.get(User, user_id)
        fresh.expunge(user)
        return user


def test_delay_doubles_from_one_second_then_locks_for_15_minutes_from_the_10th_failure():
    expected = [1, 2, 4, 8, 16, 32, 64, 128, 256]

    assert [throttle.delay_after(n) for n in range(1, 10)] == [
        timedelta(seconds=s) for s in expected
    ]
    for failures in (10, 11, 25, 1000):
        assert throttle.delay_after(failures) == timedelta(minutes=15)
    assert throttle.delay_after(0) == timedelta(0)


def test_a_new_account_need_not_wait(db):
    user_id = add_user(db)

    assert throttle.seconds_to_wait(db, user_id, now=T0) == 0


def test_each_failure_counts_and_sets_the_next_wait(db, db_url):
    user_id = add_user(db)

    for n, seconds in enumerate([1, 2, 4, 8], start=1):
        failure = throttle.record_failure(db, user_id, now=T0)
        db.commit()
        assert failure.failures == n
        assert failure.blocked_until == T0 + seconds * SECOND
        assert not failure.locked
        assert throttle.seconds_to_wait(db, user_id, now=T0) == seconds

    row = stored(db_url, user_id)
    assert row.second_factor_failures == 4
    assert row.second_factor_blocked_until == T0 + 8 * SECOND


def test_the_10th_consecutive_failure_locks_for_15_minutes(db):
    user_id = add_user(db)
    for _ in range(9):
        assert not throttle.record_failure(db, user_id, now=T0).locked

    tenth = throttle.record_failure(db, user_id, now=T0)
    db.commit()

    assert tenth.failures == 10
    assert tenth.locked
    assert tenth.blocked_until == T0 + timedelta(minutes=15)
    assert throttle.seconds_to_wait(db, user_id, now=T0) == 15 * 60
    assert throttle.seconds_to_wait(db, user_id, now=T0 + timedelta(minutes=14)) == 60
    assert throttle.seconds_to_wait(db, user_id, now=T0 + timedelta(minutes=15)) == 0


def test_seconds_to_wait_rounds_up_and_ends_at_the_deadline(db):
    user_id = add_user(db)
    throttle.record_failure(db, user_id, now=T0)
    throttle.record_failure(db, user_id, now=T0)  # wait 2 s
    db.commit()

    assert throttle.seconds_to_wait(db, user_id, now=T0) == 2
    assert throttle.seconds_to_wait(db, user_id, now=T0 + timedelta(milliseconds=1)) == 2
    assert throttle.seconds_to_wait(db, user_id, now=T0 + timedelta(milliseconds=1001)) == 1
    assert throttle.seconds_to_wait(db, user_id, now=T0 + 2 * SECOND) == 0
    assert throttle.seconds_to_wait(db, user_id, now=T0 + timedelta(hours=1)) == 0


@pytest.mark.both_databases
def test_a_failure_that_finishes_late_keeps_the_later_deadline(db):
    user_id = add_user(db)
    for _ in range(9):
        throttle.record_failure(db, user_id, now=T0)  # the 9th: wait 256 s from T0
    db.commit()

    # A 10th failure stamped with an earlier `now` (its request started first).
    throttle.record_failure(db, user_id, now=T0 - timedelta(minutes=20))
    db.commit()

    assert throttle.seconds_to_wait(db, user_id, now=T0) == 256


def test_a_lockout_counted_a_moment_later_never_reads_as_more_than_15_minutes(db):
    """A burst's failures finish in any order: one stamped later sets the deadline, and a
    request that started a moment earlier reads it. Seen by an attack session as "16"."""
    user_id = add_user(db)
    for _ in range(10):
        throttle.record_failure(db, user_id, now=T0 + timedelta(milliseconds=400))
    db.commit()

    waited = throttle.seconds_to_wait(db, user_id, now=T0)

    assert waited == 15 * 60
    assert throttle.wait_message(waited) == "Too many failed attempts. Try again in 15 minutes."


def test_the_throttle_is_per_account(db):
    alice = add_user(db, "alice@example.com")
    bob = add_user(db, "bob@example.com")
    for _ in range(10):
        throttle.record_failure(db, alice, now=T0)
    db.commit()

    assert throttle.seconds_to_wait(db, bob, now=T0) == 0


def test_reset_clears_the_count_and_the_wait(db, db_url):
    user_id = add_user(db)
    for _ in range(10):
        throttle.record_failure(db, user_id, now=T0)
    db.commit()

    throttle.reset(db, user_id)
    db.commit()

    row = stored(db_url, user_id)
    assert row.second_factor_failures == 0
    assert row.second_factor_blocked_until is None
    assert throttle.seconds_to_wait(db, user_id, now=T0) == 0
    assert throttle.record_failure(db, user_id, now=T0).failures == 1


@pytest.mark.both_databases
def test_uncommitted_failures_are_not_counted(db, db_url):
    user_id = add_user(db)
    throttle.record_failure(db, user_id, now=T0)
    db.rollback()

    assert stored(db_url, user_id).second_factor_failures == 0


@pytest.mark.both_databases
def test_concurrent_failures_in_separate_sessions_are_all_counted(db, db_url):
    threads = 10
    user_id = add_user(db)
    start = threading.Barrier(threads)

    def fail_once() -> int:
        with Session(engine_for(db_url)) as own:
            start.wait()
            failure = throttle.record_failure(own, user_id, now=T0)
            own.commit()
            return failure.failures

    with ThreadPoolExecutor(threads) as pool:
        counts = list(pool.map(lambda _: fail_once(), range(threads)))

    row = stored(db_url, user_id)
    assert row.second_factor_failures == threads
    assert sorted(counts) == list(range(1, threads + 1))  # each saw its own increment
    # Whichever order they committed in, the longest wait (the lockout) is kept.
    assert row.second_factor_blocked_until == T0 + timedelta(minutes=15)


@pytest.mark.both_databases
def test_only_one_of_concurrent_attempts_claims_the_account(db, db_url):
    threads = 10
    user_id = add_user(db)
    start = threading.Barrier(threads)

    def claim() -> bool:
        with Session(engine_for(db_url)) as own:
            start.wait()
            return throttle.claim_attempt(own, user_id, now=T0)

    with ThreadPoolExecutor(threads) as pool:
        claims = list(pool.map(lambda _: claim(), range(threads)))

    assert claims.count(True) == 1
    # The claim holds the wait that follows a failure of that attempt.
    assert stored(db_url, user_id).second_factor_blocked_until == T0 + SECOND


def test_a_claim_is_free_again_once_the_wait_is_over(db):
    user_id = add_user(db)
    assert throttle.claim_attempt(db, user_id, now=T0)
    assert not throttle.claim_attempt(db, user_id, now=T0 + SECOND / 2)
    assert throttle.claim_attempt(db, user_id, now=T0 + SECOND)


def test_a_claim_for_an_unknown_account_fails(db):
    assert not throttle.claim_attempt(db, 12345, now=T0)


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (1, "1 second"),
        (64, "64 seconds"),
        (99, "99 seconds"),
        (100, "2 minutes"),
        (900, "15 minutes"),
    ],
)
def test_a_wait_is_said_in_seconds_up_to_100_then_in_minutes_rounded_up(seconds, said):
    assert throttle.wait_message(seconds) == f"Too many failed attempts. Try again in {said}."
