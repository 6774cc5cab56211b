"""WebAuthn challenges, kept server-side: one per binding and purpose, single-use, two
minutes. The browser only ever carries a challenge inside the options and the signed answer.

A binding is the digest of what the challenge belongs to: a session, a pending login, or
(for sign-in without a password) the connection. It is spent by one DELETE ... RETURNING,
so two answers to the same challenge can never both be checked against it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from rxapp.models import PasskeyChallenge, UTCDateTime

LIFETIME = timedelta(minutes=2)
CHALLENGE_BYTES = 32


class Purpose:
    """What a challenge is for; an answer is accepted only for the same purpose."""

    REGISTER = "register"
    SECOND_STEP = "second_step"
    SIGN_IN = "sign_in"
    REAUTH = "reauth"


@dataclass(frozen=True)
class Issued:
    """A spent challenge, as it was issued."""

    challenge: bytes
    user_id: int | None
    label: str


def binding(kind: str, value: str) -> str:
    """The stored binding of a challenge to `value` (a token digest or a connection id)."""
    return hashlib.sha256(f"passkey\n{kind}\n{value}".encode()).hexdigest()


def issue(
    db: Session,
    bound_to: str,
    purpose: str,
    *,
    now: datetime,
    user_id: int | None = None,
    label: str = "",
) -> bytes:
    """A new challenge for `bound_to`, replacing any earlier one for the same purpose, and
    pruning expired ones; commit."""
    challenge = secrets.token_bytes(CHALLENGE_BYTES)
    cutoff = sa.bindparam("cutoff", now, type_=UTCDateTime())
    db.exec(delete(PasskeyChallenge).where(col(PasskeyChallenge.expires_at) <= cutoff))
    values = {
        "binding": bound_to,
        "purpose": purpose,
        "user_id": user_id,
        "challenge": challenge.hex(),
        "label": label,
        "expires_at": now + LIFETIME,
    }
    # One statement: two tabs of the same binding asking at once both get an answer (the
    # later one's challenge is kept).
    insert = postgresql_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    db.exec(
        insert(PasskeyChallenge)
        .values(**values)
        .on_conflict_do_update(
            index_elements=[PasskeyChallenge.binding, PasskeyChallenge.purpose], set_=values
        )
    )
    db.commit()
    return challenge


def spend(db: Session, bound_to: str, purpose: str, *, now: datetime) -> Issued | None:
    """Take the challenge of `bound_to` for `purpose` out of the database (commits): the
    challenge, or None when there is none or it has expired (either way it is gone)."""
    row = db.exec(
        delete(PasskeyChallenge)
        .where(col(PasskeyChallenge.binding) == bound_to, col(PasskeyChallenge.purpose) == purpose)
        .returning(
            PasskeyChallenge.challenge,
            PasskeyChallenge.user_id,
            PasskeyChallenge.label,
            PasskeyChallenge.expires_at,
        )
    ).first()
    db.commit()
    if row is None or row.expires_at <= now:
        return None
    return Issued(challenge=bytes.fromhex(row.challenge), user_id=row.user_id, label=row.label)
