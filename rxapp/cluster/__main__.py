"""`python -m rxapp.cluster [run|migrate|build|nginx-config]` (make run-cluster).

`run` (the default) migrates once, builds the frontend unless unchanged, writes nginx's and
supervisord's configuration into the run directory and runs supervisord in the foreground:
it restarts instances that die, and SIGTERM or Ctrl-C stops everything.
The line `rxapp cluster: ready on URL ...` says when browsers can come.
The other steps exist on their own for multi-host deployments (deploy/systemd/).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from rxapp.closed_network import apply_closed_network_settings
from rxapp.cluster import frontend, leftovers, migrate, nginx, ready, supervisor
from rxapp.cluster.config import ClusterConfig, ClusterError, load
from rxapp.redis_check import check_redis
from rxapp.run_lock import hold_run_lock
from rxapp.runtime import free_port, project_root
from rxapp.settings import SettingsError, get_settings
from rxapp.whole_numbers import parse_whole


def _environment(config: ClusterConfig) -> dict[str, str]:
    env = apply_closed_network_settings(dict(os.environ))
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.update(config.instance_env())
    for name in ("REFLEX_FRONTEND_PORT", "REFLEX_BACKEND_PORT"):
        env.pop(name, None)
    return env


def _say(message: str) -> None:
    print(f"rxapp cluster: {message}", flush=True)


def _migrate(config: ClusterConfig, env: dict[str, str]) -> None:
    applied = migrate.migrate_once(config.db_url, project=project_root(), env=env)
    _say("migrations applied" if applied else "database already up to date")


def _check_budget(config: ClusterConfig) -> None:
    needed, limit = config.postgres_connections(), migrate.max_connections(config.db_url)
    if needed > limit:
        _say(
            f"warning: the instances may open up to {needed} PostgreSQL connections, but "
            f"max_connections is {limit}: lower SQLALCHEMY_POOL_SIZE, SQLALCHEMY_MAX_OVERFLOW "
            "or the number of instances (README: Connection budgets)"
        )


def _build(config: ClusterConfig, env: dict[str, str]) -> None:
    _say(f"building the frontend for {config.api_url} (only when its inputs changed) ...")
    built = frontend.build(project_root(), env)
    _say("frontend built" if built else "frontend unchanged: reusing the last build")


def _check_redis(config: ClusterConfig) -> None:
    try:
        check_redis(config.redis_url)
    except SettingsError as error:
        raise ClusterError(str(error)) from None


def _check_key(config: ClusterConfig) -> None:
    """The key opens the stored TOTP secrets: the instances would refuse to start (and be
    restarted without end) otherwise."""
    from rxapp.services.key_check import check_key
    from rxapp.services.secretbox import SecretKeyError

    try:
        check_key(config.db_url)
    except SecretKeyError as error:
        raise ClusterError(str(error)) from None


def _check_listen_free(config: ClusterConfig) -> None:
    """nginx's address is free: nginx would otherwise fail to bind and be restarted
    without end, and a readiness check could even be answered by whatever holds it."""
    host, _, port = config.listen.rpartition(":")
    host = host.strip("[]")
    if host in ("", "*"):
        host = "0.0.0.0"  # noqa: S104 (nginx's own default: every interface)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:  # as nginx binds [::]: IPv6 only
            probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            probe.bind((host, int(port)))
        except PermissionError:
            return  # a low port this user may not bind; nginx may (setcap, root): its call
        except OSError as error:
            raise ClusterError(
                f"nginx cannot listen on {config.listen}: {error.strerror} (stop what uses "
                "that port, or choose another with PORT or RXAPP_LISTEN)"
            ) from None


def _check_not_running(folder: Path) -> None:
    if (folder / "supervisord.sock").exists():
        try:
            supervisor.Supervisor(folder).status()
        except ClusterError:
            (folder / "supervisord.sock").unlink(missing_ok=True)  # left by a crash
        else:
            raise ClusterError(f"a cluster is already running from {folder}")


def _check_nginx(executable: str, config: ClusterConfig, conf: Path) -> None:
    result = subprocess.run(  # noqa: S603
        [executable, "-t", "-q", "-c", str(conf), "-p", str(config.run_dir), "-g", "daemon off;"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise ClusterError(f"nginx refuses its configuration {conf}:\n{result.stderr.strip()}")


def run(args: argparse.Namespace) -> int:
    """Prepare, start supervisord, print the readiness line, and stay until it exits."""
    config = load(port=args.port, instances=args.instances)
    executable = nginx.nginx_executable()
    config.run_dir.mkdir(parents=True, exist_ok=True)
    config.run_dir.chmod(0o755)  # nginx's workers (another user) use its temp folders
    _check_not_running(config.run_dir)
    get_settings()  # the instances' settings, checked once here rather than by each crash
    with hold_run_lock(project_root(), str(config.port)):
        _end_leftovers(config.run_dir)
        _check_listen_free(config)
        return _prepare_and_supervise(config, executable)


def _end_leftovers(run_dir: Path) -> None:
    """End what a cluster of this checkout that crashed left running (under the run lock,
    no other cluster of the checkout runs): its nginx and its instances."""
    left = leftovers.nginx(run_dir) + leftovers.instances(project_root())
    if left:
        ended = leftovers.end(left)
        _say(f"ended {ended} process(es) (nginx, instances) a crashed cluster left running")


def _prepare_and_supervise(config: ClusterConfig, executable: str) -> int:
    env = _environment(config)
    _check_redis(config)
    _migrate(config, env)
    _check_key(config)
    _check_budget(config)
    _build(config, env)
    ports = [free_port() for _ in range(config.instances)]
    wildcard = config.backend_host in {"0.0.0.0", "::"}  # noqa: S104
    host = "127.0.0.1" if wildcard else config.backend_host
    root = frontend.static_root(project_root())
    conf = nginx.write(config, [f"{host}:{p}" for p in ports], root)
    _check_nginx(executable, config, conf)
    conf = supervisor.write(config, ports, nginx=executable, project=project_root())
    _say(
        f"starting {config.instances} instance(s) on ports {', '.join(map(str, ports))} "
        f"behind {config.url} under supervisord ({conf})"
    )
    return supervise(conf, env, config.run_dir)


def supervise(conf: Path, env: dict[str, str], folder: Path) -> int:
    """Run supervisord in the foreground; SIGTERM, SIGINT and SIGHUP reach it too (it
    stops every program's process group); print the readiness line once all answer."""
    supervisord = str(Path(sys.executable).parent / "supervisord")
    process = subprocess.Popen(  # noqa: S603
        [supervisord, "--nodaemon", "--configuration", str(conf)], env=env
    )

    def forward(signum: int, _frame: object) -> None:
        if process.poll() is None:
            process.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    try:
        _say(ready.wait_until_ready(folder, alive=lambda: process.poll() is None))
    except TimeoutError as error:
        print(f"rxapp: error: the cluster did not become ready: {error}", file=sys.stderr)
        forward(signal.SIGTERM, None)
    return process.wait()


def migrate_command(_args: argparse.Namespace) -> int:
    """Migrate once under the advisory lock (the migration step of deploy/systemd)."""
    db_url = os.environ.get("REFLEX_DB_URL", "").strip()
    if not db_url.startswith("postgresql"):
        raise ClusterError("REFLEX_DB_URL must name the PostgreSQL database to migrate")
    env = apply_closed_network_settings(dict(os.environ))
    applied = migrate.migrate_once(db_url, project=project_root(), env=env)
    _say("migrations applied" if applied else "database already up to date")
    return 0


def build_command(args: argparse.Namespace) -> int:
    """Build the frontend unless its inputs are unchanged."""
    port = args.port or int(os.environ.get("REFLEX_FRONTEND_PORT") or 3000)
    env = apply_closed_network_settings(dict(os.environ))
    env.setdefault("REFLEX_API_URL", f"http://localhost:{port}")
    with hold_run_lock(project_root(), str(port)):
        built = frontend.build(project_root(), env)
    _say("frontend built" if built else "frontend unchanged: reusing the last build")
    return 0


def nginx_config_command(args: argparse.Namespace) -> int:
    """Write nginx.conf for instances on other hosts (RXAPP_UPSTREAMS=host:port,...)."""
    upstreams = [u.strip() for u in (args.upstreams or "").split(",") if u.strip()]
    if not upstreams:
        raise ClusterError(
            "name the instances: RXAPP_UPSTREAMS=host:port,host:port (or --upstreams)"
        )
    for upstream in upstreams:
        host, _, port = upstream.rpartition(":")
        if not host or parse_whole(port, max_digits=5) is None:
            raise ClusterError(f"an upstream must be host:port, got {upstream!r}")
    config = load(port=args.port, proxy_only=True)
    config.run_dir.mkdir(parents=True, exist_ok=True)
    conf = nginx.write(config, upstreams, frontend.static_root(project_root()))
    _say(f"wrote {conf}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rxapp.cluster")
    parser.add_argument("--port", type=int, default=None, help="the public port (default 3000)")
    parser.add_argument("--instances", type=int, default=None, help="instances (default 2)")
    steps = parser.add_subparsers(dest="step")
    steps.add_parser("run", help="migrate, build, start everything under supervisord")
    steps.add_parser("migrate", help="apply migrations once, under an advisory lock")
    steps.add_parser("build", help="build the frontend unless unchanged")
    config = steps.add_parser("nginx-config", help="write nginx.conf for remote instances")
    config.add_argument("--upstreams", default=os.environ.get("RXAPP_UPSTREAMS"))
    return parser


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": run,
    "migrate": migrate_command,
    "build": build_command,
    "nginx-config": nginx_config_command,
}


def main(argv: list[str] | None = None) -> int:
    """Run one step; bad settings give one `rxapp: error: ...` line and exit status 1."""
    apply_closed_network_settings()
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.step or "run"](args)
    except (ClusterError, SettingsError) as error:
        print(f"rxapp: error: {error}", file=sys.stderr)
        return 1
    except RuntimeError as error:  # a failed `reflex db migrate`
        print(f"rxapp: error: {error}", file=sys.stderr)
        return 1
    except sa.exc.SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        print(f"rxapp: error: the database at REFLEX_DB_URL: {reason}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
