"""The audit trail of security events. Callers pass facts, never passwords, codes or secrets."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Session

from rxapp.models import AuditEvent


class Event(StrEnum):
    """The security events the app records."""

    SIGN_IN_OK = "sign_in_ok"
    SIGN_IN_FAILED = "sign_in_failed"
    SIGN_IN_PENDING = "sign_in_pending_second_factor"
    SIGN_OUT = "sign_out"
    USER_CREATED = "user_created"


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
    """Add one audit row to `db`'s transaction; the caller commits."""
    db.add(
        AuditEvent(
            at=now,
            event=event.value,
            user_id=user_id,
            actor_id=actor_id,
            email=email[:254] if email else None,
            detail=detail[:1000],
        )
    )
