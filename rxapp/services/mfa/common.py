"""What every two-factor method shares: the outcome of a check, whether 2FA is on, and
what follows adding a method (other sessions end)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from rxapp.models import User
from rxapp.services import audit, sessions, throttle


@dataclass(frozen=True)
class CodeCheck:
    """The outcome of checking a second-factor code."""

    ok: bool
    message: str = ""
    used_backup_code: bool = False
    backup_codes_left: int | None = None
    wait_seconds: int = 0
    login_voided: bool = False
    counted: bool = False
    """Whether this was a wrong code counted on the throttle (not a wait or a typo)."""
    unchecked: bool = False
    """Refused before it was looked at (it came during a wait): counted on the account's
    throttle, so a burst costs what the same guesses one by one would, but it spends no try
    of the sign-in (it may well have been the right code, sent too soon)."""
    capped: bool = False
    """Whether app codes are refused for good (the cap): only a backup code works now."""
    held_back: bool = False
    """Whether the account's key is locked (every browser without a key of its own waits),
    so the owner may rather use a browser where they used 2FA before."""
    turned_on: bool = False
    """Whether this turned two-factor authentication on (the account's first method)."""

    @property
    def told_wait(self) -> int:
        """The wait `message` tells of, in seconds (0 when it tells none)."""
        waited = self.wait_seconds
        return waited if waited and throttle.wait_message(waited) in self.message else 0


def has_second_factor(user: User) -> bool:
    """Whether 2FA is on: TOTP, or at least one passkey (`twofa_active` summarises both)."""
    return bool(user.twofa_active)


def audit_thresholds(
    db: Session, user_id: int, failure: throttle.Failure, *, now: datetime, browser: str
) -> None:
    """The lockout and the cap in the audit trail, when `failure` (counted on the throttle
    of `browser`, an `audit` browser label) reached one (the caller commits)."""
    if failure.failures == throttle.LOCKOUT_AFTER:
        audit.record(
            db, audit.Event.SECOND_FACTOR_LOCKOUT, now=now, user_id=user_id, detail=browser
        )
    if failure.failures == throttle.CAP:
        audit.record(db, audit.Event.SECOND_FACTOR_CAP, now=now, user_id=user_id, detail=browser)


def plural(count: int, word: str, plural: str = "") -> str:
    """`1 minute`, `2 minutes`."""
    return f"{count} {word if count == 1 else (plural or word + 's')}"


def secure_sessions(
    db: Session, user_id: int, *, now: datetime, keep_session_id: int | None
) -> None:
    """After a second factor was added: end every other session of the account (those
    opened with the password alone must not outlive the change); `keep_session_id` counts
    as freshly proven with a second factor (the caller commits)."""
    sessions.revoke_all_sessions(db, user_id, now=now, keep_session_id=keep_session_id)
    if keep_session_id is not None:
        sessions.mark_fresh_proof(db, keep_session_id, now=now, commit=False, second_factor=True)
