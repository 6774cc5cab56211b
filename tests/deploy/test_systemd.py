"""deploy/systemd: the cluster's topology as systemd units, checked by systemd itself
(`systemd-analyze verify`, which needs no running systemd)."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

from rxapp.runtime import project_root
from tests.conftest import SERVICES_REQUIRED

UNITS = project_root() / "deploy" / "systemd"
INSTALLED_AT = "/opt/rxapp"
CLOSED_NETWORK = (
    "REFLEX_USE_NPM=1",
    "REFLEX_TELEMETRY_ENABLED=false",
    "REFLEX_CHECK_LATEST_VERSION=false",
    "REFLEX_HTTP_CLIENT_BIND_ADDRESS=0.0.0.0",
)


def _unit(name: str) -> configparser.ConfigParser:
    parsed = configparser.ConfigParser(strict=False, interpolation=None)
    parsed.optionxform = str  # systemd keys are case-sensitive
    parsed.read_string((UNITS / name).read_text())
    return parsed


def _all_values(name: str, key: str) -> str:
    return " ".join(
        line.split("=", 1)[1]
        for line in (UNITS / name).read_text().splitlines()
        if line.startswith(f"{key}=")
    )


def test_systemd_accepts_every_unit(tmp_path: Path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        message = "systemd-analyze is missing (Debian package `systemd`)"
        if SERVICES_REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    # The units name the installed paths; verify them against this checkout's venv.
    for unit in UNITS.glob("*.service"):
        text = unit.read_text().replace(INSTALLED_AT, str(project_root()))
        (tmp_path / unit.name).write_text(text)
    (tmp_path / "rxapp@8001.service").symlink_to(tmp_path / "rxapp@.service")
    result = subprocess.run(
        [analyze, "verify", "--man=no", *(str(tmp_path / n) for n in (
            "rxapp@8001.service", "rxapp-migrate.service", "rxapp-nginx.service"))],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    # verify only warns about unknown keys or values: any output is a mistake.
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


def test_instances_restart_stop_as_a_group_and_wait_for_the_migration():
    instance = _unit("rxapp@.service")
    assert instance["Service"]["Restart"] == "always"
    assert instance["Service"]["KillMode"] == "control-group"
    assert "rxapp-migrate.service" in instance["Unit"]["Requires"]
    assert "rxapp-migrate.service" in instance["Unit"]["After"]
    command = instance["Service"]["ExecStart"]
    assert "--backend-only" in command and "--backend-port %i" in command
    assert "--backend-host ${RXAPP_BACKEND_HOST}" in command

    migrate = _unit("rxapp-migrate.service")["Service"]
    assert migrate["Type"] == "oneshot" and migrate["ExecStart"].endswith(
        "-m rxapp.cluster migrate"
    )

    proxy = _unit("rxapp-nginx.service")["Service"]
    assert "daemon off;" in proxy["ExecStart"]


@pytest.mark.parametrize("name", ["rxapp@.service", "rxapp-migrate.service", "rxapp-nginx.service"])
def test_every_unit_keeps_the_closed_network_settings(name):
    environment = _all_values(name, "Environment")
    assert all(setting in environment for setting in CLOSED_NETWORK)


def test_the_example_environment_names_every_variable_the_units_use():
    example = (UNITS / "rxapp.env.example").read_text()
    for name in (
        "REFLEX_DB_URL",
        "REFLEX_REDIS_URL",
        "RXAPP_SECRET_KEY",
        "RXAPP_BACKEND_HOST",
        "RXAPP_UPSTREAMS",
        "SQLALCHEMY_POOL_SIZE",
        "REFLEX_REDIS_MAX_CONNECTIONS",
    ):
        assert f"\n{name}=" in example
