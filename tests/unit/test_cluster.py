"""rxapp.cluster without starting anything: its checks, and the proxy it would configure."""

from __future__ import annotations

from pathlib import Path

import pytest

from rxapp import cluster as cluster_module
from rxapp.cluster import Cluster, Instance


@pytest.fixture
def env(monkeypatch):
    for name in ("REFLEX_DB_URL", "REFLEX_REDIS_URL", "RXAPP_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, "REFLEX_DB_URL is not set"),
        ({"REFLEX_DB_URL": "sqlite:///x.db"}, "server database"),
        ({"REFLEX_DB_URL": "postgresql+psycopg://h/db"}, "REFLEX_REDIS_URL is not set"),
        (
            {"REFLEX_DB_URL": "postgresql+psycopg://h/db", "REFLEX_REDIS_URL": "redis://h"},
            "RXAPP_SECRET_KEY is not set",
        ),
    ],
)
def test_missing_or_unsuitable_settings_stop_with_a_clear_message(env, capsys, settings, message):
    for name, value in settings.items():
        env.setenv(name, value)
    assert cluster_module.main(["--port", "3999"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("rxapp: error:") and message in error
    assert "Traceback" not in error


def test_zero_instances_is_refused(env, capsys):
    assert cluster_module.main(["--instances", "0"]) == 1
    assert "at least 1" in capsys.readouterr().err


def test_the_proxy_spreads_over_every_instance_and_pins_by_cookie(tmp_path: Path):
    running = Cluster(
        port=4100,
        db_url="postgresql+psycopg://h/db",
        redis_url="redis://h",
        secret_key="k",
        workdir=tmp_path,
        root=tmp_path,
    )
    running.members = [Instance(1, 4101, tmp_path / "1.log"), Instance(2, 4102, tmp_path / "2.log")]
    config = running._nginx_config()
    assert "listen 127.0.0.1:4100;" in config
    pool = config.split("upstream rxapp_pool {")[1].split("}")[0]
    assert "127.0.0.1:4101" in pool and "127.0.0.1:4102" in pool
    pinned_1 = config.split("upstream rxapp_instance_1 {")[1].split("}")[0]
    assert (
        "server 127.0.0.1:4101 max_fails" in pinned_1 and "server 127.0.0.1:4102 backup" in pinned_1
    )
    assert '"2" rxapp_instance_2;' in config
    assert "proxy_set_header Upgrade $http_upgrade;" in config  # websockets pass through
    assert str(tmp_path / ".web" / "build" / "client") in config
