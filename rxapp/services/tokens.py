"""Random bearer tokens and the one-way form stored server-side."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 32  # 256 random bits
_MAX_TOKEN_LENGTH = 128


def new_token() -> str:
    """A fresh URL-safe token of 256 random bits."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: object) -> str | None:
    """SHA-256 of a token as hex, or None for input that cannot be a token of ours."""
    if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN_LENGTH:
        return None
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
