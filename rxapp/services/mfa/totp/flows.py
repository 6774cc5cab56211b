"""TOTP flows: enrolment (a key shown once, confirmed by a first code), accepting a code
once (its step must be later than the last accepted one), removal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col

from rxapp.models import User
from rxapp.services import audit, secretbox, throttle
from rxapp.services.mfa.common import CodeCheck, has_second_factor, plural, secure_sessions
from rxapp.services.mfa.totp import algorithm as totp
from rxapp.settings import get_settings

WRONG_CODE = "That code is not right."
ENROLL_HINT = (
    "Check that you scanned the QR code shown here, or typed the key without mistakes, "
    "then enter the code the app shows now."
)


@dataclass(frozen=True)
class Enrollment:
    """What the enable dialog shows: the secret as text and as a QR code."""

    secret: str
    uri: str
    qr_data_uri: str


def is_enabled(user: User) -> bool:
    """Whether the user has confirmed TOTP."""
    return user.totp_enabled_at is not None and user.totp_secret is not None


def clock_drift_message(secret: str, raw_code: object, *, now: datetime) -> str | None:
    """For the enable dialog: when a wrong code is right for a nearby time, say how far the
    phone's clock is off; else None."""
    code = totp.normalize_code(raw_code)
    steps = totp.drift_steps(secret, code, now=now) if code else None
    if steps is None:
        return None
    minutes = plural(max(1, round(abs(steps) * totp.PERIOD / 60)), "minute")
    direction = "fast" if steps > 0 else "slow"
    return (
        f"Your phone's clock seems about {minutes} {direction}: set it to automatic time "
        "(network time), then try again with the new code."
    )


def begin_enrollment(db: Session, user: User, *, now: datetime) -> Enrollment | None:
    """A new secret for the enable dialog, kept encrypted until a code confirms it; commit.

    None when 2FA is already on (an active secret is never replaced this way)."""
    secret = totp.new_secret()
    started = db.exec(
        update(User)
        .where(col(User.id) == user.id, col(User.totp_enabled_at).is_(None))
        .values(totp_pending_secret=secretbox.encrypt(secret))
    )
    db.commit()
    if started.rowcount != 1:
        return None
    return _enrollment(secret, user.email)


def pending_enrollment(db: Session, user_id: int) -> Enrollment | None:
    """The enrolment in progress (its secret decrypted), e.g. to show it again after a
    reconnect; None when there is none."""
    user = db.get(User, user_id)
    if user is None or user.totp_enabled_at is not None or user.totp_pending_secret is None:
        return None
    secret = secretbox.decrypt(user.totp_pending_secret)
    if secret is None:
        return None
    return _enrollment(secret, user.email)


def _enrollment(secret: str, email: str) -> Enrollment:
    uri = totp.provisioning_uri(secret, email=email, issuer=get_settings().issuer)
    return Enrollment(secret=secret, uri=uri, qr_data_uri=totp.qr_data_uri(uri))


def cancel_enrollment(db: Session, user_id: int) -> None:
    """Forget an unconfirmed secret; commit."""
    db.exec(update(User).where(col(User.id) == user_id).values(totp_pending_secret=None))
    db.commit()


REPLACED_ELSEWHERE = (
    "This key no longer works: two-factor setup was started again in another tab or window, "
    "with a new key. Finish it there, or close this dialog and start again."
)
TURNED_ON_ELSEWHERE = (
    "Two-factor authentication is already on: it was turned on in another tab or window. "
    "Close this dialog."
)
CHANGED_ELSEWHERE = (REPLACED_ELSEWHERE, TURNED_ON_ELSEWHERE)


def confirm_enrollment(
    db: Session,
    user_id: int,
    raw_code: object,
    *,
    now: datetime,
    keep_session_id: int | None = None,
    shown_secret: str | None = None,
) -> CodeCheck:
    """Turn TOTP on if `raw_code` matches the pending secret; commit. `shown_secret`: the
    key the person was shown, which another setup (another tab) may have replaced since.

    The accepted step is stored, so the same code cannot then sign in. In the same
    transaction every other session of the account ends (those opened with the password
    alone must not outlive the change) and `keep_session_id` counts as freshly proven.
    """
    code = totp.normalize_code(raw_code)
    if code is None:
        return CodeCheck(
            ok=False, message="Enter the 6-digit code that your authenticator app shows."
        )
    user = db.get(User, user_id)
    if user is not None and user.totp_pending_secret is None and is_enabled(user):
        return CodeCheck(ok=False, message=TURNED_ON_ELSEWHERE)
    if user is None or user.totp_pending_secret is None:
        return CodeCheck(
            ok=False, message="This setup has expired. Close the dialog and start again."
        )
    secret = secretbox.decrypt(user.totp_pending_secret)
    if shown_secret is not None and secret is not None and shown_secret != secret:
        return CodeCheck(ok=False, message=REPLACED_ELSEWHERE)
    step = totp.matching_step(secret, code, now=now) if secret else None
    if step is None:
        return CodeCheck(
            ok=False,
            message=f"{WRONG_CODE} {ENROLL_HINT}",
        )
    was_on = has_second_factor(user)
    enabled = db.exec(
        update(User)
        .where(
            col(User.id) == user_id,
            col(User.totp_enabled_at).is_(None),
            col(User.totp_pending_secret) == user.totp_pending_secret,
        )
        .values(
            totp_secret=user.totp_pending_secret,
            totp_pending_secret=None,
            totp_enabled_at=now,
            twofa_active=True,
            totp_last_step=step,
        )
    )
    if enabled.rowcount != 1:
        db.rollback()
        return CodeCheck(
            ok=False, message="This setup has changed. Close the dialog and start again."
        )
    if was_on:  # an app added to passkeys: the owner's browsers keep their own keys
        throttle.reset(db, user_id)
    else:
        throttle.reset_all(db, user_id)
    audit.record(db, audit.Event.TWOFA_ENABLED, now=now, user_id=user_id, detail="method=totp")
    secure_sessions(db, user_id, now=now, keep_session_id=keep_session_id)
    db.commit()
    return CodeCheck(ok=True, turned_on=not was_on)


def accept(db: Session, user: User, code: str, *, now: datetime) -> bool:
    """Accept a TOTP code once: its step must be later than the last accepted one."""
    secret = secretbox.decrypt(user.totp_secret) if user.totp_secret else None
    step = totp.matching_step(secret, code, now=now) if secret else None
    if step is None:
        return False
    advanced = db.exec(
        update(User)
        .where(
            col(User.id) == user.id,
            col(User.twofa_active),
            (col(User.totp_last_step).is_(None)) | (col(User.totp_last_step) < step),
        )
        .values(totp_last_step=step)
    )
    return advanced.rowcount == 1


def already_used(user: User, code: str, *, now: datetime) -> bool:
    """Whether a refused TOTP code is right but its step was already accepted (a replay)."""
    secret = secretbox.decrypt(user.totp_secret) if user.totp_secret else None
    step = totp.matching_step(secret, code, now=now) if secret else None
    return step is not None and user.totp_last_step is not None and step <= user.totp_last_step


def remove_totp(db: Session, user_id: int) -> None:
    """Delete the TOTP secret and its state only (the caller commits)."""
    db.exec(
        update(User)
        .where(col(User.id) == user_id)
        .values(
            totp_secret=None,
            totp_pending_secret=None,
            totp_enabled_at=None,
            totp_last_step=None,
        )
    )
