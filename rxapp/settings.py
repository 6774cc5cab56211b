"""Typed settings, read once from the environment (RXAPP_*), with safe defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from rxapp.whole_numbers import parse_whole, port_number

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB_URL = f"sqlite:///{PROJECT_ROOT / 'rxapp.db'}"


class SettingsError(ValueError):
    """A setting in the environment is present but unusable."""


def _int(name: str, default: int, *, minimum: int = 1, maximum: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    text = raw.strip()
    value = parse_whole(text, max_digits=100)  # a typo's extra digits: out of range, said so
    if value is None:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}")
    if not minimum <= value <= maximum:
        raise SettingsError(f"{name} must be between {minimum} and {maximum:,}, got {text}")
    return value


_YEAR_HOURS = 366 * 24
# Authenticator apps show the issuer beside the account; the QR code (a URI of the issuer
# twice, the account and the key) must stay scannable.
MAX_ISSUER_CHARS = 100


def _issuer() -> str:
    issuer = (os.environ.get("RXAPP_ISSUER") or "rxapp").strip() or "rxapp"
    if len(issuer) > MAX_ISSUER_CHARS:
        raise SettingsError(f"RXAPP_ISSUER must be at most {MAX_ISSUER_CHARS} characters")
    return issuer


def _check_reflex_variables() -> None:
    """Variables Reflex reads itself, said in one line rather than in its traceback: the
    Redis URL's scheme, and the ports."""
    url = (os.environ.get("REFLEX_REDIS_URL") or "").strip()
    if url and not url.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError("REFLEX_REDIS_URL must start with redis://, rediss:// or unix://")
    for name in ("REFLEX_FRONTEND_PORT", "REFLEX_BACKEND_PORT"):
        raw = (os.environ.get(name) or "").strip()
        if raw and port_number(raw) is None:
            raise SettingsError(f"{name} must be a port number from 1 to 65535, got {raw!r}")


def _choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
    raw = (os.environ.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw not in allowed:
        raise SettingsError(f"{name} must be one of {', '.join(allowed)}, got {raw!r}")
    return raw


def _origin(name: str) -> str | None:
    return _checked_origin(name, os.environ.get(name) or "")


def _checked_origin(name: str, value: str) -> str | None:
    raw = value.strip().rstrip("/")
    if not raw:
        return None
    try:
        parts = urlsplit(raw.lower())
        well_formed = bool(parts.hostname) and parts.port != 0 and not parts.path
    except ValueError:  # a port that is not a number, an unclosed IPv6 address
        well_formed = False
    if not well_formed or parts.scheme not in ("http", "https"):
        raise SettingsError(f"{name} must look like https://host[:port], got {raw!r}")
    return raw.lower()  # as browsers send an Origin


def _origins(name: str) -> tuple[str, ...]:
    """A comma-separated list of origins, each as `_origin` checks it."""
    items = (os.environ.get(name) or "").split(",")
    return tuple(o for item in items if (o := _checked_origin(f"each entry of {name}", item)))


def _db_url() -> str:
    """REFLEX_DB_URL, or the embedded default, checked as SQLAlchemy would open it (never
    quoted back: it may hold a password)."""
    url = os.environ.get("REFLEX_DB_URL") or DEFAULT_DB_URL
    try:
        parsed = make_url(url)
        parsed.port  # noqa: B018 (a port that is not a number raises here)
    except (ArgumentError, ValueError):
        raise SettingsError(
            "REFLEX_DB_URL is not a database URL: it looks like "
            "postgresql+psycopg://user@host:5432/name or sqlite:////path/to/file.db"
        ) from None
    try:
        parsed.get_dialect()
    except NoSuchModuleError:
        raise SettingsError(
            f"REFLEX_DB_URL names a database this app cannot open ({parsed.drivername!r}): "
            "use postgresql+psycopg:// or sqlite:///"
        ) from None
    return url


@dataclass(frozen=True)
class Settings:
    """Every tunable of the app, documented where it is defined."""

    db_url: str
    """SQLAlchemy URL of the database (REFLEX_DB_URL); default: a SQLite file in the project."""
    secret_key: str | None
    """RXAPP_SECRET_KEY: the Fernet key that encrypts TOTP secrets at rest."""
    issuer: str
    """RXAPP_ISSUER: the name authenticator apps show next to the account."""
    session_absolute_seconds: int
    """RXAPP_SESSION_HOURS: a signed-in session ends this long after sign-in (default 12 h)."""
    session_idle_seconds: int
    """RXAPP_SESSION_IDLE_MINUTES: a session unused this long ends (default 30 min)."""
    pending_login_seconds: int
    """How long the password step's pending login waits for the second factor (5 min)."""
    fresh_proof_seconds: int
    """How long a password or code proof counts as fresh for sensitive actions (5 min)."""
    backup_reveal_seconds: int
    """RXAPP_BACKUP_REVEAL_SECONDS: how long new backup codes stay on screen (default 30)."""
    require_2fa: str
    """RXAPP_REQUIRE_2FA: who must use 2FA: `admins` (default), `all` or `none`. Admins
    without 2FA never see the dashboard, whatever this says."""
    twofa_grace_days: int
    """RXAPP_2FA_GRACE_DAYS: days after an account is created before the rule above sends
    its user straight to the 2FA setup at every sign-in (default 7)."""
    client_failures_per_hour: int
    """RXAPP_CLIENT_FAILURES_PER_HOUR: wrong passwords one client address may send from
    browsers unknown to the accounts before it has to wait (default 30)."""
    origin: str | None
    """RXAPP_ORIGIN: the public origin of the app (`https://host[:port]`); passkeys belong
    to its host name (the WebAuthn RP id). Default: the address the browser reached, which
    is right unless a proxy changes it. Set it behind a TLS proxy."""
    allowed_origins: tuple[str, ...] = ()
    """RXAPP_ALLOWED_ORIGINS: other origins whose pages may use the app (comma-separated)."""
    trusted_proxy_hops: int = 0
    """RXAPP_TRUSTED_PROXY_HOPS: proxies whose X-Forwarded-For is believed (default 0)."""

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is the embedded SQLite file."""
        return self.db_url.startswith("sqlite")


@cache
def get_settings() -> Settings:
    """The settings of this process, read from the environment on first use."""
    _check_reflex_variables()
    return Settings(
        db_url=_db_url(),
        secret_key=os.environ.get("RXAPP_SECRET_KEY") or None,
        issuer=_issuer(),
        session_absolute_seconds=_int("RXAPP_SESSION_HOURS", 12, maximum=_YEAR_HOURS) * 3600,
        session_idle_seconds=_int("RXAPP_SESSION_IDLE_MINUTES", 30, maximum=_YEAR_HOURS * 60) * 60,
        pending_login_seconds=5 * 60,
        fresh_proof_seconds=5 * 60,
        backup_reveal_seconds=_int("RXAPP_BACKUP_REVEAL_SECONDS", 30, maximum=3600),
        require_2fa=_choice("RXAPP_REQUIRE_2FA", "admins", ("admins", "all", "none")),
        twofa_grace_days=_int("RXAPP_2FA_GRACE_DAYS", 7, minimum=0, maximum=3660),
        client_failures_per_hour=_int("RXAPP_CLIENT_FAILURES_PER_HOUR", 30, maximum=10**6),
        origin=_origin("RXAPP_ORIGIN"),
        allowed_origins=_origins("RXAPP_ALLOWED_ORIGINS"),
        trusted_proxy_hops=_int("RXAPP_TRUSTED_PROXY_HOPS", 0, minimum=0, maximum=10),
    )
