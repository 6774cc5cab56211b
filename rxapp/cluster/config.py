"""The cluster's settings, read once from the environment, checked with clear messages."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from rxapp.runtime import project_root
from rxapp.whole_numbers import parse_whole


class ClusterError(RuntimeError):
    """A reason the cluster cannot start or be controlled, for people."""


KEY_HINT = (
    "every instance must decrypt the same TOTP secrets; make a key with "
    "python3 -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)
# Connections an instance may hold besides its pages' pool: the CSV export's engine
# (rxapp/services/database.py, SQLAlchemy's default pool of 5 + 10 overflow).
EXPORT_CONNECTIONS = 15
SPARE_CONNECTIONS = 5  # the migration step and `rxapp` commands
_LISTEN = re.compile(r"^(?:(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]|\*):)?\d{1,5}$")


def run_dir() -> Path:
    """The one run directory of the cluster (RXAPP_CLUSTER_DIR, default `.cluster/`)."""
    return Path(os.environ.get("RXAPP_CLUSTER_DIR") or project_root() / ".cluster").resolve()


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, "").strip() or default


def _required(name: str, hint: str) -> str:
    value = _env(name)
    if not value:
        raise ClusterError(f"{name} is not set: {hint}")
    return value


def _whole(name: str, default: int, minimum: int) -> int:
    raw = _env(name, str(default))
    value = parse_whole(raw)
    if value is None or value < minimum:
        raise ClusterError(f"{name} must be a whole number of at least {minimum}, got {raw!r}")
    return value


def parse_listen(value: str) -> str:
    """nginx's `listen` address from RXAPP_LISTEN: `PORT`, `ADDRESS:PORT` or `[IPv6]:PORT`."""
    if not _LISTEN.match(value) or not 0 < int(value.rsplit(":", 1)[-1]) < 65536:
        raise ClusterError(f"RXAPP_LISTEN must be PORT, ADDRESS:PORT or [IPv6]:PORT, got {value!r}")
    return value


@dataclass(frozen=True)
class ClusterConfig:
    """Everything `make run-cluster` needs to know, from the environment and options."""

    port: int
    instances: int
    db_url: str
    redis_url: str
    listen: str
    """nginx's listen address (RXAPP_LISTEN, default: every interface on `port`)."""
    backend_host: str
    """Where instances bind (RXAPP_BACKEND_HOST, default 127.0.0.1: only nginx reaches them)."""
    tls_cert: str | None
    tls_key: str | None
    debug_routing: bool
    """RXAPP_DEBUG_ROUTING=1: the cookie `rxapp_instance=N` picks instance N."""
    api_url: str
    """The address browsers use (REFLEX_API_URL), built into the frontend."""
    workers: int
    db_pool_size: int
    db_max_overflow: int
    redis_max_connections: int
    run_dir: Path

    @property
    def url(self) -> str:
        """The address this host's nginx answers on, for people and readiness checks."""
        scheme = "https" if self.tls_cert else "http"
        return f"{scheme}://localhost:{self.port}"

    def postgres_connections(self) -> int:
        """The most PostgreSQL connections this host's instances (and tools) can hold."""
        per_instance = self.db_pool_size + self.db_max_overflow + EXPORT_CONNECTIONS
        return self.instances * per_instance + SPARE_CONNECTIONS

    def instance_env(self) -> dict[str, str]:
        """Variables every instance gets on top of the caller's environment."""
        return {
            "REFLEX_DB_URL": self.db_url,
            "REFLEX_REDIS_URL": self.redis_url,
            "REFLEX_API_URL": self.api_url,
            "GRANIAN_WORKERS": str(self.workers),
            # Reflex's own connection budgets (reflex_base/environment.py).
            "SQLALCHEMY_POOL_SIZE": str(self.db_pool_size),
            "SQLALCHEMY_MAX_OVERFLOW": str(self.db_max_overflow),
            "REFLEX_REDIS_MAX_CONNECTIONS": str(self.redis_max_connections),
            # Reflex always sends CONFIG SET notify-keyspace-events; a managed Redis that
            # refuses it must be configured out of band (README), and the refusal is ignored.
            "REFLEX_IGNORE_REDIS_CONFIG_ERROR": "true",
            # nginx is the one proxy in front: its X-Forwarded-For names the client.
            "RXAPP_TRUSTED_PROXY_HOPS": "1",
        }


def load(
    *, port: int | None = None, instances: int | None = None, proxy_only: bool = False
) -> ClusterConfig:
    """The configuration from the environment; `port`/`instances` override it.
    `proxy_only`: for nginx on a host of its own, which needs no database, Redis or key."""
    db_url = redis_url = ""
    if not proxy_only:
        db_url = _required("REFLEX_DB_URL", "e.g. postgresql+psycopg://rxapp@127.0.0.1:5432/rxapp")
        if not db_url.startswith("postgresql"):
            raise ClusterError(
                "several instances need a server database: set REFLEX_DB_URL to PostgreSQL"
            )
        redis_url = _required("REFLEX_REDIS_URL", "e.g. redis://127.0.0.1:6379/1")
        _required("RXAPP_SECRET_KEY", KEY_HINT)
    port = port if port is not None else _whole("REFLEX_FRONTEND_PORT", 3000, 1)
    instances = instances if instances is not None else _whole("RXAPP_INSTANCES", 2, 1)
    if instances < 1:
        raise ClusterError("--instances must be at least 1")
    if not 0 < port < 65536:
        raise ClusterError(f"--port must be between 1 and 65535, got {port}")
    tls_cert, tls_key = _env("RXAPP_TLS_CERT") or None, _env("RXAPP_TLS_KEY") or None
    if bool(tls_cert) != bool(tls_key):
        raise ClusterError("TLS needs both RXAPP_TLS_CERT and RXAPP_TLS_KEY (or neither)")
    for path in (tls_cert, tls_key):
        if path and not Path(path).is_file():
            raise ClusterError(f"TLS file not found: {path}")
    scheme = "https" if tls_cert else "http"
    return ClusterConfig(
        port=port,
        instances=instances,
        db_url=db_url,
        redis_url=redis_url,
        listen=parse_listen(_env("RXAPP_LISTEN", str(port))),
        backend_host=_env("RXAPP_BACKEND_HOST", "127.0.0.1"),
        tls_cert=tls_cert,
        tls_key=tls_key,
        debug_routing=_env("RXAPP_DEBUG_ROUTING") == "1",
        api_url=_env("REFLEX_API_URL", f"{scheme}://localhost:{port}"),
        workers=_whole("GRANIAN_WORKERS", 1, 1),
        db_pool_size=_whole("SQLALCHEMY_POOL_SIZE", 5, 1),
        db_max_overflow=_whole("SQLALCHEMY_MAX_OVERFLOW", 5, 0),
        redis_max_connections=_whole("REFLEX_REDIS_MAX_CONNECTIONS", 16, 3),
        run_dir=run_dir(),
    )
