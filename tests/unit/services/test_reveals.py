"""Short-lived reveals kept encrypted server-side, with time frozen by passing `now`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from rxapp.models import SecretReveal
from rxapp.services import accounts, reveals, sessions
from rxapp.services.database import engine_for
from tests.conftest import stored_bytes

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
CODES = ["AAAA-BBBB-CCCC-DDDD", "EEEE-FFFF-GGGG-HHHH", "JJJJ-KKKK-MMMM-NNNN"]


@pytest.fixture
def db(sqlite_db_url):
    with Session(engine_for(sqlite_db_url), expire_on_commit=False) as session:
        yield session


@pytest.fixture
def session_ids(db):
    user = accounts.create_user(db, "alice@example.com", "alice-password", now=T0)
    first = sessions.current_session(
        db, sessions.start_session(db, user, epoch=user.credential_epoch, now=T0), now=T0
    )
    second = sessions.current_session(
        db, sessions.start_session(db, user, epoch=user.credential_epoch, now=T0), now=T0
    )
    return user.id, first.session.id, second.session.id


def _create(db, session_ids, *, seconds=30, now=T0):
    user_id, session_id, _ = session_ids
    return reveals.create(
        db, user_id=user_id, session_id=session_id, values=CODES, now=now, seconds=seconds
    )


def test_a_reveal_reads_back_until_it_expires_and_never_after(db, session_ids):
    reveal = _create(db, session_ids)
    _, session_id, _ = session_ids
    later = T0 + timedelta(seconds=29)
    assert reveals.read(db, reveal.ref, session_id=session_id, now=later).values == CODES
    expired = T0 + timedelta(seconds=30)
    assert reveals.read(db, reveal.ref, session_id=session_id, now=expired) is None


def test_only_the_session_that_asked_can_read_it(db, session_ids):
    reveal = _create(db, session_ids)
    _, _, other_session = session_ids
    assert reveals.read(db, reveal.ref, session_id=other_session, now=T0) is None
    assert reveals.read(db, "not-a-ref", session_id=session_ids[1], now=T0) is None
    assert reveals.read(db, 42, session_id=session_ids[1], now=T0) is None


def test_the_values_are_stored_encrypted(db, session_ids, sqlite_db_url):
    _create(db, session_ids)
    stored = stored_bytes(sqlite_db_url)
    for code in CODES:
        assert code.encode() not in stored


def test_a_new_reveal_replaces_the_sessions_earlier_one_and_purges_expired_ones(db, session_ids):
    first = _create(db, session_ids)
    second = _create(db, session_ids, now=T0 + timedelta(seconds=1))
    _, session_id, _ = session_ids
    assert reveals.read(db, first.ref, session_id=session_id, now=T0) is None
    assert reveals.read(db, second.ref, session_id=session_id, now=T0).values == CODES
    _create(db, session_ids, now=T0 + timedelta(minutes=5))
    assert len(db.exec(select(SecretReveal)).all()) == 1


def test_discarding_ends_a_reveal_at_once(db, session_ids):
    reveal = _create(db, session_ids)
    reveals.discard(db, reveal.ref)
    assert reveals.read(db, reveal.ref, session_id=session_ids[1], now=T0) is None


def test_extending_a_live_reveal_moves_its_stored_deadline(db, session_ids):
    reveal = _create(db, session_ids)
    _, session_id, _ = session_ids
    soon = T0 + timedelta(seconds=20)

    longer = reveals.extend(db, reveal.ref, session_id=session_id, now=soon, seconds=30)

    assert longer is not None and longer.expires_at == T0 + timedelta(seconds=60)
    # Read back from the database: a reconnect keeps the extension.
    later = T0 + timedelta(seconds=45)
    assert reveals.read(db, reveal.ref, session_id=session_id, now=later).values == CODES


def test_an_expired_or_foreign_reveal_cannot_be_extended(db, session_ids):
    reveal = _create(db, session_ids)
    _, session_id, other_session_id = session_ids

    foreign = reveals.extend(db, reveal.ref, session_id=other_session_id, now=T0, seconds=30)
    late = reveals.extend(
        db, reveal.ref, session_id=session_id, now=T0 + timedelta(seconds=30), seconds=30
    )

    assert foreign is None and late is None


def test_a_reveal_is_live_until_it_ends_or_its_user_s_are_all_discarded(db, session_ids):
    user_id, _, second = session_ids
    one = _create(db, session_ids)
    other = reveals.create(db, user_id=user_id, session_id=second, values=CODES, now=T0, seconds=30)
    assert reveals.is_live(db, one.ref, now=T0) and reveals.is_live(db, other.ref, now=T0)
    assert not reveals.is_live(db, one.ref, now=T0 + timedelta(seconds=30))
    reveals.discard_all(db, user_id)
    db.commit()
    assert not reveals.is_live(db, one.ref, now=T0)
    assert not reveals.is_live(db, other.ref, now=T0)
