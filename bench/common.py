"""Helpers shared by the benchmarks: timing, fresh migrated databases, seeded users."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from cryptography.fernet import Fernet

from rxapp import runtime
from rxapp.services import secretbox
from rxapp.settings import PROJECT_ROOT, get_settings


def use_throwaway_key() -> None:
    """Encrypt with a key of this run only (no key file next to the project database)."""
    os.environ.setdefault("RXAPP_SECRET_KEY", Fernet.generate_key().decode())
    get_settings.cache_clear()
    secretbox.forget_keys()


def migrated_sqlite(path: Path) -> str:
    """A new SQLite file at `path` with every migration applied; returns its URL."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    runtime.migrate(url, cwd=PROJECT_ROOT)
    return url


def run_outside_transaction(url: str, *statements: str) -> None:
    """Run `statements` outside a transaction on the PostgreSQL database at `url`."""
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        for statement in statements:
            connection.execute(sa.text(statement))
    admin.dispose()


def migrated_postgres(admin_url: str, name: str) -> str:
    """A new PostgreSQL database `name` (dropped first if left over) on the server of
    `admin_url`, with every migration applied; returns its URL."""
    drop_postgres(admin_url, name)
    run_outside_transaction(admin_url, f'CREATE DATABASE "{name}"')
    url = sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    runtime.migrate(url, cwd=PROJECT_ROOT)
    return url


def drop_postgres(admin_url: str, name: str) -> None:
    """Drop the database `name` made by `migrated_postgres`."""
    run_outside_transaction(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def measure(
    fn: Callable[[], object], *, runs: int, setup: Callable[[], None] | None = None
) -> list[float]:
    """Wall-clock milliseconds of `runs` calls of `fn` (setup, untimed, before each)."""
    samples = []
    for _ in range(runs):
        if setup:
            setup()
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def summary(samples: list[float]) -> str:
    """Median and spread of a list of milliseconds."""
    ordered = sorted(samples)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    return (
        f"median {statistics.median(ordered):8.2f} ms   p90 {p90:8.2f} ms   "
        f"min {ordered[0]:8.2f} ms   n={len(ordered)}"
    )


def admin_with_2fa(db_url: str, email: str, password: str) -> str:
    """Create an admin with 2FA on (admins need it for All users); return the TOTP key."""
    from rxapp.models import User
    from rxapp.services import accounts
    from rxapp.services.clock import utcnow
    from rxapp.services.database import session_for
    from rxapp.services.mfa.totp import algorithm as totp

    secret = totp.new_secret()
    with session_for(db_url) as db:
        admin = accounts.create_user(db, email, password, now=utcnow(), is_admin=True)
        user = db.get(User, admin.id)
        user.totp_secret = secretbox.encrypt(secret)
        user.totp_enabled_at = utcnow()
        user.twofa_active = True
        db.add(user)
        db.commit()
    return secret
