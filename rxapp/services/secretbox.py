"""Encryption at rest for TOTP secrets (Fernet: AES-128-CBC with HMAC-SHA256).

The key comes from RXAPP_SECRET_KEY. The embedded SQLite default may instead keep a key file
beside the database, created once with mode 0600. A server database needs the variable:
a key file on one machine would not be shared by the other instances.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from rxapp.settings import SettingsError, get_settings


class SecretKeyError(SettingsError):
    """The encryption key is missing or unusable; the message says what to do."""


def key_file_for(db_url: str) -> Path:
    """The key file beside a SQLite database file."""
    path = db_url.split(":///", 1)[1] if ":///" in db_url else ""
    if not path or path.startswith(":memory:") or "mode=memory" in db_url:
        raise SecretKeyError("an in-memory SQLite database needs RXAPP_SECRET_KEY to be set")
    return Path(path.split("?", 1)[0]).with_suffix(".key")


def _read_or_create_key_file(path: Path) -> bytes:
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(Fernet.generate_key())
    return path.read_bytes().strip()


@cache
def _fernet(db_url: str, configured_key: str | None) -> Fernet:
    if configured_key:
        raw = configured_key.encode()
        source = "RXAPP_SECRET_KEY"
    elif db_url.startswith("sqlite"):
        path = key_file_for(db_url)
        raw = _read_or_create_key_file(path)
        source = str(path)
    else:
        raise SecretKeyError(
            "RXAPP_SECRET_KEY must be set when the database is not the embedded SQLite file. "
            "Make one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'"
        )
    try:
        return Fernet(raw)
    except ValueError:
        raise SecretKeyError(
            f"the key in {source} is not a Fernet key (32 url-safe base64-encoded bytes)"
        ) from None


def box() -> Fernet:
    """The cipher for this process's settings (raises SecretKeyError when unusable)."""
    settings = get_settings()
    return _fernet(settings.db_url, settings.secret_key)


def encrypt(plaintext: str) -> str:
    """Encrypt a secret for storage."""
    return box().encrypt(plaintext.encode()).decode()


def decrypt(stored: str) -> str | None:
    """The plaintext of a stored secret, or None if it was not encrypted with this key."""
    try:
        return box().decrypt(stored.encode()).decode()
    except (InvalidToken, ValueError):
        return None
