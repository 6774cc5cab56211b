"""Fresh proofs before sensitive actions: a current code when 2FA is on, else the password."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from rxapp.services import accounts, audit, sessions, throttle
from rxapp.services.mfa import flow as mfa
from rxapp.services.sessions import SignedIn


def asks_for_code(signed_in: SignedIn) -> bool:
    """Whether the proof is a code, TOTP or backup (2FA on) rather than the password."""
    return mfa.has_second_factor(signed_in.user)


def may_change_methods(signed_in: SignedIn, *, now: datetime) -> bool:
    """Whether the session may add or remove a way into the account (a passkey, an app) now.

    With 2FA on, only a proof entered after the sign-in counts: a sign-in alone (say with one
    phished code) never yields a lasting way in, nor takes one from the owner, as with backup
    codes. With 2FA off, a recent sign-in (the password) is the strongest proof there is.
    """
    if not sessions.has_fresh_proof(signed_in, now=now):
        return False
    session = signed_in.session
    return not asks_for_code(signed_in) or session.fresh_proof_at > session.created_at


def may_change_password(signed_in: SignedIn, *, now: datetime) -> bool:
    """Whether the session may change the password now (the current one is asked as well):
    with 2FA on, only after a second factor entered since the sign-in, as for adding or
    removing a way in (a phished password and code must not lock the owner out)."""
    return not asks_for_code(signed_in) or may_change_methods(signed_in, now=now)


def prove(
    db: Session, signed_in: SignedIn, value: object, *, now: datetime, device: str = ""
) -> throttle.Refusal | None:
    """Check the proof under the same throttles as signing in (from `device`, a device
    digest). None when it holds (the session then counts as freshly proven for 5 minutes);
    else what to tell the user."""
    user = signed_in.user
    problem: throttle.Refusal | None
    if asks_for_code(signed_in):
        # A signed-in person retrying before their wait is over is refused, not counted
        # (as on the passcode page): nothing early is ever checked, so a burst gains nothing.
        result = mfa.check_code(db, user.id, value, now=now, device=device, count_early=False)
        problem = None if result.ok else throttle.Refusal(result.message, result.told_wait)
        kind = "code"
    else:
        problem = accounts.check_password_again(db, user, value, now=now, device=device)
        kind = "password"
    event = audit.Event.REAUTH_FAILED if problem else audit.Event.REAUTH_OK
    audit.record(db, event, now=now, user_id=user.id, detail=kind)
    db.commit()
    if problem is None:
        sessions.mark_fresh_proof(db, signed_in.session.id, now=now, second_factor=kind == "code")
    return problem
