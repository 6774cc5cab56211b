"""A real cluster for the scale-out tests: two app instances on PostgreSQL and Redis behind
nginx, started once per module (see rxapp/cluster.py)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pyotp
import pytest
import redis
from playwright.sync_api import Browser, BrowserContext, Page

from rxapp.cluster import NGINX_HELP, Cluster
from rxapp.runtime import free_port
from rxapp.services import accounts, backup_codes, totp, twofactor
from rxapp.services.clock import utcnow
from rxapp.services.database import session_for
from rxapp.testing import SERVER_ERROR_MARKERS, Account
from tests.conftest import REDIS_URL, fresh_postgres_database, services_unavailable

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


@pytest.fixture(scope="module")
def cluster(cluster_db_url: str, cluster_redis_url: str) -> Iterator[Cluster]:
    """Two instances behind nginx on a free port, sharing PostgreSQL and Redis."""
    if shutil.which("nginx") is None and not os.path.exists("/usr/sbin/nginx"):
        services_unavailable("nginx", FileNotFoundError(NGINX_HELP))
    running = Cluster(
        port=free_port(),
        db_url=cluster_db_url,
        redis_url=cluster_redis_url,
        secret_key=os.environ["RXAPP_SECRET_KEY"],  # so that this process can make 2FA users
        instances=2,
    )
    running.build()
    running.start()
    try:
        yield running
    finally:
        running.stop()
        shutil.rmtree(running.workdir, ignore_errors=True)


@pytest.fixture(autouse=True)
def _fail_on_instance_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail any test during which an instance logged an error."""
    if "cluster" not in request.fixturenames:
        yield
        return
    running: Cluster = request.getfixturevalue("cluster")
    offsets = {m.number: _size(m.log_path) for m in running.members}
    yield
    errors = []
    for member in running.members:
        with member.log_path.open("rb") as log:
            log.seek(offsets[member.number])
            text = log.read().decode("utf-8", "replace")
        errors += [
            f"instance {member.number}: {line}"
            for line in text.splitlines()
            if any(marker in line for marker in SERVER_ERROR_MARKERS)
        ]
    if errors:
        pytest.fail("an instance logged errors during this test:\n" + "\n".join(errors[:20]))


def _size(path: os.PathLike[str]) -> int:
    return os.path.getsize(path) if os.path.exists(path) else 0


@pytest.fixture
def user(cluster: Cluster) -> Account:
    """A new account without 2FA in the cluster's database."""
    email = f"scale-{uuid.uuid4().hex[:10]}@example.com"
    with session_for(cluster.db_url) as db:
        accounts.create_user(db, email, "cluster-password", now=utcnow())
    return Account(email, "cluster-password")


@pytest.fixture
def user_2fa(cluster: Cluster) -> TwoFactorAccount:
    """A new account with 2FA on (its current step already spent) and five backup codes."""
    email = f"scale-2fa-{uuid.uuid4().hex[:10]}@example.com"
    now = utcnow()
    with session_for(cluster.db_url) as db:
        created = accounts.create_user(db, email, "cluster-password", now=now)
        enrollment = twofactor.begin_enrollment(db, created, now=now)
        check = twofactor.confirm_enrollment(
            db, created.id, pyotp.TOTP(enrollment.secret).at(now), now=now
        )
        assert check.ok
        codes = backup_codes.replace_batch(db, created.id, now=now)
    return TwoFactorAccount(Account(email, "cluster-password"), enrollment.secret, codes)


@pytest.fixture
def open_page(browser: Browser, cluster: Cluster) -> Iterator:
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
