"""The flow every method shares: checking a code under the code throttle, the passcode
step (whatever the factor), turning TOTP or all of 2FA off.

Everything that must happen once (a TOTP step, a backup code, ending a pending login) is one
conditional UPDATE whose row count decides. Failures of every kind of factor share one code
throttle: the account's, or that of the owner's own browser (`rxapp.services.throttle`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import update
from sqlmodel import Session, col, select

from rxapp.models import Passkey, PendingLogin, User, UTCDateTime
from rxapp.services import audit, devices, sessions, throttle
from rxapp.services.account_lock import hold_account
from rxapp.services.mfa.backup_codes import codes as backup_codes
from rxapp.services.mfa.common import (
    CodeCheck,
    audit_thresholds,
    has_second_factor,
    plural,
    secure_sessions,
)
from rxapp.services.mfa.passkeys import store as passkey_store
from rxapp.services.mfa.totp import algorithm as totp
from rxapp.services.mfa.totp.flows import WRONG_CODE, accept, already_used, is_enabled, remove_totp

__all__ = ["CodeCheck", "has_second_factor", "secure_sessions"]

PENDING_LOGIN_MAX_FAILURES = 5
# From this wait on, a wrong code's answer says how long to wait before the next one.
NOTICEABLE_WAIT_SECONDS = 3

LOGIN_CODE_HINT = "Check the code in your app and enter the one it shows now."
ALREADY_USED = (
    "That code was already used. Wait for the next code in your app (a new one every 30 seconds)."
)
BACKUP_CODE_HINT = "Check the backup code for typos; each code works only once."
# For an account whose second factors are passkeys (no authenticator app to read a code from).
NO_APP_HINT = "This account has no authenticator app: use your passkey or a backup code."
NO_APP_FORMAT_MESSAGE = "Enter one of your backup codes, or use your passkey."
ALREADY_FINISHED = "This sign-in has already finished. Log in again."
FORMAT_MESSAGE = "Enter the 6-digit code from your authenticator app, or a backup code."
CAP_MESSAGE = (
    "Too many wrong codes were tried on this account, so codes from the app no longer work. "
    "Use one of your backup codes, or ask an admin to reset two-factor authentication."
)
# The account's lockout holds back every browser without a key of its own.
ELSEWHERE_HINT = (
    "Meanwhile, you can sign in from a browser where you have used two-factor "
    "authentication before."
)
# So does the cap on the account's own key.
CAP_MESSAGE_NEW_BROWSER = (
    "Too many wrong codes were tried on this account, so codes from the app no longer work "
    "in this browser. Use one of your backup codes, sign in from a browser where you have "
    "used two-factor authentication before, or ask an admin to reset it."
)


def cap_message(device_id: int | None) -> str:
    """What the owner is told past the cap, on a known device's key or the account's."""
    return CAP_MESSAGE if device_id is not None else CAP_MESSAGE_NEW_BROWSER


_wait_message = throttle.wait_message


def check_code(
    db: Session,
    user_id: int,
    raw_code: object,
    *,
    now: datetime,
    count_early: bool = True,
    device: str = "",
) -> CodeCheck:
    """Check a TOTP or backup code for a user with 2FA, under the code throttle: that of
    `device` (a device digest) when it has one of its own (see `devices`), else the
    account's.

    A well-formed code first claims the key's attempt slot (see `throttle`); a code that
    finds it taken is refused unchecked and counted as a failure (unless not `count_early`).
    Failures are committed at once; a success is not (the caller completes its action in
    the same transaction).
    """
    user = db.get(User, user_id)
    if user is None or not has_second_factor(user):
        return CodeCheck(ok=False, message="Two-factor authentication is not active.")
    device_id = devices.code_throttle_id(db, user_id, device)
    totp_code = totp.normalize_code(raw_code)
    backup_code = None if totp_code else backup_codes.normalize(raw_code)
    if totp_code is None and backup_code is None:
        if wait := throttle.seconds_to_wait(db, user_id, now=now, device_id=device_id):
            return CodeCheck(ok=False, message=_wait_message(wait), wait_seconds=wait)
        return CodeCheck(
            ok=False, message=FORMAT_MESSAGE if is_enabled(user) else NO_APP_FORMAT_MESSAGE
        )
    kind = "totp" if totp_code else "backup"
    if totp_code is not None and throttle.is_capped(db, user_id, device_id=device_id):
        return CodeCheck(ok=False, message=cap_message(device_id), capped=True)

    early = claim_or_refuse(db, user_id, kind=kind, now=now, count=count_early, device_id=device_id)
    if early:
        return early

    if totp_code is not None and accept(db, user, totp_code, now=now):
        throttle.reset(db, user_id, device_id=device_id)
        return CodeCheck(ok=True)
    if backup_code is not None and backup_codes.use(db, user_id, backup_code, now=now):
        throttle.reset(db, user_id, device_id=device_id)
        audit.record(db, audit.Event.BACKUP_CODE_USED, now=now, user_id=user_id)
        return CodeCheck(
            ok=True, used_backup_code=True, backup_codes_left=backup_codes.remaining(db, user_id)
        )

    failure = count_failure(db, user_id, now=now, detail=f"kind={kind}", device_id=device_id)
    wait = throttle.seconds_to_wait(db, user_id, now=now, device_id=device_id)
    if failure.failures >= throttle.CAP:
        return CodeCheck(
            ok=False, message=cap_message(device_id), wait_seconds=wait, counted=True, capped=True
        )
    if says_the_wait(failure, wait):
        message = f"{WRONG_CODE} {_wait_message(wait)}"
    elif totp_code is not None and already_used(user, totp_code, now=now):
        message = ALREADY_USED
    elif totp_code is not None:
        message = f"{WRONG_CODE} {LOGIN_CODE_HINT if is_enabled(user) else NO_APP_HINT}"
    else:
        message = f"{WRONG_CODE} {BACKUP_CODE_HINT}"
    return counted_refusal(message, wait, failure, device_id=device_id)


def code_wait(db: Session, user_id: int, *, now: datetime, device: str = "") -> int:
    """Seconds before a code for `user_id` from `device` (a device digest) will be checked,
    under the throttle `check_code` would use (0: now, or never for an app's code: past
    the cap the first code's answer says what works instead); nothing is claimed."""
    device_id = devices.code_throttle_id(db, user_id, device)
    if throttle.is_capped(db, user_id, device_id=device_id):
        return 0
    return throttle.seconds_to_wait(db, user_id, now=now, device_id=device_id)


def counted_refusal(
    message: str, wait: int, failure: throttle.Failure, *, device_id: int | None
) -> CodeCheck:
    """The answer to a counted failure of any factor: held back (see `CodeCheck`) when it
    locked the account's key rather than a browser's own."""
    held_back = failure.locked and device_id is None
    return CodeCheck(
        ok=False, message=message, wait_seconds=wait, counted=True, held_back=held_back
    )


def claim_or_refuse(
    db: Session,
    user_id: int,
    *,
    kind: str,
    now: datetime,
    count: bool = True,
    device_id: int | None = None,
) -> CodeCheck | None:
    """Claim the attempt slot of the account, or of its known device `device_id` (see
    `throttle`): None when claimed, else the refusal of an attempt that came too early
    (unchecked; counted if `count`)."""
    if throttle.claim_attempt(db, user_id, now=now, device_id=device_id):
        return None
    # Too early: refused unchecked. Counted, so that a burst costs what the same guesses
    # one by one would; but a locked key's lockout is not stretched by early tries.
    locked = throttle.is_locked(db, user_id, device_id=device_id)
    counted = count and not locked
    if counted:
        detail = f"kind={kind} refused=too-early"
        count_failure(db, user_id, now=now, detail=detail, device_id=device_id)
    # At least 1: a browser forgotten during the attempt has no wait of its own to tell.
    wait = max(1, throttle.seconds_to_wait(db, user_id, now=now, device_id=device_id))
    return CodeCheck(
        ok=False,
        message=_wait_message(wait),
        wait_seconds=wait,
        counted=counted,
        unchecked=True,
        held_back=locked and device_id is None,
    )


def says_the_wait(failure: throttle.Failure, wait: int) -> bool:
    """Whether a failure's answer says how long to wait: at a lockout, or once the wait is
    long enough to notice (every factor's failures follow this one rule)."""
    return failure.locked or wait >= NOTICEABLE_WAIT_SECONDS


def count_failure(
    db: Session, user_id: int, *, now: datetime, detail: str, device_id: int | None = None
) -> throttle.Failure:
    """Count one failed attempt on the throttle (the account's, or its known device's) and
    in the audit trail; commit."""
    failure = throttle.record_failure(db, user_id, now=now, device_id=device_id)
    browser = audit.KNOWN_BROWSER if device_id is not None else audit.NEW_BROWSER
    audit.record(
        db,
        audit.Event.SECOND_FACTOR_FAILED,
        now=now,
        user_id=user_id,
        detail=f"{detail} consecutive={failure.failures} {browser}",
    )
    audit_thresholds(db, user_id, failure, now=now, browser=browser)
    db.commit()
    return failure


def verify_login_code(
    db: Session, pending: PendingLogin, raw_code: object, *, now: datetime, device: str = ""
) -> CodeCheck:
    """The passcode step with a code (see `finish_second_step`), from `device` (a device
    digest: a browser with a code throttle of its own counts there, see `check_code`).

    Codes sent too early by a sign-in that already had a code checked and refused are
    refused but not counted: that is a person retrying before their wait is over, and
    counting each retry doubled the wait every time until it locked them out for 15 minutes.
    Early codes from a sign-in that made no try yet (a burst from fresh sign-ins, say)
    count as before. Neither kind is ever checked.
    """
    impatient = pending.failures > 0
    return finish_second_step(
        db,
        pending,
        lambda: check_code(
            db, pending.user_id, raw_code, now=now, count_early=not impatient, device=device
        ),
        now=now,
        device=device,
    )


def finish_second_step(
    db: Session,
    pending: PendingLogin,
    check: Callable[[], CodeCheck],
    *,
    now: datetime,
    device: str = "",
) -> CodeCheck:
    """The passcode step, whatever the factor: `check` decides (under the code throttle
    of the account or of `device`, as it claimed). On success the pending login is ended
    (once) and the caller starts the full session; after five counted failures the pending
    login is voided."""
    finished = CodeCheck(ok=False, message=ALREADY_FINISHED, login_voided=True)
    live = db.exec(
        select(PendingLogin.id).where(
            col(PendingLogin.id) == pending.id,
            col(PendingLogin.ended_at).is_(None),
            col(PendingLogin.expires_at) > sa.bindparam("now", now, type_=UTCDateTime()),
        )
    ).first()
    if live is None:
        return finished  # nothing checked, nothing spent
    result = check()
    if result.ok:
        if not sessions.end_pending_login(db, pending.id, now=now):
            # Another request finished this sign-in meanwhile: keep the code unspent.
            db.rollback()
            device_id = devices.code_throttle_id(db, pending.user_id, device)
            throttle.reset(db, pending.user_id, device_id=device_id)
            db.commit()
            return finished
        db.commit()
        return result
    if not result.counted and not result.unchecked:
        return result  # a typo, or the cap: nothing to count against this pending login
    if result.unchecked:  # too soon: no try of this sign-in (perhaps one on the account)
        spent = db.exec(
            select(PendingLogin.failures).where(col(PendingLogin.id) == pending.id)
        ).first()
        if spent is None or spent >= PENDING_LOGIN_MAX_FAILURES:
            return finished  # ended meanwhile (another tab, or the account was deleted)
        left = PENDING_LOGIN_MAX_FAILURES - spent
        return replace(result, message=_with_tries_left(result, left))
    failures = db.exec(
        update(PendingLogin)
        .where(col(PendingLogin.id) == pending.id)
        .values(failures=PendingLogin.failures + 1)
        .returning(PendingLogin.failures)
    ).scalar_one()
    if failures >= PENDING_LOGIN_MAX_FAILURES:
        sessions.end_pending_login(db, pending.id, now=now)
        audit.record(db, audit.Event.PENDING_LOGIN_VOIDED, now=now, user_id=pending.user_id)
        db.commit()
        return CodeCheck(
            ok=False,
            message=(
                "Too many wrong codes, so this sign-in has ended. For your security, sign in "
                "again with your password."
            ),
            login_voided=True,
            wait_seconds=result.wait_seconds,
            counted=True,
        )
    db.commit()
    left = PENDING_LOGIN_MAX_FAILURES - failures
    return CodeCheck(
        ok=False,
        message=_with_tries_left(result, left),
        wait_seconds=result.wait_seconds,
        counted=True,
    )


def _with_tries_left(result: CodeCheck, left: int) -> str:
    """The message, then how many codes this sign-in still takes (after any wait)."""
    after = "After that, " if result.told_wait else ""
    tries = plural(left, "try", "tries")
    message = f"{result.message} {after}{tries} left before you must sign in again."
    return f"{message} {ELSEWHERE_HINT}" if result.held_back else message


def new_backup_codes(db: Session, user_id: int, *, now: datetime) -> list[str]:
    """A new batch of backup codes replacing every older one, audited in the same
    transaction; commit. Returns the codes in clear, shown once; none when 2FA is off by
    now (turned off in another tab after this one's proof: no codes for an account
    without it)."""
    hold_account(db, user_id)  # a disable in another tab commits before this, or after it
    if not db.exec(select(User.twofa_active).where(col(User.id) == user_id)).first():
        db.rollback()
        return []
    audit.record(db, audit.Event.BACKUP_CODES_GENERATED, now=now, user_id=user_id)
    return backup_codes.replace_batch(db, user_id, now=now)


def disable(
    db: Session,
    user_id: int,
    raw_code: object,
    *,
    now: datetime,
    keep_session_id: int | None = None,
    device: str = "",
) -> CodeCheck:
    """Turn TOTP off after a current code (checked as from `device`, see `check_code`):
    delete the secret, end every other session of the account and forget every other device,
    in one transaction; commit. Without passkeys left that turns 2FA off, and every backup
    code is deleted too."""
    result = check_code(db, user_id, raw_code, now=now, device=device, count_early=False)
    if not result.ok:
        return result
    remove_totp(db, user_id)
    if off_without_a_method(db, user_id):
        audit.record(db, audit.Event.TWOFA_DISABLED, now=now, user_id=user_id)
    else:
        audit.record(db, audit.Event.TOTP_REMOVED, now=now, user_id=user_id)
    sessions.revoke_all_sessions(db, user_id, now=now, keep_session_id=keep_session_id)
    devices.forget_others(db, user_id, keep=device)
    db.commit()
    return result


def off_without_a_method(db: Session, user_id: int) -> bool:
    """Turn 2FA off if neither TOTP nor a passkey is left, deciding in the database in one
    conditional statement (two tabs removing the last two methods at once cannot both see
    the other's method); then delete the backup codes. True when it turned off here. The
    caller commits."""
    no_passkey = ~sa.exists().where(col(Passkey.user_id) == user_id)
    turned_off = db.exec(
        update(User)
        .where(
            col(User.id) == user_id,
            col(User.twofa_active).is_(True),
            col(User.totp_enabled_at).is_(None),
            no_passkey,
        )
        .values(twofa_active=False)
    )
    if not turned_off.rowcount:
        return False
    throttle.reset_all(db, user_id)
    backup_codes.delete_all(db, user_id)
    return True


def remove(db: Session, user_id: int) -> None:
    """Turn 2FA off: delete the TOTP secret and its state, every passkey and every backup
    code (the caller commits)."""
    remove_totp(db, user_id)
    db.exec(update(User).where(col(User.id) == user_id).values(twofa_active=False))
    throttle.reset_all(db, user_id)
    backup_codes.delete_all(db, user_id)
    passkey_store.delete_all(db, user_id)
