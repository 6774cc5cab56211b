"""Whether this process's key is the one the database's TOTP secrets were encrypted with.

A valid key that is not that one would let the app start and refuse every authenticator
app's code as wrong, counting each against its user. Every entry point checks first.
"""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select

from rxapp.models import User
from rxapp.services import secretbox
from rxapp.services.database import session_for


def check_key(db_url: str) -> None:
    """Raise SecretKeyError when the key is missing, unusable, or does not decrypt a TOTP
    secret stored in the database at `db_url`. A database that cannot be read yet (not
    migrated, unreachable) is not checked here: what opens it next says why."""
    secretbox.box()
    try:
        with session_for(db_url) as db:
            stored = select(User.totp_secret).where(col(User.totp_secret).is_not(None))
            sample = db.exec(stored.limit(1)).first()
    except SQLAlchemyError:
        return
    secretbox.check_opens(sample)
