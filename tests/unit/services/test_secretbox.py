"""Encryption at rest of TOTP secrets: the key from RXAPP_SECRET_KEY or a SQLite key file."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from rxapp.services import secretbox
from rxapp.services.secretbox import SecretKeyError
from rxapp.settings import get_settings

PLAINTEXT = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No key and no database URL from the outer environment; caches cleared around the test.

    After changing the environment a test calls `reread()`.
    """
    monkeypatch.delenv("RXAPP_SECRET_KEY", raising=False)
    monkeypatch.delenv("REFLEX_DB_URL", raising=False)
    reread()
    yield monkeypatch
    reread()


def reread() -> None:
    """Forget the cached settings and cipher, so the next call reads the environment."""
    get_settings.cache_clear()
    secretbox._fernet.cache_clear()


def use_key(env: pytest.MonkeyPatch, key: str) -> None:
    env.setenv("RXAPP_SECRET_KEY", key)
    reread()


def test_round_trip_with_the_configured_key(env):
    use_key(env, Fernet.generate_key().decode())

    stored = secretbox.encrypt(PLAINTEXT)

    assert secretbox.decrypt(stored) == PLAINTEXT


def test_ciphertext_does_not_contain_the_plaintext(env):
    use_key(env, Fernet.generate_key().decode())

    stored = secretbox.encrypt(PLAINTEXT)

    assert PLAINTEXT not in stored
    assert PLAINTEXT[:8] not in stored
    assert secretbox.encrypt(PLAINTEXT) != stored  # a fresh IV every time


def test_the_configured_key_is_the_one_used(env):
    key = Fernet.generate_key().decode()
    use_key(env, key)

    stored = secretbox.encrypt(PLAINTEXT)

    assert Fernet(key).decrypt(stored.encode()).decode() == PLAINTEXT


def test_decrypt_with_another_key_gives_none(env):
    use_key(env, Fernet.generate_key().decode())
    stored = secretbox.encrypt(PLAINTEXT)

    use_key(env, Fernet.generate_key().decode())

    assert secretbox.decrypt(stored) is None


@pytest.mark.parametrize("stored", ["", "not a token", "gAAAAAB" + "A" * 80, "\u00e9\u00e8"])
def test_decrypt_of_garbage_gives_none(env, stored):
    use_key(env, Fernet.generate_key().decode())

    assert secretbox.decrypt(stored) is None


def test_sqlite_without_key_creates_a_private_key_file_beside_the_database(env, tmp_path):
    database = tmp_path / "data" / "app.db"
    database.parent.mkdir()
    env.setenv("REFLEX_DB_URL", f"sqlite:///{database}")
    reread()

    stored = secretbox.encrypt(PLAINTEXT)

    key_file = database.with_suffix(".key")
    assert key_file.is_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_bytes().strip()
    assert Fernet(key).decrypt(stored.encode()).decode() == PLAINTEXT


def test_sqlite_key_file_is_reused_on_the_next_call(env, tmp_path):
    database = tmp_path / "app.db"
    env.setenv("REFLEX_DB_URL", f"sqlite:///{database}")
    reread()
    stored = secretbox.encrypt(PLAINTEXT)
    key_file = database.with_suffix(".key")
    first_key = key_file.read_bytes()

    reread()  # as a new process would: nothing cached

    assert secretbox.decrypt(stored) == PLAINTEXT
    assert secretbox.decrypt(secretbox.encrypt("other")) == "other"
    assert key_file.read_bytes() == first_key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_a_configured_key_wins_over_a_key_file(env, tmp_path):
    database = tmp_path / "app.db"
    env.setenv("REFLEX_DB_URL", f"sqlite:///{database}")
    key = Fernet.generate_key().decode()
    use_key(env, key)

    stored = secretbox.encrypt(PLAINTEXT)

    assert Fernet(key).decrypt(stored.encode()).decode() == PLAINTEXT
    assert not database.with_suffix(".key").exists()


def test_server_database_without_key_is_refused_with_a_message_naming_the_variable(env):
    env.setenv("REFLEX_DB_URL", "postgresql+psycopg://app:pw@db.example:5432/app")
    reread()

    with pytest.raises(SecretKeyError, match="RXAPP_SECRET_KEY"):
        secretbox.encrypt(PLAINTEXT)
    with pytest.raises(SecretKeyError, match="RXAPP_SECRET_KEY"):
        secretbox.box()


def test_in_memory_sqlite_without_key_is_refused(env):
    env.setenv("REFLEX_DB_URL", "sqlite:///:memory:")
    reread()

    with pytest.raises(SecretKeyError, match="RXAPP_SECRET_KEY"):
        secretbox.encrypt(PLAINTEXT)


@pytest.mark.parametrize(
    "bad_key",
    ["not-a-fernet-key", "c2hvcnQ=", Fernet.generate_key().decode()[:-4], "x" * 44],
    ids=["not-base64", "too-short", "truncated-real-key", "44-x"],
)
def test_malformed_configured_key_is_refused_without_echoing_it(env, bad_key):
    use_key(env, bad_key)

    with pytest.raises(SecretKeyError) as raised:
        secretbox.encrypt(PLAINTEXT)

    assert "RXAPP_SECRET_KEY" in str(raised.value)
    assert bad_key not in str(raised.value)


def test_malformed_key_file_is_refused(env, tmp_path):
    database = tmp_path / "app.db"
    key_file: Path = database.with_suffix(".key")
    key_file.write_bytes(b"not a key\n")
    key_file.chmod(0o600)
    env.setenv("REFLEX_DB_URL", f"sqlite:///{database}")
    reread()

    with pytest.raises(SecretKeyError, match=r"app\.key"):
        secretbox.encrypt(PLAINTEXT)


def test_a_key_file_that_cannot_be_made_is_one_clear_error(env, tmp_path):
    database = tmp_path / "missing" / "app.db"
    env.setenv("REFLEX_DB_URL", f"sqlite:///{database}")
    reread()

    with pytest.raises(SecretKeyError) as refused:
        secretbox.encrypt(PLAINTEXT)

    assert str(refused.value) == (
        f"the key file {tmp_path}/missing/app.key cannot be made: No such file or directory "
        "(set RXAPP_SECRET_KEY, or check the database's folder)"
    )
