"""Short-lived, single-use signed links, e.g. for the admin CSV export that a plain
download must open.

A link carries its payload, a random nonce, an expiry and an HMAC-SHA256 over them; the
server checks the signature and the expiry, spends the nonce (one INSERT: a second use
finds it taken, on any instance), then re-checks the rights of the user named inside.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from rxapp.models import SpentLink
from rxapp.services import secretbox

_MAX_TOKEN = 2048


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(purpose: str, payload: dict[str, Any], *, now: datetime, ttl_seconds: int) -> str:
    """A token for `payload`, valid for `ttl_seconds` and only for `purpose`."""
    expires = int(now.timestamp()) + ttl_seconds
    body = _b64(json.dumps({"p": payload, "n": secrets.token_urlsafe(18), "exp": expires}).encode())
    mac = hmac.new(secretbox.derived_key(f"signed-link:{purpose}"), body.encode(), hashlib.sha256)
    return f"{body}.{_b64(mac.digest())}"


def verify(purpose: str, token: object, *, now: datetime) -> dict[str, Any] | None:
    """The payload of a valid, unexpired token for `purpose`, else None."""
    if (
        not isinstance(token, str)
        or len(token) > _MAX_TOKEN
        or not token.isascii()
        or token.count(".") != 1
    ):
        return None
    body, signature = token.split(".")
    expected = hmac.new(
        secretbox.derived_key(f"signed-link:{purpose}"), body.encode(), hashlib.sha256
    ).digest()
    try:
        if not hmac.compare_digest(expected, _unb64(signature)):
            return None
        data = json.loads(_unb64(body))
    except (ValueError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("exp"), int):
        return None
    if now.timestamp() >= data["exp"] or not isinstance(data.get("p"), dict):
        return None
    return data["p"]


def _nonce(token: str) -> object:
    try:
        return json.loads(_unb64(token.split(".")[0])).get("n")
    except (ValueError, AttributeError, json.JSONDecodeError):
        return None


def spend(db: Session, token: str, *, now: datetime) -> bool:
    """Use a link that `verify` accepted, once: True for the first use only (commits)."""
    nonce = _nonce(token)
    if not isinstance(nonce, str) or not nonce or len(nonce) > 64:
        return False
    db.exec(delete(SpentLink).where(col(SpentLink.spent_at) < now - timedelta(days=1)))
    try:
        db.add(SpentLink(nonce=nonce, spent_at=now))
        db.commit()
    except IntegrityError:
        db.rollback()
        return False
    return True
