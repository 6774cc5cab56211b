"""Sign-in plus 2FA flows per second through nginx, for one instance and for two.

Both runs share one frontend build, PostgreSQL and Redis; each signs in its own fresh
users once (a TOTP code works once per account). The load comes from bench.flow_driver in
a second process on loopback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bench.common import use_throwaway_key
from rxapp.cluster import Cluster
from rxapp.models import User
from rxapp.runtime import free_port
from rxapp.services import passwords, secretbox, totp
from rxapp.services.clock import utcnow
from rxapp.services.database import session_for

POSTGRES = os.environ.get(
    "RXAPP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS = "redis://127.0.0.1:6379/14"
PASSWORD = "bench-flow-password"


def _create_database() -> str:
    admin = sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    name = f"rxapp_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)


def _drop_database(url: str) -> None:
    admin = sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(
            sa.text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
        )
    admin.dispose()


def _seed(db_url: str, count: int, label: str) -> list[dict[str, str]]:
    """`count` users with 2FA on, whose current step is spent; returns their credentials."""
    now = utcnow()
    shared_hash = passwords.hash_password(PASSWORD)
    users, rows = [], []
    for i in range(count):
        secret = totp.new_secret()
        email = f"flow-{label}-{i:05d}@example.com"
        users.append({"email": email, "password": PASSWORD, "secret": secret})
        rows.append(
            {
                "email": email,
                "password_hash": shared_hash,
                "is_admin": False,
                "created_at": now,
                "totp_secret": secretbox.encrypt(secret),
                "totp_enabled_at": now,
                "twofa_active": True,
                "totp_last_step": totp.time_step(now),
            }
        )
    with session_for(db_url) as db:
        db.exec(sa.insert(User), params=rows)
        db.commit()
    return users


def _drive(url: str, users: list[dict[str, str]], concurrency: int, folder: Path) -> dict:
    path = folder / f"users-{uuid.uuid4().hex[:6]}.json"
    path.write_text(json.dumps(users))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.flow_driver",
            url,
            str(path),
            "--concurrency",
            str(concurrency),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def run(flows: int = 300, concurrency: int = 16) -> list[str]:
    """Flows per second and latency, one instance then two, in one run."""
    use_throwaway_key()
    folder = Path(tempfile.mkdtemp(prefix="rxapp-bench-"))
    db_url = _create_database()
    lines = []
    port = free_port()
    built_root = None
    try:
        for instances in (1, 2):
            cluster = Cluster(
                port=port,
                db_url=db_url,
                redis_url=REDIS,
                secret_key=os.environ["RXAPP_SECRET_KEY"],
                instances=instances,
            )
            if built_root is None:
                cluster.build()
                built_root = cluster.root
            else:
                cluster.root = built_root  # same build: same address, same code
            cluster.start()
            try:
                _drive(cluster.url, _seed(db_url, 20, f"warm{instances}"), concurrency, folder)
                users = _seed(db_url, flows, f"run{instances}")
                result = _drive(cluster.url, users, concurrency, folder)
            finally:
                cluster.stop()
            lines.append(
                f"{instances} instance{'s' if instances > 1 else ' '}: "
                f"{result['flows_per_second']:6.2f} flows/s   latency median "
                f"{result['latency_median_ms']:7.1f} ms   p90 {result['latency_p90_ms']:7.1f} ms   "
                f"flows {result['flows']}  failures {result['failures']}  "
                f"(concurrency {concurrency})"
            )
            if result["failures"]:
                lines.append(f"    failures, e.g.: {result['failure_examples']}")
    finally:
        _drop_database(db_url)
    return lines
