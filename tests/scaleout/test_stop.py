"""Stopping the cluster as a service manager or Ctrl-C does: SIGTERM to its process group
leaves no process and nothing listening."""

from __future__ import annotations

import socket

import psutil
import pytest

from tests.scaleout import cluster_process

pytestmark = pytest.mark.e2e


def _answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_sigterm_to_the_group_stops_everything(cluster_port: int, cluster_env) -> None:
    running = cluster_process.start(cluster_port, cluster_env)
    try:
        ports = [cluster_port, *running.ports]
        assert all(_answers(port) for port in ports)
        everything = psutil.Process(running.process.pid).children(recursive=True)
        names = " ".join(" ".join(p.cmdline()) for p in everything)
        assert "supervisord" in names and "nginx" in names and names.count("reflex run") >= 2

        assert cluster_process.stop(running, timeout=30) == 0
    finally:
        cluster_process.stop(running)
        cluster_process.remove(running)

    assert cluster_process.alive(everything) == []
    assert [port for port in ports if _answers(port)] == []
