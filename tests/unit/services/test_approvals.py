"""Approving a sign-in from a signed-in device, with number matching; time frozen by `now`."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from rxapp.models import AuditEvent, PendingLogin, SignInApproval, User
from rxapp.services import accounts, approvals, audit, secretbox, sessions, throttle
from rxapp.services.database import engine_for
from tests.conftest import stored_bytes

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


@pytest.fixture
def db(sqlite_db_url):
    with Session(engine_for(sqlite_db_url), expire_on_commit=False) as session:
        yield session


@pytest.fixture
def user(db) -> User:
    return accounts.create_user(db, "alice@example.com", "alice-password", now=T0)


def _device(db, user, *, second_factor=True, now=T0) -> sessions.SignedIn:
    token = sessions.start_session(
        db, user, epoch=user.credential_epoch, now=now, second_factor=second_factor
    )
    return sessions.current_session(db, token, now=now)


def _pending(db, user, now=T0):
    return sessions.current_pending_login(
        db, sessions.start_pending_login(db, user, now=now), now=now
    )


def test_the_right_number_approves_once_and_the_sign_in_is_spent_once(db, user):
    phone = _device(db, user)
    pending = _pending(db, user)
    request = approvals.ask(db, pending, now=T0, ip="198.51.100.7", user_agent="Firefox/140")
    [prompt] = approvals.prompts_for(db, phone, now=T0 + SECOND)
    assert request.number in prompt.choices and len(set(prompt.choices)) == 3
    assert prompt.ip == "198.51.100.7"
    assert approvals.decide(db, prompt.ref, phone, request.number, now=T0 + SECOND) == "approved"
    assert approvals.decide(db, prompt.ref, phone, request.number, now=T0 + SECOND) == "gone"
    assert approvals.outcome(db, request.ref, pending.id, now=T0 + SECOND) == "approved"
    assert approvals.consume(db, request.ref, pending.id, now=T0 + SECOND)
    db.commit()
    assert not approvals.consume(db, request.ref, pending.id, now=T0 + SECOND)


def test_a_wrong_number_or_deny_ends_the_request_and_counts_a_failure(db, user):
    phone = _device(db, user)
    pending = _pending(db, user)
    request = approvals.ask(db, pending, now=T0)
    wrong = next(
        n for n in approvals.prompts_for(db, phone, now=T0)[0].choices if n != request.number
    )
    assert approvals.decide(db, request.ref, phone, wrong, now=T0) == "mismatched"
    assert approvals.outcome(db, request.ref, pending.id, now=T0) == "mismatched"
    assert not approvals.consume(db, request.ref, pending.id, now=T0)
    db.refresh(user)
    assert user.second_factor_failures == 1
    later = T0 + 11 * SECOND
    again = approvals.ask(db, pending, now=later)
    assert approvals.decide(db, again.ref, phone, None, now=later) == "denied"
    db.refresh(user)
    assert user.second_factor_failures == 2
    events = db.exec(select(AuditEvent.event).where(AuditEvent.user_id == user.id)).all()
    assert events.count("approval_denied") == 2


def test_a_denial_that_locks_the_second_step_is_audited_as_a_lockout(db, user):
    phone = _device(db, user)
    user.second_factor_failures = throttle.LOCKOUT_AFTER - 1  # wrong codes before
    db.add(user)
    db.commit()
    request = approvals.ask(db, _pending(db, user), now=T0)
    assert approvals.decide(db, request.ref, phone, None, now=T0) == "denied"
    rows = db.exec(
        select(AuditEvent.event, AuditEvent.detail).where(AuditEvent.user_id == user.id)
    ).all()
    assert ("second_factor_lockout", audit.NEW_BROWSER) in rows
    assert throttle.is_locked(db, user.id)


def test_a_request_expires_after_two_minutes(db, user):
    phone = _device(db, user)
    pending = _pending(db, user)
    request = approvals.ask(db, pending, now=T0)
    late = T0 + approvals.LIFETIME
    assert approvals.outcome(db, request.ref, pending.id, now=late) == "expired"
    assert approvals.prompts_for(db, phone, now=late) == []
    assert approvals.decide(db, request.ref, phone, request.number, now=late) == "gone"


def test_only_sessions_that_passed_a_second_factor_may_approve(db, user):
    password_only = _device(db, user, second_factor=False)
    pending = _pending(db, user)
    assert not approvals.can_ask(db, pending, now=T0)
    assert isinstance(approvals.ask(db, pending, now=T0), str)
    phone = _device(db, user)
    request = approvals.ask(db, pending, now=T0)
    assert approvals.prompts_for(db, password_only, now=T0) == []
    assert approvals.decide(db, request.ref, password_only, request.number, now=T0) == "gone"
    assert approvals.prompts_for(db, phone, now=T0)


def test_a_session_that_raced_a_change_of_credentials_is_not_asked(db, user):
    stale_epoch = user.credential_epoch
    sessions.revoke_all_sessions(db, user.id, now=T0)  # a change of password, say
    db.commit()
    # A sign-in whose factors were read before the change writes its session after it.
    sessions.start_session(db, user, now=T0, second_factor=True, epoch=stale_epoch)
    db.refresh(user)

    assert not approvals.can_ask(db, _pending(db, user), now=T0)


def test_another_accounts_device_cannot_see_or_decide(db, user):
    bob = accounts.create_user(db, "bob@example.com", "bob-password", now=T0)
    _device(db, user)
    bobs_phone = _device(db, bob)
    request = approvals.ask(db, _pending(db, user), now=T0)
    assert approvals.prompts_for(db, bobs_phone, now=T0) == []
    assert approvals.decide(db, request.ref, bobs_phone, request.number, now=T0) == "gone"


def test_one_open_request_per_sign_in_and_new_ones_are_throttled(db, user):
    _device(db, user)
    pending = _pending(db, user)
    first = approvals.ask(db, pending, now=T0)
    assert approvals.ask(db, pending, now=T0 + SECOND).ref == first.ref  # the same, still open
    db.exec(
        SignInApproval.__table__.update().values(status="denied")  # decided meanwhile
    )
    db.commit()
    assert approvals.ask(db, pending, now=T0 + 2 * SECOND).startswith("Wait")
    almost = T0 + approvals.MIN_INTERVAL - SECOND / 2
    assert approvals.ask(db, pending, now=almost) == "Wait 1 second before asking again."
    now = T0
    for _ in range(approvals.MAX_REQUESTS - 1):
        now += approvals.MIN_INTERVAL
        made = approvals.ask(db, pending, now=now)
        assert isinstance(made, approvals.Request)
        db.exec(SignInApproval.__table__.update().values(status="denied"))
        db.commit()
    refused = approvals.ask(db, pending, now=now + approvals.MIN_INTERVAL)
    assert refused.startswith("Too many approval requests")


def test_the_number_is_stored_encrypted(db, user, sqlite_db_url):
    _device(db, user)
    request = approvals.ask(db, _pending(db, user), now=T0)
    row = db.exec(select(SignInApproval)).one()
    # Ciphertext (any two digits may turn up in it by chance: no test on the number's digits).
    assert json.loads(secretbox.decrypt(row.challenge))["number"] == request.number
    assert "number" not in row.challenge
    assert b'"number"' not in stored_bytes(sqlite_db_url)


def test_a_request_whose_sign_in_ended_is_neither_shown_nor_decided(db, user):
    phone = _device(db, user)
    pending = _pending(db, user)
    request = approvals.ask(db, pending, now=T0)
    sessions.end_pending_login(db, pending.id, now=T0)
    db.commit()
    assert approvals.prompts_for(db, phone, now=T0) == []
    assert approvals.decide(db, request.ref, phone, request.number, now=T0) == "gone"


def _lock(db, user, *, failures: int = throttle.LOCKOUT_AFTER) -> None:
    """Wrong codes (or denials) enough for the code throttle to hold the account."""
    user.second_factor_failures = failures
    user.second_factor_blocked_until = T0 + timedelta(minutes=15)
    db.add(user)
    db.commit()


def test_while_the_code_throttle_holds_the_account_nothing_is_asked(db, user):
    _device(db, user)
    _lock(db, user)
    assert approvals.ask(db, _pending(db, user), now=T0) == approvals.PAUSED
    assert db.exec(select(SignInApproval)).all() == []


def test_approvals_go_on_once_the_lockout_has_run_out_and_through_a_short_backoff(db, user):
    phone = _device(db, user)
    _lock(db, user)
    after = T0 + timedelta(minutes=16)
    request = approvals.ask(db, _pending(db, user, now=after), now=after)
    assert isinstance(request, approvals.Request)
    # The owner denies a stranger's request (a failure, a second's backoff), then approves
    # their own at once.
    _lock(db, user, failures=throttle.FREE_FAILURES + 1)
    user.second_factor_blocked_until = after + SECOND
    db.add(user)
    db.commit()
    assert approvals.decide(db, request.ref, phone, request.number, now=after) == "approved"


def test_at_the_cap_approvals_stay_paused_after_the_lockout_too(db, user):
    _device(db, user)
    _lock(db, user, failures=throttle.CAP)
    later = T0 + timedelta(minutes=16)  # the lockout's wait is over
    assert approvals.ask(db, _pending(db, user, now=later), now=later) == approvals.PAUSED


def test_a_right_number_approves_nothing_while_the_throttle_holds_the_account(db, user):
    phone = _device(db, user)
    pending = _pending(db, user)
    request = approvals.ask(db, pending, now=T0)
    _lock(db, user)  # wrong numbers picked on the attacker's other requests, say

    assert approvals.decide(db, request.ref, phone, request.number, now=T0) == "paused"
    assert approvals.outcome(db, request.ref, pending.id, now=T0) == "denied"
    assert not approvals.consume(db, request.ref, pending.id, now=T0)
    assert approvals.prompts_for(db, phone, now=T0) == []  # gone from every device
    db.refresh(user)
    assert user.second_factor_failures == throttle.LOCKOUT_AFTER  # not a failure of its own


def test_the_accounts_other_sign_ins_have_three_requests_open_at_most(db, user):
    phone = _device(db, user)
    # The password again and again: each sign-in asks once, its own first request.
    for _ in range(approvals.MAX_OPEN_PER_ACCOUNT):
        assert isinstance(approvals.ask(db, _pending(db, user), now=T0), approvals.Request)
    refused = approvals.ask(db, _pending(db, user), now=T0)
    assert refused.startswith("Other sign-ins to this account are waiting for approval.")
    # One decided (here denied): room for another, once the throttle lets it be asked.
    [newest, *_] = approvals.prompts_for(db, phone, now=T0)
    assert approvals.decide(db, newest.ref, phone, None, now=T0) == "denied"
    later = T0 + timedelta(seconds=throttle.seconds_to_wait(db, user.id, now=T0))
    assert isinstance(
        approvals.ask(db, _pending(db, user, now=later), now=later), approvals.Request
    )


@pytest.mark.both_databases
def test_asks_at_the_same_moment_still_leave_three_requests_open_at_most(db_url):
    with Session(engine_for(db_url), expire_on_commit=False) as setup:
        owner = accounts.create_user(setup, "bob@example.com", "bob's long password", now=T0)
        _device(setup, owner)
        for _ in range(approvals.MAX_OPEN_PER_ACCOUNT - 1):
            assert isinstance(
                approvals.ask(setup, _pending(setup, owner), now=T0), approvals.Request
            )
        pending_ids = [_pending(setup, owner).id for _ in range(6)]
    start = threading.Barrier(len(pending_ids))

    def ask(pending_id: int) -> approvals.Request | str:
        with Session(engine_for(db_url), expire_on_commit=False) as own:
            pending = own.get(PendingLogin, pending_id)
            start.wait()
            return approvals.ask(own, pending, now=T0)

    with ThreadPoolExecutor(len(pending_ids)) as pool:
        answers = list(pool.map(ask, pending_ids))

    assert sum(isinstance(a, approvals.Request) for a in answers) == 1
    refusals = {a for a in answers if isinstance(a, str)}
    assert refusals == {
        "Other sign-ins to this account are waiting for approval. Use a code instead."
    }
    with Session(engine_for(db_url)) as check:
        assert len(check.exec(select(SignInApproval)).all()) == approvals.MAX_OPEN_PER_ACCOUNT


def test_starting_over_and_over_does_not_keep_the_devices_prompting(db, user):
    phone = _device(db, user)
    now = T0
    # The owner approving their own sign-ins, many times over: never refused for it.
    for _ in range(approvals.MAX_PER_ACCOUNT_WINDOW + 2):
        pending = _pending(db, user, now=now)
        request = approvals.ask(db, pending, now=now)
        assert approvals.decide(db, request.ref, phone, request.number, now=now) == "approved"
        assert approvals.consume(db, request.ref, pending.id, now=now)
        db.commit()
        now += 20 * SECOND
    # A stranger with the password, giving each sign-in up once it has prompted.
    first_abandoned = now
    for _ in range(approvals.MAX_PER_ACCOUNT_WINDOW):
        pending = _pending(db, user, now=now)
        assert isinstance(approvals.ask(db, pending, now=now), approvals.Request)
        sessions.end_pending_login(db, pending.id, now=now)  # given up: its slot is free
        db.commit()
        now += 20 * SECOND

    refused = approvals.ask(db, _pending(db, user, now=now), now=now)
    assert refused == "Too many approval requests for this account lately. Use a code instead."

    later = first_abandoned + approvals.ACCOUNT_WINDOW + SECOND  # the first has left the window
    assert isinstance(
        approvals.ask(db, _pending(db, user, now=later), now=later), approvals.Request
    )
