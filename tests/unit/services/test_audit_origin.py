"""Audit rows carry where a request came from, and the owner's summary of failed codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from rxapp.models import AuditEvent
from rxapp.services import accounts, audit
from rxapp.services.database import engine_for

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


@pytest.fixture
def db(sqlite_db_url):
    with Session(engine_for(sqlite_db_url), expire_on_commit=False) as session:
        yield session


def test_every_row_written_inside_an_origin_carries_it(db):
    where = audit.Origin(ip="203.0.113.9", user_agent="Firefox/140")
    with audit.origin(where):
        audit.set_session("session 7")
        audit.record(db, audit.Event.SIGN_OUT, now=T0, user_id=1)
    audit.record(db, audit.Event.SIGN_OUT, now=T0, user_id=2)
    db.commit()
    first, second = db.exec(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert (first.ip, first.user_agent, first.session_ref) == (
        "203.0.113.9",
        "Firefox/140",
        "session 7",
    )
    assert (second.ip, second.user_agent, second.session_ref) == ("", "", "")


def test_failed_codes_since_the_last_sign_in_count_other_sign_ins_only(db):
    user = accounts.create_user(db, "a@example.com", "a-long-password", now=T0)
    for minute, (ip, ref) in enumerate(
        [("198.51.100.1", "pending 1"), ("198.51.100.2", "pending 2"), ("10.0.0.1", "pending 3")]
    ):
        with audit.origin(audit.Origin(ip=ip, session_ref=ref)):
            audit.record(
                db,
                audit.Event.SECOND_FACTOR_FAILED,
                now=T0 + timedelta(minutes=minute + 1),
                user_id=user.id,
            )
    db.commit()
    summary = audit.failed_codes_since(db, user.id, T0, except_session="pending 3")
    assert summary.count == 2
    assert summary.latest_ip == "198.51.100.2"
    assert summary.latest_at == T0 + timedelta(minutes=2)
    assert audit.failed_codes_since(db, user.id, T0 + timedelta(minutes=5)) is None
