"""Backup codes: five single-use look-up secrets per batch (NIST SP 800-63B 5.1.2).

Each code is 16 characters of Crockford base32 from `secrets`: 80 random bits, shown as
XXXX-XXXX-XXXX-XXXX. Codes under 112 bits must be stored with a salted password hash
(OWASP ASVS 5.0, 6.5.2), so each is hashed with argon2id. Because the codes are random
rather than chosen by people, a lighter cost than for passwords (m=8 MiB, t=1) keeps
checking a user's five codes near 20 ms while an offline search of 2^80 stays hopeless.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from passlib.context import CryptContext
from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from rxapp.models import BackupCode, User
from rxapp.services import reveals

BATCH_SIZE = 5
LOW = 2  # this many unused codes or fewer: warn the user to make new ones
CODE_LENGTH = 16
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
_MAX_INPUT = 64
# Crockford's decoding: people may type O for 0 and I or L for 1.
_READS_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
_CODE = re.compile(f"[{ALPHABET}]{{{CODE_LENGTH}}}")

_CONTEXT = CryptContext(
    schemes=["argon2"],
    argon2__type="ID",
    argon2__memory_cost=8192,
    argon2__time_cost=1,
    argon2__parallelism=1,
)


def new_code() -> str:
    """One new code, 80 random bits, without dashes."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def formatted(code: str) -> str:
    """A code as shown to people: groups of four joined by dashes."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def normalize(raw: object) -> str | None:
    """The canonical code from what someone typed (any case, dashes and spaces), or None."""
    if not isinstance(raw, str) or len(raw) > _MAX_INPUT:
        return None
    stripped = re.sub(r"[\s\-]", "", raw)
    # Check ASCII first: some letters (dotless i, long s, ligatures) upper-case into ASCII.
    if not stripped.isascii():
        return None
    code = stripped.upper().translate(_READS_AS)
    return code if _CODE.fullmatch(code) else None


def replace_batch(db: Session, user_id: int, *, now: datetime) -> list[str]:
    """Delete every older code and store a new batch in the same transaction; commit.

    Returns the new codes in clear: the only moment they exist outside a hash.
    """
    codes: set[str] = set()
    while len(codes) < BATCH_SIZE:
        codes.add(new_code())
    ordered = sorted(codes)
    # Lock the user's row first, so two batches made at once on PostgreSQL cannot both
    # survive (a DELETE alone does not see rows another transaction is inserting).
    db.exec(select(User.id).where(col(User.id) == user_id).with_for_update())
    db.exec(delete(BackupCode).where(col(BackupCode.user_id) == user_id))
    reveals.discard_all(db, user_id)  # another tab's reveal of the old batch ends
    for code in ordered:
        db.add(BackupCode(user_id=user_id, code_hash=_CONTEXT.hash(code), created_at=now))
    db.commit()
    return ordered


def delete_all(db: Session, user_id: int) -> None:
    """Remove every code of a user, and end any reveal of them (the caller commits)."""
    db.exec(delete(BackupCode).where(col(BackupCode.user_id) == user_id))
    reveals.discard_all(db, user_id)


def remaining(db: Session, user_id: int) -> int:
    """How many unused codes the user has."""
    return db.exec(
        select(func.count())
        .select_from(BackupCode)
        .where(col(BackupCode.user_id) == user_id, col(BackupCode.used_at).is_(None))
    ).one()


def use(db: Session, user_id: int, code: str, *, now: datetime) -> bool:
    """Spend a normalised code once. True only for the one caller whose UPDATE marked it used
    (the caller commits)."""
    unused = db.exec(
        select(BackupCode.id, BackupCode.code_hash).where(
            col(BackupCode.user_id) == user_id, col(BackupCode.used_at).is_(None)
        )
    ).all()
    for code_id, code_hash in unused:
        if _CONTEXT.verify(code, code_hash):
            spent = db.exec(
                update(BackupCode)
                .where(col(BackupCode.id) == code_id, col(BackupCode.used_at).is_(None))
                .values(used_at=now)
            )
            return spent.rowcount == 1
    return False
