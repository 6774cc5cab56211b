"""Fixtures for the second-factor service tests (totp, secretbox, throttle, backup codes,
mfa): a known encryption key, and settings read afresh around each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet

from rxapp.services import secretbox
from rxapp.settings import get_settings


def clear_setting_caches() -> None:
    """Forget the cached settings and cipher, so the next call reads the environment."""
    get_settings.cache_clear()
    secretbox.forget_keys()


@pytest.fixture
def secret_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """RXAPP_SECRET_KEY set to a fresh Fernet key, with the documented default issuer."""
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("RXAPP_SECRET_KEY", key)
    monkeypatch.delenv("RXAPP_ISSUER", raising=False)
    clear_setting_caches()
    yield key
    clear_setting_caches()
