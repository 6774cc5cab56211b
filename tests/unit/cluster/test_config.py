"""The cluster's settings: safe defaults, and one clear line for each unusable value."""

from __future__ import annotations

import socket

import pytest

from rxapp.cluster import __main__ as cluster_main
from rxapp.cluster import config
from rxapp.cluster.__main__ import main
from rxapp.cluster.nginx import nginx_executable
from rxapp.runtime import free_port


def test_defaults_keep_backends_private_and_budgets_explicit(operator_env, tmp_path):
    loaded = config.load()
    assert (loaded.port, loaded.instances, loaded.listen) == (3000, 2, "3000")
    assert loaded.backend_host == "127.0.0.1"
    assert loaded.debug_routing is False and loaded.tls_cert is None
    assert loaded.run_dir == tmp_path / "run"
    env = loaded.instance_env()
    assert env["SQLALCHEMY_POOL_SIZE"] == "5" and env["SQLALCHEMY_MAX_OVERFLOW"] == "5"
    assert env["REFLEX_REDIS_MAX_CONNECTIONS"] == "16"
    assert env["REFLEX_IGNORE_REDIS_CONFIG_ERROR"] == "true"
    assert env["REFLEX_API_URL"] == "http://localhost:3000"


def test_the_operator_sets_address_budgets_and_debug_routing(operator_env):
    for name, value in {
        "RXAPP_LISTEN": "10.0.0.5:8443",
        "RXAPP_BACKEND_HOST": "10.0.0.7",
        "RXAPP_DEBUG_ROUTING": "1",
        "SQLALCHEMY_POOL_SIZE": "8",
        "SQLALCHEMY_MAX_OVERFLOW": "0",
        "REFLEX_API_URL": "https://portal.example.com",
    }.items():
        operator_env.setenv(name, value)
    loaded = config.load(port=8443, instances=3)
    assert loaded.listen == "10.0.0.5:8443" and loaded.backend_host == "10.0.0.7"
    assert loaded.debug_routing and loaded.instances == 3
    assert loaded.instance_env()["SQLALCHEMY_POOL_SIZE"] == "8"
    assert loaded.api_url == "https://portal.example.com"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"REFLEX_DB_URL": ""}, "REFLEX_DB_URL is not set"),
        ({"REFLEX_DB_URL": "sqlite:///x.db"}, "server database"),
        ({"REFLEX_REDIS_URL": ""}, "REFLEX_REDIS_URL is not set"),
        ({"RXAPP_SECRET_KEY": ""}, "RXAPP_SECRET_KEY is not set"),
        ({"RXAPP_LISTEN": "every:where"}, "RXAPP_LISTEN must be"),
        ({"RXAPP_LISTEN": "70000"}, "RXAPP_LISTEN must be"),
        ({"RXAPP_TLS_CERT": "/etc/ssl/x.pem"}, "both RXAPP_TLS_CERT and RXAPP_TLS_KEY"),
        ({"RXAPP_TLS_CERT": "/nope.pem", "RXAPP_TLS_KEY": "/nope.key"}, "not found"),
        ({"SQLALCHEMY_POOL_SIZE": "lots"}, "SQLALCHEMY_POOL_SIZE must be a whole number"),
        ({"REFLEX_REDIS_MAX_CONNECTIONS": "2"}, "at least 3"),
    ],
)
def test_unusable_settings_stop_with_one_clear_line(operator_env, capsys, settings, message):
    for name, value in settings.items():
        operator_env.setenv(name, value)
    assert main(["--port", "3999", "run"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("rxapp: error:") and message in error
    assert "Traceback" not in error and error.count("\n") == 1


def test_zero_instances_is_refused(operator_env, capsys):
    assert main(["--instances", "0", "run"]) == 1
    assert "at least 1" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["3000", "127.0.0.1:3000", "[::]:443", "*:80"])
def test_listen_addresses_nginx_accepts(value):
    assert config.parse_listen(value) == value


def test_the_connection_budget_counts_every_pool_of_every_instance(operator_env):
    operator_env.setenv("SQLALCHEMY_POOL_SIZE", "10")
    operator_env.setenv("SQLALCHEMY_MAX_OVERFLOW", "10")
    assert config.load(instances=3).postgres_connections() == 3 * (10 + 10 + 15) + 5
    assert config.load(instances=2).postgres_connections() <= 100  # PostgreSQL's default


@pytest.fixture
def nginx_installed():
    try:
        nginx_executable()
    except config.ClusterError as error:
        pytest.skip(str(error))


def test_an_unreachable_redis_stops_with_one_clear_line(operator_env, nginx_installed, capsys):
    operator_env.setenv("REFLEX_REDIS_URL", "redis://127.0.0.1:1/0")
    assert main(["--port", "3999", "run"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("rxapp: error: Redis at REFLEX_REDIS_URL does not answer")
    assert "Traceback" not in error and error.count("\n") == 1


def test_an_unreachable_database_stops_with_one_clear_line(operator_env, nginx_installed, capsys):
    operator_env.setenv("REFLEX_DB_URL", "postgresql+psycopg://postgres@127.0.0.1:1/rxapp")
    operator_env.setattr(cluster_main, "_check_redis", lambda _config: None)
    assert main(["--port", "3999", "run"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("rxapp: error: the database at REFLEX_DB_URL:")
    assert "Traceback" not in error and error.count("\n") == 1


def test_a_port_in_use_stops_the_cluster_at_once_naming_it(operator_env, nginx_installed, capsys):
    """nginx would fail to bind and be restarted without end, for the 5 minutes of the
    readiness check, which whatever holds the port might even answer."""
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert main(["--port", str(port), "run"]) == 1
    error = capsys.readouterr().err
    assert error == (
        f"rxapp: error: nginx cannot listen on {port}: Address already in use (stop what "
        "uses that port, or choose another with PORT or RXAPP_LISTEN)\n"
    )


def test_a_bad_app_setting_stops_the_cluster_before_any_instance_starts(
    operator_env, nginx_installed, capsys
):
    operator_env.setenv("RXAPP_SESSION_HOURS", "abc")
    assert main(["--port", str(free_port()), "run"]) == 1
    assert capsys.readouterr().err == (
        "rxapp: error: RXAPP_SESSION_HOURS must be a whole number, got 'abc'\n"
    )


def test_every_interface_written_as_a_star_is_probed_as_nginx_reads_it(
    operator_env, nginx_installed, capsys
):
    operator_env.setenv("RXAPP_LISTEN", f"*:{free_port()}")
    operator_env.setattr(cluster_main, "_check_redis", _no_redis)
    assert main(["run"]) == 1
    assert capsys.readouterr().err == "rxapp: error: Redis is not there\n"  # past the probe


def _no_redis(_config: object) -> None:
    raise config.ClusterError("Redis is not there")
