"""A real cluster for the scale-out tests: `make run-cluster`'s command with two instances on
PostgreSQL and Redis behind nginx under supervisord, started once per module."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pyotp
import pytest
import redis
from playwright.sync_api import Browser, BrowserContext, Page

from rxapp.cluster.config import ClusterError
from rxapp.cluster.nginx import nginx_executable
from rxapp.runtime import free_port
from rxapp.services import accounts
from rxapp.services.clock import utcnow
from rxapp.services.database import session_for
from rxapp.services.mfa.backup_codes import codes as backup_codes
from rxapp.services.mfa.totp import algorithm as totp
from rxapp.services.mfa.totp import flows as totp_flows
from rxapp.testing import SERVER_ERROR_MARKERS, Account
from tests.conftest import REDIS_URL, fresh_postgres_database, services_unavailable
from tests.scaleout import cluster_process
from tests.scaleout.cluster_process import ClusterProcess

CLUSTER_REDIS_DB = 13  # a Redis database of its own: one test empties it


@dataclass(frozen=True)
class TwoFactorAccount:
    """An account with 2FA on, made through the services with the cluster's key."""

    account: Account
    secret: str
    backup_codes: list[str]

    def next_code(self) -> str:
        """A code one step ahead (inside the drift window), never used yet."""
        return totp.code_at(self.secret, totp.time_step(utcnow()) + 1)


@pytest.fixture(scope="module")
def cluster_db_url() -> Iterator[str]:
    """A migrated PostgreSQL database for this module's cluster."""
    with fresh_postgres_database("rxapp_cluster") as url:
        yield url


@pytest.fixture(scope="module")
def cluster_redis_url() -> str:
    """An empty Redis database for this module's cluster."""
    parts = urlsplit(REDIS_URL)
    redis_url = f"redis://{parts.hostname or '127.0.0.1'}:{parts.port or 6379}/{CLUSTER_REDIS_DB}"
    try:
        redis.Redis.from_url(redis_url).flushdb()
    except redis.RedisError as error:
        services_unavailable("Redis", error)
    return redis_url


@pytest.fixture(scope="session")
def cluster_port() -> int:
    """One public port for every cluster of the session, so they share one frontend build."""
    return free_port()


@pytest.fixture(scope="module")
def cluster_env(cluster_db_url: str, cluster_redis_url: str) -> dict[str, str]:
    """What an operator exports before `make run-cluster`."""
    try:
        nginx_executable()
    except ClusterError as error:
        services_unavailable("nginx", error)
    return {
        **os.environ,
        "REFLEX_DB_URL": cluster_db_url,
        "REFLEX_REDIS_URL": cluster_redis_url,
        # The tests' own key, so that this process can make 2FA users.
        "RXAPP_SECRET_KEY": os.environ["RXAPP_SECRET_KEY"],
    }


@pytest.fixture(scope="module")
def cluster(cluster_port: int, cluster_env: dict[str, str]) -> Iterator[ClusterProcess]:
    """Two instances behind nginx, sharing PostgreSQL and Redis."""
    running = cluster_process.start(cluster_port, cluster_env)
    try:
        yield running
    finally:
        cluster_process.stop(running)
        cluster_process.remove(running)


@pytest.fixture(autouse=True)
def _fail_on_instance_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail any test during which an instance logged an error."""
    if "cluster" not in request.fixturenames:
        yield
        return
    running: ClusterProcess = request.getfixturevalue("cluster")
    numbers = range(1, len(running.ports) + 1)
    offsets = {n: _size(running.log_path(n)) for n in numbers}
    yield
    errors = []
    for number in numbers:
        with running.log_path(number).open("rb") as log:
            log.seek(offsets[number])
            text = log.read().decode("utf-8", "replace")
        lines = text.splitlines()
        errors += [
            f"instance {number}: " + "\n".join(lines[i : i + 25])
            for i, line in enumerate(lines)
            if any(marker in line for marker in SERVER_ERROR_MARKERS)
        ]
    if errors:
        pytest.fail("an instance logged errors during this test:\n" + "\n".join(errors[:20]))


def _size(path: os.PathLike[str]) -> int:
    return os.path.getsize(path) if os.path.exists(path) else 0


@pytest.fixture
def user(cluster: ClusterProcess) -> Account:
    """A new account without 2FA in the cluster's database."""
    email = f"scale-{uuid.uuid4().hex[:10]}@example.com"
    with session_for(cluster.db_url) as db:
        accounts.create_user(db, email, "cluster-password", now=utcnow())
    return Account(email, "cluster-password")


@pytest.fixture
def user_2fa(cluster: ClusterProcess) -> TwoFactorAccount:
    """A new account with 2FA on (its current step already spent) and five backup codes."""
    email = f"scale-2fa-{uuid.uuid4().hex[:10]}@example.com"
    now = utcnow()
    with session_for(cluster.db_url) as db:
        created = accounts.create_user(db, email, "cluster-password", now=now)
        enrollment = totp_flows.begin_enrollment(db, created, now=now)
        check = totp_flows.confirm_enrollment(
            db, created.id, pyotp.TOTP(enrollment.secret).at(now), now=now
        )
        assert check.ok
        codes = backup_codes.replace_batch(db, created.id, now=now)
    return TwoFactorAccount(Account(email, "cluster-password"), enrollment.secret, codes)


@pytest.fixture
def open_page(browser: Browser, cluster: ClusterProcess) -> Iterator:
    """Open a page on the cluster, pinned to one instance (or to none)."""
    contexts: list[BrowserContext] = []

    def open_(instance: int | None = None) -> Page:
        context = browser.new_context(base_url=cluster.url)
        if instance is not None:
            context.add_cookies(
                [{"name": "rxapp_instance", "value": str(instance), "url": cluster.url}]
            )
        contexts.append(context)
        return context.new_page()

    yield open_
    for context in contexts:
        context.close()
