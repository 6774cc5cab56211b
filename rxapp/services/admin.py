"""Admin actions on other accounts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, delete, select, update

from rxapp.models import SecretReveal, SignInApproval, User
from rxapp.services import audit, devices, secretbox, sessions
from rxapp.services.mfa import flow as mfa

OWN_ACCOUNT = (
    "Your own two-factor authentication is changed on My profile, where turning it off asks "
    "for a current code."
)


def may_reset(actor_id: int | None, user_id: int) -> bool:
    """Whether `actor_id` may reset `user_id`'s 2FA: never their own (an admin's session
    alone must not strip its own account of 2FA; the profile asks for a code)."""
    return actor_id != user_id


def reset_2fa(
    db: Session, user_id: int, *, now: datetime, actor_id: int | None, via: str
) -> User | None:
    """Turn a user's 2FA off (secret, passkeys and backup codes deleted), end their
    sessions and pending logins and forget their devices, so they sign in again with the
    password alone and can enrol again. Commits; returns the user, or None if there is no
    such user. An actor's own account is refused (ValueError): see `may_reset`."""
    if not may_reset(actor_id, user_id):
        raise ValueError(OWN_ACCOUNT)
    user = db.get(User, user_id)
    if user is None:
        return None
    mfa.remove(db, user_id)
    sessions.revoke_all_sessions(db, user_id, now=now)
    devices.forget_others(db, user_id)
    audit.record(
        db,
        audit.Event.ADMIN_RESET_2FA,
        now=now,
        user_id=user_id,
        actor_id=actor_id,
        email=user.email,
        detail=f"via={via}",
    )
    db.commit()
    db.refresh(user)
    return user


def set_admin(
    db: Session, user: User, *, admin: bool, now: datetime, actor_id: int | None, via: str
) -> bool:
    """Give `user` the admin role (`admin`) or take it away, in one statement; audited (the
    owner is told at their next sign-in) and committed. False when the account already had
    that role: nothing is written. An admin without 2FA sees All users only once 2FA is on
    (`policy.may_use_dashboard`)."""
    changed = db.exec(
        update(User)
        .where(col(User.id) == user.id, col(User.is_admin) != admin)
        .values(is_admin=admin)
    ).rowcount
    if not changed:
        db.rollback()
        return False
    event = audit.Event.ADMIN_GRANTED if admin else audit.Event.ADMIN_REMOVED
    audit.record(
        db,
        event,
        now=now,
        user_id=user.id,
        actor_id=actor_id,
        email=user.email,
        detail=f"via={via}",
    )
    db.commit()
    return True


def delete_account(
    db: Session, user: User, *, now: datetime, actor_id: int | None, via: str
) -> None:
    """Delete `user` with everything tied to the account (sessions, pending sign-ins, key,
    backup codes, passkeys, known browsers, approval requests: the database's cascades), so
    its open tabs are refused at their next event. The audit trail stays, with one row
    saying the account was deleted. Commits."""
    audit.record(
        db,
        audit.Event.ACCOUNT_DELETED,
        now=now,
        user_id=user.id,
        actor_id=actor_id,
        email=user.email,
        detail=f"via={via}",
    )
    db.exec(delete(User).where(col(User.id) == user.id))
    db.commit()


def has_admin(db: Session) -> bool:
    """Whether any account has the admin role."""
    return db.exec(select(User.id).where(col(User.is_admin).is_(True)).limit(1)).first() is not None


@dataclass(frozen=True)
class LostKeyReset:
    """What `reset_after_lost_key` did."""

    reset: list[str]  # the emails whose 2FA was reset
    enrolments_dropped: int  # 2FA setups in progress, started again from the start
    transient_dropped: int  # approval requests and backup-code reveals in flight


def reset_after_lost_key(db: Session, *, now: datetime, via: str) -> LostKeyReset:
    """Recover from a lost secret key: with the key now configured, every stored TOTP secret
    it cannot open is useless (no authenticator code could be checked), so each such
    account's 2FA is reset as an admin reset does (`reset_2fa`: the owner signs in with the
    password alone, is told, and sets 2FA up again); 2FA setups in progress, approval
    requests and backup-code reveals it cannot open are dropped. What the key opens is
    left alone. Commits as it goes; running it again finds nothing left."""
    locked = select(User.id, User.email, User.totp_secret).where(col(User.totp_secret).is_not(None))
    lost = [(uid, email) for uid, email, sealed in db.exec(locked) if not secretbox.opens(sealed)]
    for user_id, _ in lost:
        reset_2fa(db, user_id, now=now, actor_id=None, via=via)
    pending = select(User.id, User.totp_pending_secret).where(
        col(User.totp_pending_secret).is_not(None)
    )
    stale = [uid for uid, sealed in db.exec(pending) if not secretbox.opens(sealed)]
    if stale:
        db.exec(update(User).where(col(User.id).in_(stale)).values(totp_pending_secret=None))
    approvals = [a.id for a in db.exec(select(SignInApproval)) if not secretbox.opens(a.challenge)]
    reveals = [r.id for r in db.exec(select(SecretReveal)) if not secretbox.opens(r.ciphertext)]
    if approvals:
        db.exec(delete(SignInApproval).where(col(SignInApproval.id).in_(approvals)))
    if reveals:
        db.exec(delete(SecretReveal).where(col(SecretReveal.id).in_(reveals)))
    db.commit()
    return LostKeyReset(
        reset=[email for _, email in lost],
        enrolments_dropped=len(stale),
        transient_dropped=len(approvals) + len(reveals),
    )
