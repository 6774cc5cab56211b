"""`python -m rxapp.cluster` (make run-cluster): several app instances behind one address.

The frontend is built once; each instance is a separate `reflex run --env prod
--backend-only` process on its own port; nginx serves the built frontend and spreads the
websocket and HTTP traffic over the instances. They share PostgreSQL (REFLEX_DB_URL) and
Redis (REFLEX_REDIS_URL, Reflex's state manager), so any instance can serve any browser.

A browser carrying the cookie `rxapp_instance=N` is sent to instance N while it is up (and
to the others when it is not): for debugging one instance, and for the scale-out tests.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from rxapp import runtime
from rxapp.closed_network import apply_closed_network_settings
from rxapp.runtime import free_port, isolated_copy, project_root

NGINX_HELP = (
    "nginx is needed as the reverse proxy: install Debian's package with "
    "`apt-get install nginx-light` (as root), then run this again."
)
# Paths the backend answers; everything else is the built frontend.
BACKEND_PATHS = r"^/(_event|_upload|_health|_all_routes|ping|auth-codespace|api/)"


class ClusterError(RuntimeError):
    """A reason the cluster cannot start, for people."""


@dataclass
class Instance:
    """One app instance: a backend process on its own port."""

    number: int
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None


@dataclass
class Cluster:
    """N instances and an nginx in front of them, all on loopback."""

    port: int
    db_url: str
    redis_url: str
    secret_key: str
    instances: int = 2
    workers_per_instance: int = 1
    # nginx's workers run as an unprivileged user: the folder must be readable by others,
    # so it is made in the system's temporary folder rather than in a private one.
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="rxapp-cluster-")))
    root: Path = field(default_factory=project_root)
    members: list[Instance] = field(default_factory=list)
    _nginx: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The one address browsers use."""
        return f"http://localhost:{self.port}"

    def env(self) -> dict[str, str]:
        """The environment every instance shares."""
        env = apply_closed_network_settings(dict(os.environ))
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
        env.update(
            REFLEX_DB_URL=self.db_url,
            REFLEX_REDIS_URL=self.redis_url,
            RXAPP_SECRET_KEY=self.secret_key,
            REFLEX_API_URL=self.url,
            GRANIAN_WORKERS=str(self.workers_per_instance),
        )
        for name in ("REFLEX_FRONTEND_PORT", "REFLEX_BACKEND_PORT"):
            env.pop(name, None)
        return env

    def build(self) -> None:
        """Apply migrations and build the frontend once, pointed at the proxy's address."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o755)  # nginx workers read their temp folders under it
        if self.root == project_root():
            # Build in a copy, so that a `make run` of the same checkout is left alone.
            self.root = isolated_copy(self.root, self.workdir / "app")
        runtime.migrate(self.db_url, cwd=self.root, env=self.env())
        built = runtime.reflex(
            "export", "--frontend-only", "--no-zip", "--env", "prod", cwd=self.root, env=self.env()
        )
        (self.workdir / "build.log").write_text(built.stdout + built.stderr)
        if built.returncode != 0:
            raise ClusterError(
                f"the frontend build failed:\n{(built.stdout + built.stderr)[-3000:]}"
            )

    def start(self, *, timeout: float = 120) -> Cluster:
        """Start every instance and the proxy; return when all answer."""
        if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
            raise ClusterError(NGINX_HELP)
        if not self.members:
            self.members = [
                Instance(n, free_port(), self.workdir / f"instance-{n}.log")
                for n in range(1, self.instances + 1)
            ]
        try:
            for member in self.members:
                self.start_instance(member.number, wait=False)
            self._start_nginx()
            deadline = time.monotonic() + timeout
            for member in self.members:
                self._wait(f"http://127.0.0.1:{member.port}/ping", deadline, member)
            self._wait(f"http://127.0.0.1:{self.port}/ping", deadline)
            self._wait(f"http://127.0.0.1:{self.port}/login", deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def start_instance(self, number: int, *, wait: bool = True, timeout: float = 120) -> None:
        """(Re)start instance `number` on its port."""
        member = self.members[number - 1]
        if member.process is not None and member.process.poll() is None:
            return
        member.process = runtime.start_reflex(
            "run", "--env", "prod", "--backend-only", "--backend-port", str(member.port),
            cwd=self.root, env=self.env(), log_path=member.log_path,
        )  # fmt: skip
        if wait:
            self._wait(f"http://127.0.0.1:{member.port}/ping", time.monotonic() + timeout, member)

    def kill_instance(self, number: int) -> None:
        """Kill instance `number` at once, as a crash would."""
        member = self.members[number - 1]
        process, member.process = member.process, None
        runtime.stop_group(process, grace=0)

    def _nginx_config(self) -> str:
        pool = "\n".join(
            f"    server 127.0.0.1:{m.port} max_fails=1 fail_timeout=2s;" for m in self.members
        )
        pinned = []
        cookie_map = []
        for member in self.members:
            others = "\n".join(
                f"    server 127.0.0.1:{o.port} backup;" for o in self.members if o is not member
            )
            pinned.append(
                f"  upstream rxapp_instance_{member.number} {{\n"
                f"    server 127.0.0.1:{member.port} max_fails=1 fail_timeout=2s;\n{others}\n  }}"
            )
            cookie_map.append(f'    "{member.number}" rxapp_instance_{member.number};')
        static = (self.root / ".web" / "build" / "client").resolve()
        temp = self.workdir
        return f"""
worker_processes 1;
pid {temp}/nginx.pid;
error_log {temp}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  # $uri, not $request: query strings (e.g. a signed export link) stay out of the log.
  log_format upstreams '$remote_addr [$time_local] "$request_method $uri" $status '
                       'upstream=$upstream_addr';
  access_log {temp}/nginx-access.log upstreams;
  client_body_temp_path {temp}/client_body;
  proxy_temp_path {temp}/proxy;
  fastcgi_temp_path {temp}/fastcgi;
  uwsgi_temp_path {temp}/uwsgi;
  scgi_temp_path {temp}/scgi;
  sendfile on;
  gzip_static on;

  upstream rxapp_pool {{
{pool}
  }}
{chr(10).join(pinned)}
  map $cookie_rxapp_instance $rxapp_upstream {{
    default rxapp_pool;
{chr(10).join(cookie_map)}
  }}
  map $http_upgrade $connection_upgrade {{
    default upgrade;
    '' close;
  }}

  server {{
    listen 127.0.0.1:{self.port};
    server_name localhost;
    root {static};

    location ~ {BACKEND_PATHS} {{
      proxy_pass http://$rxapp_upstream;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_read_timeout 1h;
      proxy_buffering off;
      proxy_next_upstream error timeout http_502 http_503;
      proxy_connect_timeout 2s;
    }}

    location / {{
      try_files $uri $uri.html $uri/index.html =404;
    }}
    error_page 404 /404.html;
  }}
}}
"""

    def _start_nginx(self) -> None:
        config = self.workdir / "nginx.conf"
        config.write_text(self._nginx_config())
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        log = (self.workdir / "nginx.log").open("ab")
        self._nginx = subprocess.Popen(  # noqa: S603
            [nginx, "-c", str(config), "-p", str(self.workdir), "-g", "daemon off;"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _wait(self, url: str, deadline: float, member: Instance | None = None) -> None:
        while time.monotonic() < deadline:
            if (
                member is not None
                and member.process is not None
                and member.process.poll() is not None
            ):
                raise ClusterError(
                    f"instance {member.number} exited:\n{member.log_path.read_text()[-3000:]}"
                )
            if self._nginx is not None and self._nginx.poll() is not None:
                raise ClusterError(f"nginx exited:\n{(self.workdir / 'nginx.log').read_text()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as reply:  # noqa: S310
                    if reply.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise ClusterError(f"{url} did not answer in time")

    def stop(self) -> None:
        """Stop the proxy and every instance."""
        for member in self.members:
            process, member.process = member.process, None
            runtime.stop_group(process)
        if self._nginx is not None and self._nginx.poll() is None:
            self._nginx.terminate()
            self._nginx.wait(timeout=10)
        self._nginx = None


def _required(name: str, hint: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ClusterError(f"{name} is not set: {hint}")
    return value


def main(argv: list[str] | None = None) -> int:
    """Run the cluster in the foreground until Ctrl-C."""
    apply_closed_network_settings()
    parser = argparse.ArgumentParser(prog="python -m rxapp.cluster")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("REFLEX_FRONTEND_PORT") or 3000)
    )
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1, help="backend workers per instance")
    args = parser.parse_args(argv)
    try:
        if args.instances < 1 or args.workers < 1:
            raise ClusterError("--instances and --workers must be at least 1")
        db_url = _required(
            "REFLEX_DB_URL", "e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test"
        )
        if db_url.startswith("sqlite"):
            raise ClusterError(
                "several instances need a server database: set REFLEX_DB_URL to PostgreSQL"
            )
        cluster = Cluster(
            port=args.port,
            db_url=db_url,
            redis_url=_required("REFLEX_REDIS_URL", "e.g. redis://127.0.0.1:6379/0"),
            secret_key=_required(
                "RXAPP_SECRET_KEY",
                "every instance must decrypt the same TOTP secrets; make a key with "
                "python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'",
            ),
            instances=args.instances,
            workers_per_instance=args.workers,
        )
        print(f"rxapp cluster: building in {cluster.workdir} ...", flush=True)
        cluster.build()
        cluster.start()
    except ClusterError as error:
        print(f"rxapp: error: {error}", file=sys.stderr)
        return 1
    ports = ", ".join(str(m.port) for m in cluster.members)
    print(
        f"rxapp cluster: {args.instances} instances (ports {ports}) behind {cluster.url}",
        flush=True,
    )
    print(f"logs in {cluster.workdir}; Ctrl-C stops everything", flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
