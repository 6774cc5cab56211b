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
