"""The environment of an operator about to run `make run-cluster`."""

from __future__ import annotations

import pytest

from rxapp.settings import get_settings

CLUSTER_VARIABLES = (
    "REFLEX_DB_URL", "REFLEX_REDIS_URL", "RXAPP_SECRET_KEY", "REFLEX_API_URL",
    "REFLEX_FRONTEND_PORT", "RXAPP_INSTANCES", "RXAPP_LISTEN", "RXAPP_BACKEND_HOST",
    "RXAPP_TLS_CERT", "RXAPP_TLS_KEY", "RXAPP_DEBUG_ROUTING", "GRANIAN_WORKERS",
    "SQLALCHEMY_POOL_SIZE", "SQLALCHEMY_MAX_OVERFLOW", "REFLEX_REDIS_MAX_CONNECTIONS",
)  # fmt: skip


@pytest.fixture
def operator_env(monkeypatch, tmp_path):
    """Every cluster variable unset except a working minimum; yields monkeypatch. The
    process's settings are read afresh with them, and again once the test is over."""
    for name in CLUSTER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REFLEX_DB_URL", "postgresql+psycopg://db.internal/rxapp")
    monkeypatch.setenv("REFLEX_REDIS_URL", "redis://cache.internal/1")
    monkeypatch.setenv("RXAPP_SECRET_KEY", "k")
    monkeypatch.setenv("RXAPP_CLUSTER_DIR", str(tmp_path / "run"))
    # A checkout of its own: its run lock and leftovers are not the real checkout's (a test
    # that gets as far as taking the lock must not meet another worker's, or a make run).
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "rxconfig.py").write_text("# a stand-in: the cluster's start finds its checkout\n")
    monkeypatch.setenv("RXAPP_PROJECT_DIR", str(checkout))
    get_settings.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()
