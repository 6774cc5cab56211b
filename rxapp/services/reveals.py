"""Short-lived reveals: a secret shown once (new backup codes), held encrypted server-side.

The tab keeps only the random `ref`. A reconnect, on this instance or another, reads the
secret back while it lasts; once expired it is gone for good (deleted within seconds by
`rxapp.housekeeping`).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, delete, select

from rxapp.models import SecretReveal
from rxapp.services import secretbox


@dataclass(frozen=True)
class Reveal:
    """What a reveal shows, and until when."""

    ref: str
    values: list[str]
    expires_at: datetime


def create(
    db: Session,
    *,
    user_id: int,
    session_id: int,
    values: list[str],
    now: datetime,
    seconds: int,
) -> Reveal:
    """Store `values` encrypted for `seconds`, for one session of one user; commit.

    Also drops every expired reveal and any earlier one of the same session."""
    purge_expired(db, now=now)
    db.exec(delete(SecretReveal).where(col(SecretReveal.session_id) == session_id))
    expires_at = now + timedelta(seconds=seconds)
    reveal = Reveal(ref=secrets.token_urlsafe(24), values=list(values), expires_at=expires_at)
    db.add(
        SecretReveal(
            ref=reveal.ref,
            user_id=user_id,
            session_id=session_id,
            ciphertext=secretbox.encrypt(json.dumps(reveal.values)),
            expires_at=reveal.expires_at,
        )
    )
    db.commit()
    return reveal


def read(db: Session, ref: object, *, session_id: int, now: datetime) -> Reveal | None:
    """The live reveal `ref` of `session_id`, or None (unknown, another session's, expired)."""
    if not isinstance(ref, str) or not ref or len(ref) > 64:
        return None
    row = db.exec(
        select(SecretReveal).where(
            col(SecretReveal.ref) == ref, col(SecretReveal.session_id) == session_id
        )
    ).first()
    if row is None or now >= row.expires_at:
        return None
    plaintext = secretbox.decrypt(row.ciphertext)
    if plaintext is None:
        return None
    return Reveal(ref=row.ref, values=list(json.loads(plaintext)), expires_at=row.expires_at)


MAX_EXTENSIONS = 3


def extend(
    db: Session, ref: object, *, session_id: int, now: datetime, seconds: int
) -> Reveal | None:
    """Give a live reveal `seconds` more (from its current end); commit. None when it is
    unknown, another session's or already over. The caller limits how often."""
    live = read(db, ref, session_id=session_id, now=now)
    if live is None:
        return None
    expires_at = live.expires_at + timedelta(seconds=seconds)
    moved = db.exec(
        update(SecretReveal)
        .where(
            col(SecretReveal.ref) == live.ref,
            col(SecretReveal.session_id) == session_id,
            col(SecretReveal.expires_at) > now,
        )
        .values(expires_at=expires_at)
    )
    db.commit()
    if moved.rowcount != 1:
        return None
    return Reveal(ref=live.ref, values=live.values, expires_at=expires_at)


def discard(db: Session, ref: object) -> None:
    """End a reveal now; commit."""
    if isinstance(ref, str) and ref:
        db.exec(delete(SecretReveal).where(col(SecretReveal.ref) == ref))
        db.commit()


def discard_all(db: Session, user_id: int) -> None:
    """End every reveal of a user: what they show no longer works (the caller commits)."""
    db.exec(delete(SecretReveal).where(col(SecretReveal.user_id) == user_id))


def is_live(db: Session, ref: str, *, now: datetime) -> bool:
    """Whether reveal `ref` still runs (not ended, discarded or replaced)."""
    found = db.exec(
        select(SecretReveal.ref).where(
            col(SecretReveal.ref) == ref, col(SecretReveal.expires_at) > now
        )
    ).first()
    return found is not None


def purge_expired(db: Session, *, now: datetime) -> None:
    """Delete every reveal whose time is up (the caller commits)."""
    db.exec(delete(SecretReveal).where(col(SecretReveal.expires_at) <= now))
