"""supervisord's configuration, and status/restart against a real supervisord running
stand-in programs."""

from __future__ import annotations

import configparser
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rxapp.cluster import config, supervisor


def _parsed(operator_env) -> configparser.ConfigParser:
    loaded = config.load()
    text = supervisor.render(loaded, [4101, 4102], nginx="/usr/sbin/nginx", project=Path("/app"))
    parsed = configparser.ConfigParser(interpolation=None)
    parsed.read_string(text)
    return parsed


def test_every_instance_is_restarted_stopped_as_a_group_and_rotates_its_log(operator_env):
    parsed = _parsed(operator_env)
    for number, port in ((1, 4101), (2, 4102)):
        program = parsed[f"program:instance-{number}"]
        assert program["command"].endswith(f"-m rxapp.cluster.instance 127.0.0.1 {port}")
        assert program["autorestart"] == "true"
        assert program["stopasgroup"] == program["killasgroup"] == "true"
        assert int(program["startsecs"]) > 0 and program["stdout_logfile_maxbytes"] == "10MB"
    proxy = parsed["program:nginx"]
    assert "daemon off;" in proxy["command"] and proxy["autorestart"] == "true"
    assert parsed["supervisord"]["nodaemon"] == "true"


def test_no_secret_is_written_to_the_configuration(operator_env):
    operator_env.setenv("RXAPP_SECRET_KEY", "very-secret-key")
    operator_env.setenv("REFLEX_DB_URL", "postgresql+psycopg://app:db-password@db/rxapp")
    loaded = config.load()
    path = supervisor.write(loaded, [4101], nginx="nginx", project=Path("/app"))
    text = path.read_text() + (loaded.run_dir / supervisor.LAYOUT_FILE).read_text()
    assert "very-secret-key" not in text and "db-password" not in text


STAND_IN = """
[supervisord]
nodaemon=true
logfile={run}/supervisord.log
pidfile={run}/supervisord.pid
[unix_http_server]
file={run}/supervisord.sock
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
"""
PROGRAM = """
[program:instance-{n}]
command={python} -c "import time; time.sleep(600)"
startsecs=1
autorestart=true
stopasgroup=true
killasgroup=true
"""


@pytest.fixture
def stand_in(tmp_path):
    """A supervisord with two sleeping `instance-N` programs, as `make run-cluster` lays out."""
    run = tmp_path
    text = STAND_IN.format(run=run) + "".join(
        PROGRAM.format(n=n, python=sys.executable) for n in (1, 2)
    )
    (run / "supervisord.conf").write_text(text)
    (run / supervisor.LAYOUT_FILE).write_text(
        json.dumps({"url": "http://localhost:1", "ports": [4101, 4102], "backend_host": "x"})
    )
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "supervisord"), "-c", str(run / "supervisord.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if all(s.state == "RUNNING" for s in supervisor.Supervisor(run).status()):
                break
        except config.ClusterError:
            pass
        time.sleep(0.2)
    yield supervisor.Supervisor(run)
    process.terminate()
    process.wait(timeout=30)


def test_status_is_one_line_per_instance_and_restart_gives_a_new_pid(stand_in):
    lines = [s.line() for s in stand_in.status()]
    assert [line.split()[0] for line in lines] == ["instance-1", "instance-2"]
    assert lines[0].startswith("instance-1 RUNNING pid ") and lines[0].endswith(" port 4101")
    before = stand_in.status()
    after = stand_in.restart("2")
    assert after.state == "RUNNING" and after.pid != before[1].pid
    assert stand_in.status()[0].pid == before[0].pid


@pytest.mark.parametrize(
    ("number", "message"),
    [("3", "no instance 3"), ("0", "no instance 0"), ("two", "must be a number"), ("-1", "number")],
)
def test_restart_refuses_bad_numbers(stand_in, number, message):
    with pytest.raises(config.ClusterError, match=message):
        stand_in.restart(number)


def test_no_running_cluster_is_one_clear_error(tmp_path):
    with pytest.raises(config.ClusterError, match="no cluster is running"):
        supervisor.Supervisor(tmp_path)
    (tmp_path / "supervisord.sock").write_text("")
    (tmp_path / supervisor.LAYOUT_FILE).write_text(json.dumps({"ports": [1]}))
    with pytest.raises(config.ClusterError, match="does not answer"):
        supervisor.Supervisor(tmp_path).status()
