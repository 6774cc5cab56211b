"""Sign-in plus 2FA flows per second through nginx, for one instance and for two.

Both runs are `make run-cluster`'s command on the database and Redis named by REFLEX_DB_URL
and REFLEX_REDIS_URL (give the bench its own: it adds users), sharing one frontend build;
each signs in its own fresh users once (a TOTP code works once per account). The load comes
from bench.flow_driver in a second process on loopback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import sqlalchemy as sa

from bench.common import use_throwaway_key
from rxapp.cluster import launch
from rxapp.models import User
from rxapp.runtime import free_port, project_root
from rxapp.services import passwords, secretbox
from rxapp.services.clock import utcnow
from rxapp.services.database import session_for
from rxapp.services.mfa.totp import algorithm as totp

PASSWORD = "bench-flow-password"


class BenchError(RuntimeError):
    """A reason the cluster bench cannot run, for people."""


def _required(name: str, example: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise BenchError(f"set {name} to the bench's own database, e.g. {example}")
    return value


def seed_users_with_2fa(db_url: str, count: int, label: str) -> list[dict[str, str]]:
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
    db_url = _required("REFLEX_DB_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/rxapp_bench")
    redis_url = _required("REFLEX_REDIS_URL", "redis://127.0.0.1:6379/14")
    use_throwaway_key()
    folder = Path(tempfile.mkdtemp(prefix="rxapp-bench-"))
    run_dir = project_root() / ".cluster" / "bench"
    port = free_port()  # one address for both runs: one frontend build
    env = {
        **os.environ,
        "REFLEX_DB_URL": db_url,
        "REFLEX_REDIS_URL": redis_url,
        "RXAPP_CLUSTER_DIR": str(run_dir),
        "RXAPP_LISTEN": f"127.0.0.1:{port}",
    }
    label = uuid.uuid4().hex[:6]
    lines = []
    try:
        for instances in (1, 2):
            cluster = launch.start(port, env, instances=instances)
            try:
                warm = seed_users_with_2fa(db_url, 20, f"{label}-warm{instances}")
                _drive(cluster.url, warm, concurrency, folder)
                users = seed_users_with_2fa(db_url, flows, f"{label}-run{instances}")
                result = _drive(cluster.url, users, concurrency, folder)
            finally:
                launch.stop(cluster)
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
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(run_dir, ignore_errors=True)
    return lines
