"""supervisord: its configuration (from templates/), and talking to a running one."""

from __future__ import annotations

import json
import socket
import sys
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from rxapp.cluster.config import ClusterConfig, ClusterError
from rxapp.whole_numbers import parse_whole

TEMPLATES = Path(__file__).resolve().parent / "templates"
LAYOUT_FILE = "cluster.json"


@dataclass(frozen=True)
class InstanceStatus:
    """What supervisord reports about one instance."""

    number: int
    state: str
    pid: int
    port: int

    def line(self) -> str:
        """`instance-N RUNNING pid P port Q` (pid only while it has one)."""
        pid = f" pid {self.pid}" if self.pid else ""
        return f"instance-{self.number} {self.state}{pid} port {self.port}"


def render(config: ClusterConfig, ports: list[int], *, nginx: str, project: Path) -> str:
    """supervisord.conf for one instance per port, nginx and the readiness line."""
    common = {"run_dir": config.run_dir, "python": sys.executable, "project": project}
    instance = Template((TEMPLATES / "instance.conf").read_text())
    programs = "".join(
        instance.substitute(common, number=n, host=config.backend_host, port=port)
        for n, port in enumerate(ports, start=1)
    )
    return Template((TEMPLATES / "supervisord.conf").read_text()).substitute(
        common, instances=programs, nginx=nginx
    )


def write(config: ClusterConfig, ports: list[int], *, nginx: str, project: Path) -> Path:
    """Write supervisord.conf and the instance layout into the run directory."""
    (config.run_dir / "logs").mkdir(parents=True, exist_ok=True)
    path = config.run_dir / "supervisord.conf"
    path.write_text(render(config, ports, nginx=nginx, project=project))
    layout = {"url": config.url, "ports": ports, "backend_host": config.backend_host}
    (config.run_dir / LAYOUT_FILE).write_text(json.dumps(layout))
    return path


class _UnixTransport(xmlrpc.client.Transport):
    """XML-RPC over supervisord's unix socket."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._path = str(path)

    def make_connection(self, host: Any) -> Any:
        connection = super().make_connection(host)
        unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        unix.settimeout(30)
        unix.connect(self._path)
        connection.sock = unix
        return connection


class Supervisor:
    """A running cluster's supervisord, found through its run directory."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        socket_path = run_dir / "supervisord.sock"
        layout = run_dir / LAYOUT_FILE
        if not socket_path.exists() or not layout.exists():
            raise ClusterError(
                f"no cluster is running (nothing in {run_dir}); start one with `make run-cluster`"
            )
        self.ports: list[int] = json.loads(layout.read_text())["ports"]
        self._rpc = xmlrpc.client.ServerProxy(
            "http://localhost", transport=_UnixTransport(socket_path)
        ).supervisor

    def _call(self, method: str, *args: object) -> Any:
        try:
            return getattr(self._rpc, method)(*args)
        except OSError:
            raise ClusterError(
                f"no cluster is running (supervisord in {self.run_dir} does not answer); "
                "start one with `make run-cluster`"
            ) from None
        except xmlrpc.client.Fault as fault:
            raise ClusterError(f"supervisord refused: {fault.faultString}") from None

    def status(self) -> list[InstanceStatus]:
        """One entry per instance, in order."""
        infos = {info["name"]: info for info in self._call("getAllProcessInfo")}
        result = []
        for number, port in enumerate(self.ports, start=1):
            info = infos.get(f"instance-{number}", {"statename": "UNKNOWN", "pid": 0})
            result.append(InstanceStatus(number, info["statename"], info["pid"], port))
        return result

    def restart(self, number: str | int) -> InstanceStatus:
        """Stop and start instance `number` (1-based); wait until it is RUNNING."""
        text = str(number).strip()
        index = parse_whole(text)
        if index is None:
            raise ClusterError(f"the instance must be a number, got {text!r}")
        if not 1 <= index <= len(self.ports):
            raise ClusterError(
                f"there is no instance {index}: this cluster has instances 1 to {len(self.ports)}"
            )
        name = f"instance-{index}"
        if self._call("getProcessInfo", name)["statename"] in {"RUNNING", "STARTING"}:
            self._call("stopProcess", name, True)
        self._call("startProcess", name, True)
        return self.status()[index - 1]
