"""Encryption at rest for TOTP secrets (Fernet: AES-128-CBC with HMAC-SHA256).

The key comes from RXAPP_SECRET_KEY. The embedded SQLite default may instead keep a key file
beside the database, created once with mode 0600. A server database needs the variable:
a key file on one machine would not be shared by the other instances.
"""

from __future__ import annotations

import logging
import os
from functools import cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from rxapp.log_budget import LogBudget
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
    """The key in `path`, created once: written to a private temporary file and linked into
    place, so a process starting at the same moment reads a whole key, never a partial one."""
    if not path.exists():
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as error:
            raise SecretKeyError(
                f"the key file {path} cannot be made: {error.strerror} (set RXAPP_SECRET_KEY, "
                "or check the database's folder)"
            ) from None
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(Fernet.generate_key())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process won; use its key
        finally:
            temporary.unlink()
    if path.stat().st_mode & 0o077:
        raise SecretKeyError(f"{path} must be readable by its owner only (chmod 600 {path})")
    return path.read_bytes().strip()


@cache
def _raw_key(db_url: str, configured_key: str | None) -> bytes:
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
        Fernet(raw)
    except ValueError:
        raise SecretKeyError(
            f"the key in {source} is not a Fernet key (32 url-safe base64-encoded bytes)"
        ) from None
    return raw


@cache
def _fernet(db_url: str, configured_key: str | None) -> Fernet:
    return Fernet(_raw_key(db_url, configured_key))


def derived_key(purpose: str) -> bytes:
    """A 32-byte key for another use (e.g. signing links), derived from the secret key with
    HKDF so that one purpose's key reveals nothing about another's."""
    settings = get_settings()
    material = _raw_key(settings.db_url, settings.secret_key)
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
        material
    )


def forget_keys() -> None:
    """Drop the cached keys, so the next use reads the settings again (tests, key rotation)."""
    _raw_key.cache_clear()
    _fernet.cache_clear()


def box() -> Fernet:
    """The cipher for this process's settings (raises SecretKeyError when unusable)."""
    settings = get_settings()
    return _fernet(settings.db_url, settings.secret_key)


def encrypt(plaintext: str) -> str:
    """Encrypt a secret for storage."""
    return box().encrypt(plaintext.encode()).decode()


def decrypt(stored: str) -> str | None:
    """The plaintext of a stored secret, or None if it was not encrypted with this key."""
    plaintext = _opened(stored)
    if plaintext is None:
        # Stored by this app with its key: only another key (or tampering) gets here.
        _undecryptable.warn("rxapp: a stored secret does not decrypt with this key: %s", _HINT)
    return plaintext


def _opened(stored: str) -> str | None:
    try:
        return box().decrypt(stored.encode()).decode()
    except (InvalidToken, ValueError):
        return None


def opens(stored: str) -> bool:
    """Whether this process's key decrypts `stored` (quietly: a lost key is expected here)."""
    return _opened(stored) is not None


_HINT = "is RXAPP_SECRET_KEY (or the key file) the one the database's secrets were made with?"
_undecryptable = LogBudget(logging.getLogger(__name__), 5, "undecryptable secrets")


WRONG_KEY = (
    "{source} does not decrypt the TOTP secrets stored in this database: it is not the key "
    "they were encrypted with, and every authenticator app's codes would be refused. Set "
    "the key they were made with (if it is lost for good: `rxapp reset-2fa --lost-key`)."
)


def check_opens(stored_secret: str | None) -> None:
    """Raise SecretKeyError unless this process's key decrypts `stored_secret` (one TOTP
    secret read from the database; None when it holds none yet)."""
    if stored_secret is not None and _opened(stored_secret) is None:
        settings = get_settings()
        source = (
            "RXAPP_SECRET_KEY"
            if settings.secret_key
            else f"The key file {key_file_for(settings.db_url)}"
        )
        raise SecretKeyError(WRONG_KEY.format(source=source))
