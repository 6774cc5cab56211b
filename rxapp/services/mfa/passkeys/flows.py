"""Passkey flows: register one, finish the second step with one, sign in with one alone,
rename and remove. Every registration, use, removal and refusal is audited.

Throttling: the second step shares the code throttle with codes (the account's, or the
browser's own; the password is already proven there). Sign-in without a password has no
account yet, so its failures count per client address, like wrong passwords from unknown
browsers: a stranger can never lock an owner out with forged answers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from rxapp.models import Passkey, PendingLogin, User
from rxapp.services import audit, devices, sessions, throttle
from rxapp.services.mfa import flow as mfa
from rxapp.services.mfa.common import CodeCheck
from rxapp.services.mfa.passkeys import ceremony, store
from rxapp.services.mfa.passkeys.challenges import Issued, Purpose, issue, spend

MAX_PASSKEYS = 20
EXPIRED = "The passkey request has expired. Try again."
CANCELLED = "No passkey was used. Try again when you are ready."
NOT_ACCEPTED = "That passkey was not accepted."
SIGN_IN_REFUSED = (
    "That passkey could not sign you in. Try again, or sign in with your email and password."
)
NOT_THIS_ACCOUNT = "That passkey does not belong to this account. Use one you added to it."
NAME_PROBLEM = "Give the passkey a name of 1 to 64 characters."


def user_handle(user_id: int) -> bytes:
    """The WebAuthn user handle of an account: opaque, stable, not personal data."""
    return hashlib.sha256(f"rxapp user {user_id}".encode()).digest()


# --- registration --------------------------------------------------------------------------


@dataclass(frozen=True)
class Registered:
    """The outcome of adding a passkey."""

    ok: bool
    message: str = ""
    turned_on: bool = False
    """Whether this passkey turned 2FA on (the account's first method)."""


def begin_registration(
    db: Session,
    user: User,
    rp: ceremony.RelyingParty,
    bound_to: str,
    raw_name: object,
    *,
    now: datetime,
) -> tuple[str, str]:
    """(creation options JSON, "") for the browser, or ("", what to tell the user)."""
    name = store.normalize_name(raw_name)
    if name is None:
        return "", NAME_PROBLEM
    if store.count(db, user.id) >= MAX_PASSKEYS:
        return "", f"An account can have at most {MAX_PASSKEYS} passkeys. Remove one first."
    challenge = issue(db, bound_to, Purpose.REGISTER, now=now, user_id=user.id, label=name)
    options = ceremony.registration_options(
        rp,
        user_handle=user_handle(user.id),
        user_name=user.email,
        challenge=challenge,
        exclude=[credential for credential, _ in store.credentials(db, user.id)],
    )
    return options, ""


def finish_registration(
    db: Session,
    user_id: int,
    rp: ceremony.RelyingParty,
    bound_to: str,
    credential_json: object,
    *,
    now: datetime,
    keep_session_id: int | None = None,
) -> Registered:
    """Store the new passkey when the browser's answer holds for the challenge issued to
    `bound_to`; the first 2FA method turns 2FA on (other sessions end). Commits."""
    issued = spend(db, bound_to, Purpose.REGISTER, now=now)
    if browser_error := ceremony.error_name(credential_json):
        _refused(db, user_id, now=now, detail=f"step=register browser={browser_error}")
        return Registered(ok=False, message=_browser_message(browser_error, registering=True))
    if issued is None or issued.user_id != user_id:
        _refused(db, user_id, now=now, detail="step=register refused=expired")
        return Registered(ok=False, message=EXPIRED)
    new = ceremony.verify_registration(rp, credential_json, challenge=issued.challenge)
    if new is None:
        _refused(db, user_id, now=now, detail="step=register refused=invalid")
        return Registered(ok=False, message=f"{NOT_ACCEPTED} Try again.")
    # Lock the account's row: the first method and its flag change together.
    # populate_existing: the row as locked now, not a copy this session read before.
    user = db.exec(
        select(User)
        .where(col(User.id) == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    turned_on = not mfa.has_second_factor(user)
    db.add(
        Passkey(
            user_id=user_id,
            credential_id=new.credential_id,
            public_key=new.public_key,
            sign_count=new.sign_count,
            name=issued.label,
            transports=new.transports,
            created_at=now,
        )
    )
    try:
        db.flush()
    except IntegrityError:
        db.rollback()
        _refused(db, user_id, now=now, detail="step=register refused=already-registered")
        return Registered(ok=False, message="That passkey is already registered.")
    db.exec(update(User).where(col(User.id) == user_id).values(twofa_active=True))
    audit.record(db, audit.Event.PASSKEY_ADDED, now=now, user_id=user_id, detail=issued.label)
    if turned_on:
        audit.record(
            db, audit.Event.TWOFA_ENABLED, now=now, user_id=user_id, detail="method=passkey"
        )
        throttle.reset_all(db, user_id)
        mfa.secure_sessions(db, user_id, now=now, keep_session_id=keep_session_id)
    db.commit()
    return Registered(ok=True, turned_on=turned_on)


# --- checking an assertion -----------------------------------------------------------------


@dataclass(frozen=True)
class _Verdict:
    outcome: str
    """ok, invalid, unknown, other-account, counter-regressed."""
    passkey: Passkey | None = None
    # The owner's credential epoch, read with the passkey, before it is verified.
    epoch: int = 0


def _verify(
    db: Session,
    rp: ceremony.RelyingParty,
    issued: Issued,
    credential_json: object,
    *,
    now: datetime,
    owner: int | None,
    require_user_verification: bool,
) -> _Verdict:
    """Check an answer against the issued challenge and the stored passkey it names; on
    success the passkey's counter moves forward (the caller commits)."""
    assertion = ceremony.read_assertion(credential_json)
    if assertion is None:
        return _Verdict("invalid")
    found = store.by_credential_id(db, assertion.credential_id)
    if found is None:
        return _Verdict("unknown")
    passkey, epoch = found
    if owner is None and not assertion.user_handle:
        # Sign-in without a password is with a discoverable credential: it names its user.
        return _Verdict("invalid", passkey)
    foreign_handle = assertion.user_handle not in (None, b"", user_handle(passkey.user_id))
    if (owner is not None and passkey.user_id != owner) or foreign_handle:
        return _Verdict("other-account", passkey)
    new_count = ceremony.verify_assertion(
        rp,
        credential_json,
        challenge=issued.challenge,
        public_key=passkey.public_key,
        require_user_verification=require_user_verification,
    )
    if new_count is None:
        return _Verdict("invalid", passkey)
    if ceremony.counter_regressed(passkey.sign_count, new_count) or not store.advance_counter(
        db, passkey, new_count, now=now
    ):
        return _Verdict("counter-regressed", passkey)
    return _Verdict("ok", passkey, epoch)


def _refused(db: Session, user_id: int | None, *, now: datetime, detail: str) -> None:
    """Audit a refused passkey; commit."""
    audit.record(db, audit.Event.PASSKEY_REFUSED, now=now, user_id=user_id, detail=detail)
    db.commit()


def _audit_verdict(
    db: Session, verdict: _Verdict, *, now: datetime, step: str, account: int | None = None
) -> None:
    """Audit a refused answer (the caller commits): a counter regression loudly. It goes to
    `account` (the one being signed into) when known, never to the owner of another
    account's passkey, whose activity it is not."""
    user_id = (
        account if account is not None else (verdict.passkey.user_id if verdict.passkey else None)
    )
    detail = f"step={step} refused={verdict.outcome}"
    if verdict.passkey is not None:
        detail += f" passkey={verdict.passkey.id}"
    event = (
        audit.Event.PASSKEY_CLONED
        if verdict.outcome == "counter-regressed"
        else audit.Event.PASSKEY_REFUSED
    )
    audit.record(db, event, now=now, user_id=user_id, detail=detail)


# Browsers refuse WebAuthn on an address that cannot own a passkey: a bare IP address, or
# plain http:// other than localhost.
INSECURE_ADDRESS = (
    "Passkeys work only at this site's own name over https:// (or at http://localhost), not "
    "at a bare IP address. Open the site by its name, or use a code."
)


def _browser_message(name: str, *, registering: bool = False) -> str:
    if name == "InvalidStateError" and registering:
        return "This device already holds a passkey for your account."
    if name in ("NotAllowedError", "AbortError"):
        return CANCELLED
    if name == "unsupported":
        return "This browser cannot use passkeys. Use a current browser, or a code."
    if name == "SecurityError":
        return INSECURE_ADDRESS
    return f"The browser could not use a passkey ({name})."


# --- the second step -----------------------------------------------------------------------


def begin_second_step(
    db: Session, pending: PendingLogin, rp: ceremony.RelyingParty, bound_to: str, *, now: datetime
) -> str:
    """Request options for the passcode step (this account's passkeys), or "" when the
    account has none."""
    return _begin_own(db, pending.user_id, rp, bound_to, Purpose.SECOND_STEP, now=now)


def _begin_own(
    db: Session,
    user_id: int,
    rp: ceremony.RelyingParty,
    bound_to: str,
    purpose: str,
    *,
    now: datetime,
) -> str:
    """Request options for one of the account's own passkeys, or "" when it has none."""
    allowed = store.credentials(db, user_id)
    if not allowed:
        return ""
    challenge = issue(db, bound_to, purpose, now=now, user_id=user_id)
    return ceremony.authentication_options(
        rp, challenge=challenge, allow=allowed, require_user_verification=False
    )


def finish_second_step(
    db: Session,
    pending: PendingLogin,
    rp: ceremony.RelyingParty,
    bound_to: str,
    credential_json: object,
    *,
    now: datetime,
    device: str = "",
) -> CodeCheck:
    """The passcode step with a passkey, under the code throttle (the account's, or that of
    `device` when it has one of its own, see `devices`) and the pending login's failure
    limit; on success the pending login is ended (see mfa.flow)."""
    issued = spend(db, bound_to, Purpose.SECOND_STEP, now=now)
    impatient = pending.failures > 0  # as with codes: see mfa.flow.verify_login_code
    return mfa.finish_second_step(
        db,
        pending,
        lambda: _check_own(
            db,
            pending.user_id,
            rp,
            issued,
            credential_json,
            now=now,
            step="second",
            device=device,
            count_early=not impatient,
        ),
        now=now,
        device=device,
    )


def _check_own(
    db: Session,
    user_id: int,
    rp: ceremony.RelyingParty,
    issued: Issued | None,
    credential_json: object,
    *,
    now: datetime,
    step: str,
    device: str = "",
    count_early: bool = True,
) -> CodeCheck:
    """Check an answer that must come from one of the account's own passkeys, under the
    code throttle of the account or of its known `device` (a refusal counts like a wrong
    code)."""
    if browser_error := ceremony.error_name(credential_json):
        _refused(db, user_id, now=now, detail=f"step={step} browser={browser_error}")
        return CodeCheck(ok=False, message=_browser_message(browser_error))
    if issued is None or issued.user_id != user_id:
        _refused(db, user_id, now=now, detail=f"step={step} refused=expired")
        return CodeCheck(ok=False, message=EXPIRED)
    device_id = devices.code_throttle_id(db, user_id, device)
    early = mfa.claim_or_refuse(
        db, user_id, kind="passkey", now=now, device_id=device_id, count=count_early
    )
    if early:
        return early
    verdict = _verify(
        db, rp, issued, credential_json, now=now, owner=user_id, require_user_verification=False
    )
    if verdict.outcome == "ok":
        throttle.reset(db, user_id, device_id=device_id)
        audit.record(
            db,
            audit.Event.PASSKEY_USED,
            now=now,
            user_id=user_id,
            detail=f"step={step} passkey={verdict.passkey.id}",
        )
        return CodeCheck(ok=True)
    db.rollback()
    if verdict.outcome == "counter-regressed" or verdict.passkey is not None:
        _audit_verdict(db, verdict, now=now, step=step, account=user_id)
    failure = mfa.count_failure(
        db, user_id, now=now, detail=f"kind=passkey refused={verdict.outcome}", device_id=device_id
    )
    wait = throttle.seconds_to_wait(db, user_id, now=now, device_id=device_id)
    message = NOT_THIS_ACCOUNT if verdict.outcome in ("other-account", "unknown") else NOT_ACCEPTED
    if mfa.says_the_wait(failure, wait):
        message = f"{message} {throttle.wait_message(wait)}"
    return mfa.counted_refusal(message, wait, failure, device_id=device_id)


# --- a fresh proof ---------------------------------------------------------------------------


def begin_reauth(
    db: Session, user_id: int, rp: ceremony.RelyingParty, bound_to: str, *, now: datetime
) -> str:
    """Request options for a fresh proof with one of the account's passkeys ("" if none)."""
    return _begin_own(db, user_id, rp, bound_to, Purpose.REAUTH, now=now)


def prove(
    db: Session,
    signed_in: sessions.SignedIn,
    rp: ceremony.RelyingParty,
    bound_to: str,
    credential_json: object,
    *,
    now: datetime,
    device: str = "",
) -> str | None:
    """A fresh proof with a passkey, as `reauth.prove` with a code: None when it holds (the
    session then counts as freshly proven with a second factor); else what to tell the
    user. Commits."""
    user_id = signed_in.user.id
    issued = spend(db, bound_to, Purpose.REAUTH, now=now)
    # A signed-in person's early retries are not counted (see `reauth`).
    result = _check_own(
        db,
        user_id,
        rp,
        issued,
        credential_json,
        now=now,
        step="reauth",
        device=device,
        count_early=False,
    )
    event = audit.Event.REAUTH_OK if result.ok else audit.Event.REAUTH_FAILED
    audit.record(db, event, now=now, user_id=user_id, detail="passkey")
    db.commit()
    if not result.ok:
        return result.message
    sessions.mark_fresh_proof(db, signed_in.session.id, now=now, second_factor=True)
    return None


# --- sign-in with a passkey alone ------------------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in with a passkey alone: the account, or a message."""

    user_id: int | None
    message: str = ""
    # The account's credential epoch as read with the passkey, before it was verified.
    epoch: int = 0


def begin_sign_in(db: Session, rp: ceremony.RelyingParty, bound_to: str, *, now: datetime) -> str:
    """Request options for a discoverable credential with user verification."""
    challenge = issue(db, bound_to, Purpose.SIGN_IN, now=now)
    return ceremony.authentication_options(
        rp, challenge=challenge, allow=[], require_user_verification=True
    )


def finish_sign_in(
    db: Session,
    rp: ceremony.RelyingParty,
    bound_to: str,
    credential_json: object,
    *,
    now: datetime,
    client_ip: str,
) -> SignIn:
    """Both factors at once: the passkey must verify the user (PIN or biometrics). Failures
    count per client address. The caller starts the session."""
    issued = spend(db, bound_to, Purpose.SIGN_IN, now=now)
    if browser_error := ceremony.error_name(credential_json):
        return SignIn(None, _browser_message(browser_error))
    # The client's claim comes before any audit row, so that nobody can fill the audit
    # trail from the login page faster than the per-client limit allows.
    key = throttle.client_key(client_ip)
    if wait := throttle.claim_key(db, key, now=now, policy=throttle.per_client()):
        return SignIn(None, throttle.wait_message(wait))
    if issued is None:
        _refused(db, None, now=now, detail="step=sign-in refused=expired")
        throttle.record_key_failure(db, key, now=now, policy=throttle.per_client())
        return SignIn(None, EXPIRED)
    verdict = _verify(
        db, rp, issued, credential_json, now=now, owner=None, require_user_verification=True
    )
    if verdict.outcome == "ok":
        audit.record(
            db,
            audit.Event.PASSKEY_USED,
            now=now,
            user_id=verdict.passkey.user_id,
            detail=f"step=sign-in passkey={verdict.passkey.id}",
        )
        db.commit()
        return SignIn(verdict.passkey.user_id, epoch=verdict.epoch)
    db.rollback()
    _audit_verdict(db, verdict, now=now, step="sign-in")
    db.commit()
    throttle.record_key_failure(db, key, now=now, policy=throttle.per_client())
    return SignIn(None, SIGN_IN_REFUSED)


# --- managing passkeys ----------------------------------------------------------------------


def rename(db: Session, user_id: int, passkey_id: int, raw_name: object, *, now: datetime) -> str:
    """Rename one of the account's passkeys; "" or what to tell the user. Commits."""
    name = store.normalize_name(raw_name)
    if name is None:
        return NAME_PROBLEM
    if not store.rename(db, user_id, passkey_id, name):
        return "That passkey is gone. Reload the page."
    audit.record(db, audit.Event.PASSKEY_RENAMED, now=now, user_id=user_id, detail=name)
    db.commit()
    return ""


def remove(
    db: Session,
    user_id: int,
    passkey_id: int,
    *,
    now: datetime,
    keep_session_id: int | None,
    keep_device: str = "",
) -> bool:
    """Remove one of the account's passkeys, end every other session and forget every other
    device (a browser the passkey opened, lost or stolen, must not stay signed in or known);
    the account's last method going turns 2FA off (backup codes deleted). Commits; False
    when it was not there."""
    # The account's row first, as turning TOTP off locks it: the two never decide at once.
    db.exec(select(User.id).where(col(User.id) == user_id).with_for_update()).one()
    name = store.delete_one(db, user_id, passkey_id)
    if name is None:
        db.rollback()
        return False
    audit.record(db, audit.Event.PASSKEY_REMOVED, now=now, user_id=user_id, detail=name)
    if mfa.off_without_a_method(db, user_id):
        audit.record(
            db, audit.Event.TWOFA_DISABLED, now=now, user_id=user_id, detail="last passkey"
        )
    sessions.revoke_all_sessions(db, user_id, now=now, keep_session_id=keep_session_id)
    devices.forget_others(db, user_id, keep=keep_device)
    db.commit()
    return True
