"""Demo data: a few named accounts to try the app, and bulk synthetic users for scale."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, insert
from sqlmodel import Session, col, select

from rxapp.models import User
from rxapp.services import accounts, passwords, secretbox
from rxapp.services.mfa.totp import algorithm as totp
from rxapp.whole_numbers import parse_whole

DEMO_ADMIN = ("admin@example.com", "admin-demo-1234")
DEMO_USERS = (
    ("alice@example.com", "alice-demo-1234"),
    ("bob@example.com", "bob-demo-1234"),
    ("carol@example.com", "carol-demo-1234"),
)
SYNTHETIC_DOMAIN = "users.example.com"
_BATCH = 10_000
ACTIVATED_PERCENT = 37  # a realistic adoption mix for the dashboard


def has_users(db: Session) -> bool:
    """Whether any account exists."""
    return db.exec(select(func.count()).select_from(User)).one() > 0


def _demo_accounts() -> list[tuple[tuple[str, str], bool]]:
    return [(DEMO_ADMIN, True)] + [(u, False) for u in DEMO_USERS]


def _line(email: str, password: str, *, is_admin: bool) -> str:
    return f"  {'admin' if is_admin else 'user '}  {email}  password: {password}"


def still_demo(db: Session) -> str:
    """The demo accounts that still have their published password (a report for people),
    or "" when none does."""
    lines = []
    for (email, password), _admin in _demo_accounts():
        user = accounts.find_user(db, email)
        if user is not None and passwords.check_password(password, user.password_hash).ok:
            lines.append(_line(email, password, is_admin=user.is_admin))
    return "Demo accounts (still with their demo passwords):\n" + "\n".join(lines) if lines else ""


def seed(
    db: Session,
    *,
    extra_users: int,
    now: datetime,
    progress: Callable[[int, int], None] | None = None,
) -> str:
    """Create the demo accounts that are missing and `extra_users` synthetic ones.

    Returns a report for people, with the demo credentials.
    """
    lines = []
    for (email, password), is_admin in _demo_accounts():
        if accounts.find_user(db, email) is None:
            accounts.create_user(db, email, password, now=now, is_admin=is_admin)
            lines.append(_line(email, password, is_admin=is_admin))
    if extra_users:
        added = _add_synthetic_users(db, extra_users, now=now, progress=progress)
        lines.append(f"  {added:,} synthetic users @{SYNTHETIC_DOMAIN} (password: synthetic-1234)")
    if not lines:
        return "Demo accounts already exist; nothing added."
    return "Demo data added:\n" + "\n".join(lines)


def _next_synthetic_number(db: Session) -> int:
    """One more than the highest `userNNNNNNN@` number taken (real accounts in the synthetic
    domain with other names are passed over)."""
    candidates = db.exec(
        select(User.email)
        .where(col(User.email).like(f"user_______@{SYNTHETIC_DOMAIN}"))
        .order_by(col(User.email).desc())
        .execution_options(yield_per=100)
    )
    for email in candidates:
        number = parse_whole(email[4:11])
        if number is not None:
            return number + 1
    return 0


def _add_synthetic_users(
    db: Session, count: int, *, now: datetime, progress: Callable[[int, int], None] | None
) -> int:
    """Bulk-insert `count` users after the highest existing synthetic number."""
    shared_hash = passwords.hash_password("synthetic-1234")
    # Synthetic 2FA users share one encrypted secret: they exist to be counted, not used.
    shared_secret = secretbox.encrypt(totp.new_secret())
    start = _next_synthetic_number(db)
    done = 0
    while done < count:
        size = min(_BATCH, count - done)
        rows = []
        for i in range(start + done, start + done + size):
            # Spread over about two years, all in the past, sign-ins and 2FA after creation.
            created = now - timedelta(days=2, minutes=(i * 37) % 1_000_000)
            # Spread evenly: any run of N users has N * 37 % of them, rounded down.
            activated = (i + 1) * ACTIVATED_PERCENT // 100 > i * ACTIVATED_PERCENT // 100
            rows.append(
                {
                    "email": f"user{i:07d}@{SYNTHETIC_DOMAIN}",
                    "password_hash": shared_hash,
                    "is_admin": False,
                    "created_at": created,
                    "last_sign_in_at": created + timedelta(hours=i % 48) if i % 3 else None,
                    "totp_secret": shared_secret if activated else None,
                    "totp_enabled_at": created + timedelta(hours=1 + i % 24) if activated else None,
                    "twofa_active": activated,
                }
            )
        db.exec(insert(User), params=rows)
        db.commit()
        done += size
        if progress:
            progress(done, count)
    return done
