"""Server-side sessions: full sessions after every factor, pending logins in between.

The browser holds only the random token; the database holds its SHA-256. A token is
untrusted input: anything that is not a live row of the right kind means "no session".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select, update

from rxapp.models import AuthSession, PendingLogin, User
from rxapp.services.tokens import new_token, token_hash
from rxapp.settings import get_settings

# last_seen_at is written at most this often, so reads stay reads.
_TOUCH_EVERY = timedelta(seconds=30)


@dataclass(frozen=True)
class SignedIn:
    """A live session and its user."""

    user: User
    session: AuthSession


def start_session(
    db: Session, user: User, *, now: datetime, epoch: int, second_factor: bool = False
) -> str:
    """Create a full session for `user` (`second_factor`: it passed one), record the
    sign-in time, commit; return the token. `epoch`: the account's credential epoch when
    the factors were read, before they were checked (a value read afterwards would let a
    sign-in that raced a change of credentials through); a change since then leaves the
    session dead (see `revoke_all_sessions`)."""
    settings = get_settings()
    token = new_token()
    db.add(
        AuthSession(
            token_hash=token_hash(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(seconds=settings.session_absolute_seconds),
            fresh_proof_at=now,
            second_factor_at=now if second_factor else None,
            credential_epoch=epoch,
        )
    )
    user.last_sign_in_at = now
    db.add(user)
    db.commit()
    return token


def current_session(
    db: Session, token: object, *, now: datetime, touch: bool = True
) -> SignedIn | None:
    """The live session behind `token`, or None (unknown, revoked, expired or idle too long).

    `touch=False` checks without counting as activity (for background refreshes)."""
    return session_by_digest(db, token_hash(token), now=now, touch=touch)


def session_by_digest(
    db: Session, digest: str | None, *, now: datetime, touch: bool = True
) -> SignedIn | None:
    """The live session whose token hashes to `digest` (see `current_session`)."""
    if not digest:
        return None
    # `==`, not `live_sessions`' IN: this runs for every event of a signed-in tab.
    found = _live(db, col(AuthSession.token_hash) == digest, now=now)
    if not found:
        return None
    auth = found[0].session
    if touch and now - auth.last_seen_at >= _TOUCH_EVERY:
        db.exec(update(AuthSession).where(AuthSession.id == auth.id).values(last_seen_at=now))
        db.commit()
        auth.last_seen_at = now
    return found[0]


def live_sessions(db: Session, digests: Iterable[str], *, now: datetime) -> dict[str, SignedIn]:
    """The live sessions among those whose tokens hash to `digests`, by digest, in one
    query and without counting as activity (a digest not in the result has none)."""
    wanted = sorted(set(digests))
    if not wanted:
        return {}
    found = _live(db, col(AuthSession.token_hash).in_(wanted), now=now)
    return {signed_in.session.token_hash: signed_in for signed_in in found}


def live_session_user(db: Session, session_id: object, *, now: datetime) -> User | None:
    """The user of session `session_id` if that session is still live (not revoked, expired
    or idle), without counting as activity; else None."""
    if not isinstance(session_id, int) or isinstance(session_id, bool):
        return None
    found = _live(db, col(AuthSession.id) == session_id, now=now)
    return found[0].user if found else None


def _live(db: Session, where: sa.ColumnElement[bool], *, now: datetime) -> list[SignedIn]:
    """The live sessions (with their users) that `where` selects."""
    rows = db.exec(
        select(AuthSession, User)
        .join(User, User.id == AuthSession.user_id)
        .where(where, current_epoch(AuthSession))
    ).all()
    return [SignedIn(user=user, session=auth) for auth, user in rows if _is_live(auth, now=now)]


def current_epoch(table: type[AuthSession] | type[PendingLogin]) -> sa.ColumnElement[bool]:
    """The condition that a session or pending login (joined with its user) carries the
    account's credential epoch: started before the latest change of credentials, it is dead
    even if that change's revocation missed it (a sign-in that raced the change)."""
    return col(table.credential_epoch) == col(User.credential_epoch)


def idle_seconds() -> int:
    """How long an unused session lives."""
    return get_settings().session_idle_seconds


def _is_live(auth: AuthSession, *, now: datetime) -> bool:
    idle_limit = timedelta(seconds=idle_seconds())
    return (
        auth.revoked_at is None and now < auth.expires_at and now - auth.last_seen_at < idle_limit
    )


def mark_fresh_proof(
    db: Session, session_id: int, *, now: datetime, commit: bool = True, second_factor: bool = False
) -> None:
    """Record that the session's user just proved a factor again (for sensitive actions);
    `second_factor`: the proof was a second factor."""
    values: dict[str, datetime] = {"fresh_proof_at": now}
    if second_factor:
        values["second_factor_at"] = now
    db.exec(update(AuthSession).where(AuthSession.id == session_id).values(**values))
    if commit:
        db.commit()


def has_fresh_proof(signed_in: SignedIn, *, now: datetime) -> bool:
    """Whether the session proved a factor recently enough for a sensitive action."""
    window = timedelta(seconds=get_settings().fresh_proof_seconds)
    return now - signed_in.session.fresh_proof_at < window


def revoke_session(db: Session, token: object, *, now: datetime) -> int | None:
    """End the session behind `token`; return its user id if it was live until now."""
    return revoke_session_by_digest(db, token_hash(token), now=now)


def revoke_session_by_digest(db: Session, digest: str | None, *, now: datetime) -> int | None:
    """End the session whose token hashes to `digest`; its user id if it was live until now."""
    signed_in = session_by_digest(db, digest, now=now, touch=False)
    if signed_in is None:
        return None
    db.exec(
        update(AuthSession)
        .where(AuthSession.id == signed_in.session.id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    db.commit()
    return signed_in.user.id


def revoke_all_sessions(
    db: Session, user_id: int, *, now: datetime, keep_session_id: int | None = None
) -> None:
    """End every session and pending login of a user but `keep_session_id` (the caller
    commits): after a change of factors, no session from before it goes on. The account's
    credential epoch moves on with it (`keep_session_id` moves along), so that a sign-in
    that read the factors before this change and writes its session after it is dead too."""
    db.exec(
        update(User)
        .where(col(User.id) == user_id)
        .values(credential_epoch=User.credential_epoch + 1)
    )
    if keep_session_id is not None:
        epoch = select(User.credential_epoch).where(col(User.id) == user_id).scalar_subquery()
        db.exec(
            update(AuthSession)
            .where(col(AuthSession.id) == keep_session_id)
            .values(credential_epoch=epoch)
        )
    sessions_to_end = update(AuthSession).where(
        AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)
    )
    if keep_session_id is not None:
        sessions_to_end = sessions_to_end.where(AuthSession.id != keep_session_id)
    db.exec(sessions_to_end.values(revoked_at=now))
    db.exec(
        update(PendingLogin)
        .where(PendingLogin.user_id == user_id, PendingLogin.ended_at.is_(None))
        .values(ended_at=now)
    )


def start_pending_login(db: Session, user: User, *, now: datetime) -> str:
    """After the password of a 2FA user: a login that waits for the second factor. It
    carries `user`'s credential epoch as loaded, before the password was checked."""
    token = new_token()
    db.add(
        PendingLogin(
            token_hash=token_hash(token),
            user_id=user.id,
            created_at=now,
            expires_at=now + timedelta(seconds=get_settings().pending_login_seconds),
            credential_epoch=user.credential_epoch,
        )
    )
    db.commit()
    return token


def current_pending_login(db: Session, token: object, *, now: datetime) -> PendingLogin | None:
    """The live pending login behind `token`, or None."""
    return pending_login_by_digest(db, token_hash(token), now=now)


def pending_login_by_digest(
    db: Session, digest: str | None, *, now: datetime
) -> PendingLogin | None:
    """The live pending login whose token hashes to `digest`, or None."""
    if not digest:
        return None
    pending = db.exec(
        select(PendingLogin)
        .join(User, col(User.id) == PendingLogin.user_id)
        .where(PendingLogin.token_hash == digest, current_epoch(PendingLogin))
    ).first()
    if pending is None or pending.ended_at is not None or now >= pending.expires_at:
        return None
    return pending


def end_pending_login(db: Session, pending_id: int, *, now: datetime) -> bool:
    """End a pending login once; True only for the caller that ended it (the caller commits)."""
    result = db.exec(
        update(PendingLogin)
        .where(PendingLogin.id == pending_id, PendingLogin.ended_at.is_(None))
        .values(ended_at=now)
    )
    return result.rowcount == 1
