"""The process-wide wait for sign-in approvals: every waiting tab is served by one database
poll a second, wakes when its account's requests change or its session ends, and only then.
A real SQLite database; the app's engine is pointed at it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
import reflex as rx
import sqlalchemy as sa
from sqlmodel import Session

from rxapp.models import User
from rxapp.services import accounts, approvals, sessions
from rxapp.services.clock import utcnow
from rxapp.services.database import engine_for
from rxapp.services.tokens import token_hash
from rxapp.state import approval_hub
from tests.unit.async_helpers import run_async

STATEMENTS: list[str] = []
POLL = 0.2  # seconds between polls here (1 s in the app), so that the tests run quickly


@pytest.fixture
def engine(sqlite_db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[sa.Engine]:
    """The test database as the app's engine; notes the SQL statements it runs."""
    engine = engine_for(sqlite_db_url)
    monkeypatch.setattr(rx.model, "get_engine", lambda *args, **kw: engine)
    monkeypatch.setattr(approval_hub, "POLL_SECONDS", POLL)

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        STATEMENTS.append(statement)

    sa.event.listen(engine, "before_cursor_execute", note)
    yield engine
    sa.event.remove(engine, "before_cursor_execute", note)


def people(engine: sa.Engine, count: int) -> list[User]:
    with Session(engine, expire_on_commit=False) as db:
        return [
            accounts.create_user(db, f"p{i}@example.com", "a long password 1", now=utcnow())
            for i in range(count)
        ]


def signed_in_digest(engine: sa.Engine, user: User) -> str:
    with Session(engine, expire_on_commit=False) as db:
        return token_hash(
            sessions.start_session(
                db, user, epoch=user.credential_epoch, now=utcnow(), second_factor=True
            )
        )


def ask(engine: sa.Engine, user: User) -> str:
    """A sign-in elsewhere asks `user`'s devices; returns the request's ref."""
    with Session(engine, expire_on_commit=False) as db:
        now = utcnow()
        pending = sessions.current_pending_login(
            db, sessions.start_pending_login(db, user, now=now), now=now
        )
        return approvals.ask(db, pending, now=now, ip="198.51.100.7", user_agent="Firefox").ref


def test_many_waiting_tabs_cost_one_poll_at_a_time(engine):
    users = people(engine, 40)
    digests = [signed_in_digest(engine, user) for user in users]
    STATEMENTS.clear()

    async def wait_all() -> list[object]:
        waits = [approval_hub.next_change(d, (), timeout=2.5 * POLL) for d in digests]
        return await asyncio.gather(*waits)

    started = time.monotonic()
    results = run_async(wait_all())
    assert results == [approval_hub.QUIET] * 40  # nothing asked: nobody woke
    assert time.monotonic() - started < 10 * POLL
    # About three polls (0, 1 and 2 POLLs in) of two queries each (the sessions, their
    # requests), whatever the number of tabs (80 queries if each of the 40 asked).
    assert 2 <= len(STATEMENTS) <= 10, STATEMENTS


def test_a_request_wakes_the_accounts_tabs_and_no_other(engine):
    ann, bob = people(engine, 2)
    ann_phone, ann_laptop, bob_phone = (
        signed_in_digest(engine, ann),
        signed_in_digest(engine, ann),
        signed_in_digest(engine, bob),
    )

    async def scenario() -> tuple[object, object, object]:
        waits = [
            asyncio.ensure_future(approval_hub.next_change(d, (), timeout=10 * POLL))
            for d in (ann_phone, ann_laptop, bob_phone)
        ]
        await asyncio.sleep(POLL)
        ref = await asyncio.to_thread(ask, engine, ann)
        results = await asyncio.gather(*waits)
        return ref, results[:2], results[2]

    ref, ann_sees, bob_sees = run_async(scenario())
    for prompts in ann_sees:
        assert [p.ref for p in prompts] == [ref]
        assert len(prompts[0].choices) == 3
    assert bob_sees == approval_hub.QUIET


def test_a_tab_showing_the_requests_waits_until_they_change(engine):
    [ann] = people(engine, 1)
    phone = signed_in_digest(engine, ann)
    ref = ask(engine, ann)

    async def scenario() -> tuple[object, object]:
        unchanged = await approval_hub.next_change(phone, (ref,), timeout=3 * POLL)
        second = asyncio.ensure_future(approval_hub.next_change(phone, (ref,), timeout=10 * POLL))
        await asyncio.sleep(POLL)
        newer = await asyncio.to_thread(ask, engine, ann)
        return unchanged, ([p.ref for p in await second], newer)

    unchanged, (refs, newer) = run_async(scenario())
    assert unchanged == approval_hub.QUIET
    assert refs == [newer, ref]  # newest first


def test_an_ended_session_wakes_its_tab_with_none(engine):
    [ann] = people(engine, 1)
    with Session(engine, expire_on_commit=False) as db:
        token = sessions.start_session(
            db, ann, epoch=ann.credential_epoch, now=utcnow(), second_factor=True
        )

    async def scenario() -> object:
        waiting = asyncio.ensure_future(
            approval_hub.next_change(token_hash(token), (), timeout=10 * POLL)
        )
        await asyncio.sleep(POLL)

        def sign_out() -> None:
            with Session(engine) as db:
                sessions.revoke_session(db, token, now=utcnow())

        await asyncio.to_thread(sign_out)
        return await waiting

    assert run_async(scenario()) is None


def test_a_password_only_session_is_never_asked(engine):
    [ann] = people(engine, 1)
    with Session(engine, expire_on_commit=False) as db:
        token = sessions.start_session(
            db, ann, epoch=ann.credential_epoch, now=utcnow(), second_factor=False
        )
    phone = signed_in_digest(engine, ann)
    ref = ask(engine, ann)

    async def both() -> list[object]:
        waits = [
            approval_hub.next_change(d, (), timeout=3 * POLL) for d in (token_hash(token), phone)
        ]
        return await asyncio.gather(*waits)

    password_only, second_factor = run_async(both())
    assert password_only == approval_hub.QUIET
    assert [p.ref for p in second_factor] == [ref]


def test_a_tab_that_begins_to_wait_during_a_poll_is_not_taken_for_signed_out(engine, monkeypatch):
    ann, bob = people(engine, 2)
    first, second = signed_in_digest(engine, ann), signed_in_digest(engine, bob)
    look_up = approval_hub._look_up

    def slow_look_up(db: Session, *, digests: set[str]) -> dict:
        time.sleep(POLL)  # the database answers slowly: the second tab arrives meanwhile
        return look_up(db, digests=digests)

    monkeypatch.setattr(approval_hub, "_look_up", slow_look_up)

    async def scenario() -> list[object]:
        early = asyncio.ensure_future(approval_hub.next_change(first, (), timeout=6 * POLL))
        await asyncio.sleep(POLL / 2)
        late = await approval_hub.next_change(second, (), timeout=6 * POLL)
        return [await early, late]

    assert run_async(scenario()) == [approval_hub.QUIET, approval_hub.QUIET]


def test_a_request_made_in_this_process_is_seen_at_once(engine, monkeypatch):
    monkeypatch.setattr(approval_hub, "POLL_SECONDS", 30.0)  # only a nudge can wake it soon
    [ann] = people(engine, 1)
    phone = signed_in_digest(engine, ann)

    async def scenario() -> tuple[str, object, float]:
        waiting = asyncio.ensure_future(approval_hub.next_change(phone, (), timeout=10))
        await asyncio.sleep(0.3)  # the first poll has found nothing
        ref = await asyncio.to_thread(ask, engine, ann)
        asked = time.monotonic()
        approval_hub.nudge()
        prompts = await waiting
        return ref, prompts, time.monotonic() - asked

    ref, prompts, waited = run_async(scenario())
    assert [p.ref for p in prompts] == [ref]
    assert waited < 2


def test_a_tab_that_does_not_know_what_it_shows_is_answered_at_the_first_poll(engine):
    """A watcher that starts on a tab whose dialog may be stale learns the open requests
    (here none) at once, so that it can close it."""
    [ann] = people(engine, 1)
    phone = signed_in_digest(engine, ann)
    assert run_async(approval_hub.next_change(phone, None, timeout=5 * POLL)) == []


def test_the_poll_outlives_a_database_that_is_away(engine, monkeypatch):
    [ann] = people(engine, 1)
    phone = signed_in_digest(engine, ann)
    look_up = approval_hub._look_up
    failures: list[int] = []

    def away_at_first(db: Session, *, digests: set[str]) -> dict:
        if len(failures) < 2:
            failures.append(1)
            raise sa.exc.OperationalError("SELECT", {}, Exception("database is away"))
        return look_up(db, digests=digests)

    monkeypatch.setattr(approval_hub, "_look_up", away_at_first)
    ref = ask(engine, ann)
    prompts = run_async(approval_hub.next_change(phone, (), timeout=10 * POLL))
    assert failures == [1, 1]
    assert [p.ref for p in prompts] == [ref]
