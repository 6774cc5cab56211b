"""The key must open the TOTP secrets already stored, or nothing starts."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlmodel import Session

from rxapp.services import accounts, secretbox
from rxapp.services.database import engine_for
from rxapp.services.key_check import check_key
from tests.conftest import secret_key_set_to

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
PROJECT_ROOT = Path(__file__).resolve().parents[3]


def _with_a_secret(db_url: str) -> None:
    with Session(engine_for(db_url)) as db:
        user = accounts.create_user(db, "dora@example.com", "dora's own password", now=NOW)
        user.totp_secret = secretbox.encrypt("JBSWY3DPEHPK3PXP")
        db.add(user)
        db.commit()


def test_the_key_the_secrets_were_made_with_passes_another_is_refused(sqlite_db_url):
    check_key(sqlite_db_url)  # no secret stored yet: nothing to check
    _with_a_secret(sqlite_db_url)
    check_key(sqlite_db_url)
    with (
        secret_key_set_to(Fernet.generate_key().decode()),
        pytest.raises(secretbox.SecretKeyError) as refused,
    ):
        check_key(sqlite_db_url)
    assert str(refused.value).startswith(
        "RXAPP_SECRET_KEY does not decrypt the TOTP secrets stored in this database"
    )


def test_a_database_without_the_tables_yet_is_left_to_the_migrations(tmp_path):
    check_key(f"sqlite:///{tmp_path / 'empty.db'}")


def test_the_app_does_not_start_with_a_key_that_does_not_open_the_secrets(sqlite_db_url):
    _with_a_secret(sqlite_db_url)
    env = {**os.environ, "REFLEX_DB_URL": sqlite_db_url}
    env["RXAPP_SECRET_KEY"] = Fernet.generate_key().decode()
    started = subprocess.run(  # importing the app is what every server process does
        [sys.executable, "-c", "import rxapp.rxapp"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert started.returncode == 1
    assert started.stderr.strip().startswith(
        "rxapp: error: RXAPP_SECRET_KEY does not decrypt the TOTP secrets stored"
    )
    assert "Traceback" not in started.stderr
