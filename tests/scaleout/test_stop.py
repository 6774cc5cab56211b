"""Stopping the cluster as a service manager or Ctrl-C does: SIGTERM to its process group
leaves no process and nothing listening."""

from __future__ import annotations

import os
import signal
import socket

import psutil
import pytest

from rxapp.cluster import launch
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


def test_a_start_after_a_crash_ends_what_the_crashed_cluster_left(
    cluster_port: int, cluster_env
) -> None:
    """supervisord killed outright (kill -9 of the cluster's group) leaves nginx and the
    instances running, unsupervised; `make run-cluster` again ends them and starts."""
    crashed = cluster_process.start(cluster_port, cluster_env)
    again = None
    try:
        supervisord = next(
            p
            for p in psutil.Process(crashed.process.pid).children(recursive=True)
            if "supervisord" in " ".join(p.cmdline())
        )
        orphans = supervisord.children(recursive=True)  # nginx and the instances
        os.killpg(crashed.process.pid, signal.SIGKILL)
        crashed.process.wait(timeout=10)
        cluster_process.wait_for(
            lambda: not cluster_process.alive([supervisord]), timeout=10, what="supervisord gone"
        )
        assert cluster_process.alive(orphans) and _answers(cluster_port)

        again = launch.start(cluster_port, crashed.env)  # the same run folder, as make does

        assert any("a crashed cluster left running" in line for line in again.output)
        assert cluster_process.alive(orphans) == []
        assert _answers(cluster_port)
    finally:
        if again is not None:
            launch.stop(again)
        cluster_process.remove(crashed)
