"""Every setting is checked when read: a bad one is one clear sentence, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rxapp.settings import SettingsError, get_settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def setting(monkeypatch):
    """Set one variable and read the settings afresh (and afresh again afterwards)."""

    def read(name: str, value: str):
        monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        return get_settings()

    yield read
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("REFLEX_DB_URL", "garbage", "REFLEX_DB_URL is not a database URL"),
        ("REFLEX_DB_URL", "postgresq+psycopg://u@h/d", "a database this app cannot open"),
        ("REFLEX_DB_URL", "postgresql+psycopg://u@h:abc/d", "REFLEX_DB_URL is not a database URL"),
        ("RXAPP_SESSION_HOURS", "abc", "RXAPP_SESSION_HOURS must be a whole number"),
        ("RXAPP_SESSION_HOURS", "\u0661\u0662", "RXAPP_SESSION_HOURS must be a whole number"),
        ("RXAPP_SESSION_HOURS", "999999999", "RXAPP_SESSION_HOURS must be between 1 and 8,784"),
        ("RXAPP_SESSION_HOURS", "9" * 20, "RXAPP_SESSION_HOURS must be between 1 and 8,784"),
        ("RXAPP_SESSION_IDLE_MINUTES", "0", "must be between 1 and 527,040"),
        ("RXAPP_BACKUP_REVEAL_SECONDS", "86400", "must be between 1 and 3,600"),
        ("RXAPP_TRUSTED_PROXY_HOPS", "99", "must be between 0 and 10"),
        ("RXAPP_ISSUER", "x" * 1600, "RXAPP_ISSUER must be at most 100 characters"),
        ("REFLEX_REDIS_URL", "notredis", "REFLEX_REDIS_URL must start with redis://"),
        ("REFLEX_FRONTEND_PORT", "abc", "REFLEX_FRONTEND_PORT must be a port number"),
        ("REFLEX_BACKEND_PORT", "70000", "REFLEX_BACKEND_PORT must be a port number"),
        ("RXAPP_TRUSTED_PROXY_HOPS", "one", "RXAPP_TRUSTED_PROXY_HOPS must be a whole number"),
        ("RXAPP_ALLOWED_ORIGINS", "https://ok.example, garbage", "each entry of"),
        ("RXAPP_ALLOWED_ORIGINS", "http://[::1", "must look like https://host[:port]"),
        ("RXAPP_ALLOWED_ORIGINS", "login.example.com", "must look like https://host[:port]"),
        ("RXAPP_ORIGIN", "https://portal.example/path", "RXAPP_ORIGIN must look like"),
    ],
)
def test_a_bad_setting_is_one_sentence_naming_it(setting, name, value, message):
    with pytest.raises(SettingsError) as refused:
        setting(name, value)
    assert message in str(refused.value)


def test_good_settings_are_read(setting):
    assert setting("RXAPP_TRUSTED_PROXY_HOPS", "2").trusted_proxy_hops == 2
    origins = setting("RXAPP_ALLOWED_ORIGINS", " HTTPS://A.example ,http://b:8080/ ,")
    assert origins.allowed_origins == ("https://a.example", "http://b:8080")  # as sent


def test_a_database_url_with_a_password_is_never_quoted(setting):
    with pytest.raises(SettingsError) as refused:
        setting("REFLEX_DB_URL", "postgresq://admin:secret@db/x")
    assert "secret" not in str(refused.value)


@pytest.mark.parametrize(
    ("name", "value"), [("RXAPP_SESSION_HOURS", "abc"), ("REFLEX_DB_URL", "garbage")]
)
def test_every_reflex_command_stops_at_a_bad_setting_with_one_line(name, value):
    """rxconfig.py is read first by `reflex db migrate`, `reflex run` and every instance."""
    done = subprocess.run(
        [sys.executable, "-c", "import rxconfig"],
        cwd=PROJECT_ROOT,
        env={"PATH": "/usr/bin:/bin", name: value},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("rxapp: error: ") and done.stderr.count("\n") == 1
