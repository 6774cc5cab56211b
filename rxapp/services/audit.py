"""The audit trail of security events. Callers pass facts, never passwords, codes or secrets."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from rxapp.models import AuditEvent, User


class Event(StrEnum):
    """The security events the app records."""

    SIGN_IN_OK = "sign_in_ok"
    SIGN_IN_FAILED = "sign_in_failed"
    SIGN_IN_PENDING = "sign_in_pending_second_factor"
    SIGN_OUT = "sign_out"
    SIGN_IN_ABANDONED = "sign_in_abandoned"  # a pending login given up, never signed in
    USER_CREATED = "user_created"
    SECOND_FACTOR_FAILED = "second_factor_failed"
    SECOND_FACTOR_LOCKOUT = "second_factor_lockout"
    PENDING_LOGIN_VOIDED = "pending_login_voided"
    TWOFA_ENABLED = "twofa_enabled"
    TWOFA_DISABLED = "twofa_disabled"
    BACKUP_CODE_USED = "backup_code_used"
    BACKUP_CODES_GENERATED = "backup_codes_generated"
    REAUTH_OK = "reauth_ok"
    REAUTH_FAILED = "reauth_failed"
    ADMIN_RESET_2FA = "admin_reset_2fa"
    SIGN_IN_THROTTLED = "sign_in_throttled"
    SIGN_IN_LOCKOUT = "sign_in_lockout"
    SECOND_FACTOR_CAP = "second_factor_cap_reached"
    APPROVAL_REQUESTED = "approval_requested"
    APPROVAL_GRANTED = "approval_granted"
    APPROVAL_DENIED = "approval_denied"
    TOTP_REMOVED = "totp_removed"
    PASSKEY_ADDED = "passkey_added"
    PASSKEY_RENAMED = "passkey_renamed"
    PASSKEY_REMOVED = "passkey_removed"
    PASSKEY_USED = "passkey_used"
    PASSKEY_REFUSED = "passkey_refused"
    PASSKEY_CLONED = "passkey_counter_regressed"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 (an event name)
    PASSWORD_RESET = "password_reset"  # noqa: S105 (an event name)
    ADMIN_GRANTED = "admin_granted"
    ADMIN_REMOVED = "admin_removed"
    ACCOUNT_DELETED = "account_deleted"


@dataclass(frozen=True)
class Origin:
    """Where a request came from, for every audit row it writes."""

    ip: str = ""
    user_agent: str = ""
    session_ref: str = ""


_ORIGIN: ContextVar[Origin] = ContextVar("rxapp_audit_origin", default=Origin())  # noqa: B039 (frozen)


@contextmanager
def origin(value: Origin) -> Iterator[None]:
    """Record `value` as the origin of every audit row written inside this block."""
    token = _ORIGIN.set(value)
    try:
        yield
    finally:
        _ORIGIN.reset(token)


def set_session(session_ref: str) -> None:
    """Name the session of the current origin, once it is known (inside `origin`)."""
    _ORIGIN.set(replace(_ORIGIN.get(), session_ref=session_ref[:32]))


def record(
    db: Session,
    event: Event,
    *,
    now: datetime,
    user_id: int | None = None,
    actor_id: int | None = None,
    email: str | None = None,
    detail: str = "",
) -> None:
    """Add one audit row to `db`'s transaction, with the current `origin`; the caller
    commits."""
    where = _ORIGIN.get()
    db.add(
        AuditEvent(
            at=now,
            event=event.value,
            user_id=user_id,
            actor_id=actor_id,
            email=email[:254] if email else None,
            detail=detail[:1000],
            ip=where.ip[:64],
            user_agent=where.user_agent[:255],
            session_ref=where.session_ref,
        )
    )


@dataclass(frozen=True)
class FailedCodes:
    """Second-factor failures on an account over a period, and the latest of them."""

    count: int
    latest_at: datetime
    latest_ip: str


def _owners(user_id: int) -> sa.ColumnElement[bool]:
    """The audit rows of account `user_id` as it is now: not those of an account deleted
    before it was made (SQLite gives a new row the highest id plus one, so a deleted newest
    account's id comes back), whose rows the audit trail keeps."""
    created = select(User.created_at).where(col(User.id) == user_id).scalar_subquery()
    since = func.coalesce(created, col(AuditEvent.at))  # no such account: all of its rows
    return sa.and_(col(AuditEvent.user_id) == user_id, col(AuditEvent.at) >= since)


def failed_codes_since(
    db: Session, user_id: int, since: datetime | None, *, except_session: str = ""
) -> FailedCodes | None:
    """Failed second-factor attempts on the account after `since` (e.g. its last sign-in):
    wrong codes and codes refused unchecked during a wait, other than from `except_session`
    (the sign-in being finished), or None."""
    query = select(func.count(), func.max(AuditEvent.id)).where(
        _owners(user_id), col(AuditEvent.event) == Event.SECOND_FACTOR_FAILED.value
    )
    if since is not None:
        query = query.where(col(AuditEvent.at) > since)
    if except_session:
        query = query.where(col(AuditEvent.session_ref) != except_session)
    count, latest_id = db.exec(query).one()
    if not count:
        return None
    latest = db.get(AuditEvent, latest_id)
    return FailedCodes(count=count, latest_at=latest.at, latest_ip=latest.ip)


# What an admin may change on an account, told to its owner at their next sign-in.
ADMIN_CHANGES = {
    Event.ADMIN_RESET_2FA: "reset your two-factor authentication",
    Event.PASSWORD_RESET: "set a new password for your account",
    Event.ADMIN_GRANTED: "made your account an admin",
    Event.ADMIN_REMOVED: "took your account's admin role away",
}


def admin_changes_since(
    db: Session, user_id: int, since: datetime | None
) -> list[tuple[Event, datetime]]:
    """What an admin changed on the account after `since` (e.g. its last sign-in), oldest
    first: the events of `ADMIN_CHANGES` and when."""
    query = (
        select(AuditEvent.event, AuditEvent.at)
        .where(
            _owners(user_id),
            col(AuditEvent.event).in_([event.value for event in ADMIN_CHANGES]),
        )
        .order_by(col(AuditEvent.id))
    )
    if since is not None:
        query = query.where(col(AuditEvent.at) > since)
    return [(Event(event), at) for event, at in db.exec(query).all()]


# Which code throttle a failure counted on: a browser where the owner entered a second factor
# since 2FA was last turned on has its own; every other browser shares the account's (see
# `devices`).
KNOWN_BROWSER = "browser=known"
NEW_BROWSER = "browser=new"
_WHICH_BROWSERS = {
    KNOWN_BROWSER: "on a browser signed in before",
    NEW_BROWSER: "on browsers not signed in before",
}

# What the owner reads in "Recent security activity" for each event worth showing.
ACTIVITY_LABELS = {
    Event.SIGN_IN_OK: "Signed in",
    Event.SIGN_IN_FAILED: "Wrong password",
    Event.SIGN_IN_THROTTLED: "Sign-in refused: too many attempts",
    Event.SIGN_IN_LOCKOUT: "Password attempts paused for 15 minutes",
    Event.SIGN_OUT: "Signed out",
    Event.SIGN_IN_ABANDONED: "Sign-in given up before its second step",
    Event.SECOND_FACTOR_FAILED: "Verification code refused",
    Event.SECOND_FACTOR_LOCKOUT: "Code attempts paused for 15 minutes",
    Event.SECOND_FACTOR_CAP: "Codes from the app blocked: too many wrong codes",
    Event.PENDING_LOGIN_VOIDED: "Sign-in cancelled after wrong codes",
    Event.TWOFA_ENABLED: "Two-factor authentication turned on",
    Event.TWOFA_DISABLED: "Two-factor authentication turned off",
    Event.BACKUP_CODE_USED: "Signed in with a backup code",
    Event.BACKUP_CODES_GENERATED: "New backup codes generated",
    Event.ADMIN_RESET_2FA: "Two-factor authentication reset by an admin",
    Event.APPROVAL_REQUESTED: "Approval of a sign-in requested",
    Event.APPROVAL_GRANTED: "Sign-in approved from a signed-in device",
    Event.APPROVAL_DENIED: "Sign-in denied from a signed-in device",
    Event.TOTP_REMOVED: "Authenticator app removed (passkeys still on)",
    Event.PASSKEY_ADDED: "Passkey added",
    Event.PASSKEY_RENAMED: "Passkey renamed",
    Event.PASSKEY_REMOVED: "Passkey removed",
    Event.PASSKEY_USED: "Signed in with a passkey",
    Event.PASSKEY_REFUSED: "Passkey refused",
    Event.PASSKEY_CLONED: "Passkey refused: its counter went backwards (possible copy)",
    Event.PASSWORD_CHANGED: "Password changed (other sessions signed out)",
    Event.PASSWORD_RESET: "Password reset by an admin (every session signed out)",
    Event.ADMIN_GRANTED: "Made an admin",
    Event.ADMIN_REMOVED: "Admin role taken away",
}


@dataclass(frozen=True)
class Activity:
    """One line of an account's recent security activity."""

    at: datetime
    what: str
    ip: str
    user_agent: str


def recent_activity(db: Session, user_id: int, *, limit: int = 10) -> list[Activity]:
    """The account's latest security events worth showing its owner, newest first."""
    rows = db.exec(
        select(AuditEvent)
        .where(
            _owners(user_id),
            col(AuditEvent.event).in_([event.value for event in ACTIVITY_LABELS]),
        )
        .order_by(col(AuditEvent.id).desc())
        .limit(2 * limit)  # room for the rows `_one_per_attempt` leaves out
    ).all()
    return [
        Activity(at=row.at, what=_label(row), ip=row.ip, user_agent=row.user_agent)
        for row in _one_per_attempt(rows)[:limit]
    ]


_PASSKEY_VERDICTS = {Event.PASSKEY_REFUSED.value, Event.PASSKEY_CLONED.value}


def _one_per_attempt(rows: Sequence[AuditEvent]) -> list[AuditEvent]:
    """The rows, without the failure counted for a passkey whose own refusal (which says
    why) was recorded at the same moment: one attempt, one line."""
    said = {row.at for row in rows if row.event in _PASSKEY_VERDICTS}
    return [row for row in rows if not (_passkey_failure(row) and row.at in said)]


def _passkey_failure(row: AuditEvent) -> bool:
    return row.event == Event.SECOND_FACTOR_FAILED and "kind=passkey" in row.detail


def _label(row: AuditEvent) -> str:
    # A backup code also confirms changes from a signed-in session (a fresh proof, turning
    # 2FA off); rows from before the session was recorded (empty) were sign-ins.
    if row.event == Event.BACKUP_CODE_USED and row.session_ref.startswith("session "):
        return "Backup code used to confirm a change"
    if row.event == Event.APPROVAL_DENIED and row.detail.startswith("wrong number"):
        return "Sign-in not approved: a wrong number was picked on a signed-in device"
    if _passkey_failure(row):
        return ACTIVITY_LABELS[Event.PASSKEY_REFUSED]  # never a code
    label = ACTIVITY_LABELS[Event(row.event)]
    # Lockouts say which browsers they hold back (rows from before devices were throttled
    # apart have no detail).
    browsers = _WHICH_BROWSERS.get(row.detail)
    if row.event in (Event.SECOND_FACTOR_LOCKOUT, Event.SECOND_FACTOR_CAP) and browsers:
        return f"{label} {browsers}"
    return label
