"""The audit trail: one row per recorded event, written in the caller's transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from rxapp.models import AuditEvent
from rxapp.services import audit
from rxapp.services.database import engine_for

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def rows_seen_elsewhere(db_url: str) -> list[AuditEvent]:
    """The audit rows as another request reads them (only what was committed)."""
    with Session(engine_for(db_url), expire_on_commit=False) as other:
        return list(other.exec(select(AuditEvent).order_by(AuditEvent.id)).all())


@pytest.mark.both_databases
def test_a_recorded_event_is_stored_with_its_facts_once_the_caller_commits(db, db_url):
    audit.record(
        db,
        audit.Event.ADMIN_RESET_2FA,
        now=T0,
        user_id=7,
        actor_id=3,
        email="bob@example.com",
        detail="from the dashboard",
    )
    assert rows_seen_elsewhere(db_url) == []  # nothing is written before the commit

    db.commit()

    [row] = rows_seen_elsewhere(db_url)
    assert row.event == "admin_reset_2fa"
    assert row.at.astimezone(UTC) == T0
    assert (row.user_id, row.actor_id) == (7, 3)
    assert row.email == "bob@example.com"
    assert row.detail == "from the dashboard"


def test_a_rolled_back_transaction_leaves_no_audit_row(db, db_url):
    audit.record(db, audit.Event.SIGN_IN_FAILED, now=T0, email="x@example.com")
    db.rollback()
    db.commit()

    assert rows_seen_elsewhere(db_url) == []


def test_unknown_facts_are_stored_empty(db, db_url):
    audit.record(db, audit.Event.SIGN_IN_FAILED, now=T0)
    db.commit()

    [row] = rows_seen_elsewhere(db_url)
    assert (row.user_id, row.actor_id, row.email, row.detail) == (None, None, None, "")


def test_long_emails_and_details_are_cut_to_the_column_sizes(db, db_url):
    audit.record(
        db, audit.Event.SIGN_IN_FAILED, now=T0, email="e" * 300 + "@example.com", detail="d" * 5000
    )
    db.commit()

    [row] = rows_seen_elsewhere(db_url)
    assert row.email == ("e" * 300)[:254]
    assert row.detail == "d" * 1000


def test_events_keep_their_order_and_names(db, db_url):
    sequence = [
        audit.Event.SIGN_IN_PENDING,
        audit.Event.SECOND_FACTOR_FAILED,
        audit.Event.SIGN_IN_OK,
    ]
    for event in sequence:
        audit.record(db, event, now=T0, user_id=1)
    db.commit()

    assert [r.event for r in rows_seen_elsewhere(db_url)] == [
        "sign_in_pending_second_factor",
        "second_factor_failed",
        "sign_in_ok",
    ]


def test_every_security_event_of_the_design_has_a_distinct_name():
    names = [event.value for event in audit.Event]
    assert len(names) == len(set(names))
    required = {
        "sign_in_ok",
        "sign_in_failed",
        "twofa_enabled",
        "twofa_disabled",
        "backup_code_used",
        "backup_codes_generated",
        "second_factor_lockout",
        "admin_reset_2fa",
    }
    assert required <= set(names)
    assert all(len(name) <= 64 for name in names)  # the column's size


def test_the_owner_reads_what_each_backup_code_and_given_up_sign_in_was(db):
    """A backup code that confirmed a change (from a signed-in session) did not sign anyone
    in, and a sign-in given up at its code step was never a sign-out."""
    with audit.origin(audit.Origin(session_ref="pending 4")):
        audit.record(db, audit.Event.BACKUP_CODE_USED, now=T0, user_id=7)
    audit.record(db, audit.Event.BACKUP_CODE_USED, now=T0, user_id=7)  # before 0008: a sign-in
    with audit.origin(audit.Origin(session_ref="session 9")):
        audit.record(db, audit.Event.BACKUP_CODE_USED, now=T0, user_id=7)
        audit.record(db, audit.Event.SIGN_IN_ABANDONED, now=T0, user_id=7)
        audit.record(
            db, audit.Event.APPROVAL_DENIED, now=T0, user_id=7, detail="wrong number; requested"
        )
        audit.record(db, audit.Event.APPROVAL_DENIED, now=T0, user_id=7, detail="deny; requested")
    db.commit()

    shown = [line.what for line in audit.recent_activity(db, 7)]

    assert shown == [
        "Sign-in denied from a signed-in device",
        "Sign-in not approved: a wrong number was picked on a signed-in device",
        "Sign-in given up before its second step",
        "Backup code used to confirm a change",
        "Signed in with a backup code",
        "Signed in with a backup code",
    ]


def test_a_refused_passkey_is_one_line_and_never_called_a_code(db):
    later = T0 + timedelta(minutes=1)
    # A copied passkey: its verdict, and the failure it counts, at the same moment.
    audit.record(db, audit.Event.PASSKEY_CLONED, now=T0, user_id=7)
    audit.record(
        db, audit.Event.SECOND_FACTOR_FAILED, now=T0, user_id=7, detail="kind=passkey refused=x"
    )
    # A passkey of no account's: only the failure is recorded.
    audit.record(db, audit.Event.SECOND_FACTOR_FAILED, now=later, user_id=7, detail="kind=passkey")
    audit.record(db, audit.Event.SECOND_FACTOR_FAILED, now=later, user_id=7, detail="kind=totp")
    db.commit()

    shown = [line.what for line in audit.recent_activity(db, 7)]

    assert shown == [
        "Verification code refused",
        "Passkey refused",
        "Passkey refused: its counter went backwards (possible copy)",
    ]


def test_the_admins_changes_since_the_last_sign_in_are_found_for_that_account_alone(db):
    hour = timedelta(hours=1)
    for event, user_id, at in [
        (audit.Event.ADMIN_RESET_2FA, 1, T0 - hour),  # before the last sign-in: told then
        (audit.Event.PASSWORD_RESET, 1, T0 + hour),
        (audit.Event.SIGN_IN_OK, 1, T0 + 2 * hour),  # not an admin's change
        (audit.Event.ADMIN_RESET_2FA, 2, T0 + hour),  # someone else's account
        (audit.Event.ADMIN_RESET_2FA, 1, T0 + 3 * hour),
    ]:
        audit.record(db, event, now=at, user_id=user_id)
    db.commit()

    assert audit.admin_changes_since(db, 1, T0) == [
        (audit.Event.PASSWORD_RESET, T0 + hour),
        (audit.Event.ADMIN_RESET_2FA, T0 + 3 * hour),
    ]
    assert len(audit.admin_changes_since(db, 1, None)) == 3  # never signed in: all of them
    assert audit.admin_changes_since(db, 3, None) == []
