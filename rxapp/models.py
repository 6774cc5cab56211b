"""Database tables (SQLModel). Timestamps are timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class UTCDateTime(sa.types.TypeDecorator):
    """A timestamp stored as UTC and always read back timezone-aware (SQLite keeps no zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(*, nullable: bool = True, index: bool = False) -> sa.Column:
    return sa.Column(UTCDateTime(), nullable=nullable, index=index)


class User(SQLModel, table=True):
    """An account. `email` is stored lower-cased, so uniqueness is case-insensitive."""

    __tablename__ = "app_user"
    __table_args__ = (
        # The dashboard filters on twofa_active and sorts by one column; these serve each pair.
        sa.Index("ix_app_user_active_email", "twofa_active", "email"),
        sa.Index("ix_app_user_active_created", "twofa_active", "created_at", "id"),
        sa.Index("ix_app_user_active_last_sign_in", "twofa_active", "last_sign_in_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, sa_column_kwargs={"unique": True}, index=False)
    password_hash: str = Field(max_length=512)
    is_admin: bool = Field(default=False)
    created_at: datetime = Field(sa_column=_ts(nullable=False, index=True))
    last_sign_in_at: datetime | None = Field(default=None, sa_column=_ts(index=True))

    # TOTP (RFC 6238). Secrets are Fernet-encrypted; TOTP is on when totp_enabled_at is set.
    # twofa_active summarises every method: TOTP on, or at least one passkey (see mfa.flow).
    totp_secret: str | None = Field(default=None, max_length=512)
    totp_enabled_at: datetime | None = Field(default=None, sa_column=_ts())
    twofa_active: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    totp_last_step: int | None = Field(default=None, sa_type=sa.BigInteger)
    # A secret shown in the enable dialog and not yet confirmed with a code.
    totp_pending_secret: str | None = Field(default=None, max_length=512)

    # One throttle for every second-factor attempt (TOTP and backup codes), in the database
    # so that every session and every app instance shares it.
    second_factor_failures: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    second_factor_blocked_until: datetime | None = Field(default=None, sa_column=_ts())

    # Moves on whenever the account's password or second factors change (with every other
    # session ended): a session or pending login is live only while it carries the epoch
    # the account had when its factors were read, so one started by a sign-in that raced
    # the change is dead too (see sessions.revoke_all_sessions).
    credential_epoch: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class UserTally(SQLModel, table=True):
    """How many accounts have 2FA on and off: the dashboard's counts without counting a
    million rows. One row (id 1), kept by database triggers on `app_user` (migration 0014),
    so every write path keeps it, SQL included (but SQLite's REPLACE); no row: no users."""

    __tablename__ = "user_tally"
    __table_args__ = (sa.CheckConstraint("id = 1", name="ck_user_tally_one_row"),)

    id: int = Field(default=1, primary_key=True)
    activated: int = Field(default=0, sa_type=sa.BigInteger)
    not_activated: int = Field(default=0, sa_type=sa.BigInteger)


class AuthSession(SQLModel, table=True):
    """A signed-in session. Only the SHA-256 of the browser's token is stored."""

    __tablename__ = "auth_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    user_id: int = Field(foreign_key="app_user.id", index=True, ondelete="CASCADE")
    created_at: datetime = Field(sa_column=_ts(nullable=False))
    last_seen_at: datetime = Field(sa_column=_ts(nullable=False))
    expires_at: datetime = Field(sa_column=_ts(nullable=False))
    fresh_proof_at: datetime = Field(sa_column=_ts(nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=_ts())
    # When this session proved a second factor (at sign-in, enrolment or a fresh proof):
    # only such sessions may approve another device's sign-in.
    second_factor_at: datetime | None = Field(default=None, sa_column=_ts())
    # The account's credential epoch when this session's factors were read (see User).
    credential_epoch: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class PendingLogin(SQLModel, table=True):
    """The password step of a 2FA user: waits for the second factor and grants nothing else."""

    __tablename__ = "pending_login"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    user_id: int = Field(foreign_key="app_user.id", index=True, ondelete="CASCADE")
    created_at: datetime = Field(sa_column=_ts(nullable=False))
    expires_at: datetime = Field(sa_column=_ts(nullable=False))
    failures: int = Field(default=0)
    ended_at: datetime | None = Field(default=None, sa_column=_ts())
    # The account's credential epoch when the password was checked (see User).
    credential_epoch: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class AuditEvent(SQLModel, table=True):
    """One security event. Never holds a password, code or secret."""

    __tablename__ = "audit_event"
    # An account's recent activity, newest first.
    __table_args__ = (sa.Index("ix_audit_event_user_id_id", "user_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=_ts(nullable=False, index=True))
    event: str = Field(max_length=64, index=True)
    user_id: int | None = Field(default=None, index=True)
    actor_id: int | None = Field(default=None)
    email: str | None = Field(default=None, max_length=254)
    detail: str = Field(default="", max_length=1000)
    # Where the event came from: the client's address (through trusted proxies only), its
    # user agent, and which session or pending login ("session 12", "pending 5").
    ip: str = Field(default="", max_length=64, sa_column_kwargs={"server_default": ""})
    user_agent: str = Field(default="", max_length=255, sa_column_kwargs={"server_default": ""})
    session_ref: str = Field(default="", max_length=32, sa_column_kwargs={"server_default": ""})


class BackupCode(SQLModel, table=True):
    """One single-use backup code, stored only as a salted argon2id hash."""

    __tablename__ = "backup_code"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True, ondelete="CASCADE")
    code_hash: str = Field(max_length=255)
    created_at: datetime = Field(sa_column=_ts(nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=_ts())


class LoginThrottle(SQLModel, table=True):
    """Failed password attempts per email address, known or not (so the throttle itself
    reveals nothing about which accounts exist). Keyed by the SHA-256 of the email."""

    __tablename__ = "login_throttle"

    key: str = Field(max_length=64, primary_key=True)
    failures: int = Field(default=0)
    blocked_until: datetime | None = Field(default=None, sa_column=_ts())
    updated_at: datetime = Field(sa_column=_ts(nullable=False, index=True))


class SecretReveal(SQLModel, table=True):
    """Something shown once for a short while (new backup codes), kept encrypted server-side
    so that the tab that asked for it can show it again after a reconnect, on any instance,
    until it expires. Browser-side state only ever holds the random `ref`."""

    __tablename__ = "secret_reveal"

    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    user_id: int = Field(foreign_key="app_user.id", index=True, ondelete="CASCADE")
    session_id: int = Field(foreign_key="auth_session.id", ondelete="CASCADE")
    ciphertext: str = Field(max_length=2000)
    expires_at: datetime = Field(sa_column=_ts(nullable=False, index=True))


class KnownDevice(SQLModel, table=True):
    """A browser that completed a sign-in for an account (by the SHA-256 of its device
    token): its password attempts, and once it signed in with a second factor its code
    attempts, are throttled apart from everyone else's, so strangers cannot lock the owner
    out (see `rxapp.services.devices`)."""

    __tablename__ = "known_device"
    __table_args__ = (sa.UniqueConstraint("user_id", "token_hash", name="uq_known_device"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True, ondelete="CASCADE")
    token_hash: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=_ts(nullable=False))
    last_used_at: datetime = Field(sa_column=_ts(nullable=False))
    # When this browser last completed a sign-in with a second factor since 2FA was last
    # turned on (None: not yet). Only such a browser has a code throttle of its own: one
    # known from password-only sign-ins (2FA off) shares the account's.
    second_factor_at: datetime | None = Field(default=None, sa_column=_ts())
    # This device's own second-factor throttle (the account's row counts every other one).
    second_factor_failures: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    second_factor_blocked_until: datetime | None = Field(default=None, sa_column=_ts())


class SpentLink(SQLModel, table=True):
    """A single-use signed link that has been used (by its nonce): it never works again."""

    __tablename__ = "spent_link"

    nonce: str = Field(max_length=64, primary_key=True)
    spent_at: datetime = Field(sa_column=_ts(nullable=False, index=True))


class SignInApproval(SQLModel, table=True):
    """A request, from the passcode page, that a signed-in device approve this sign-in by
    picking the number the waiting page shows (number matching). The tab states hold only
    the random `ref`; the number and the choices are stored encrypted."""

    __tablename__ = "sign_in_approval"

    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    pending_login_id: int = Field(foreign_key="pending_login.id", index=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="app_user.id", index=True, ondelete="CASCADE")
    created_at: datetime = Field(sa_column=_ts(nullable=False))
    expires_at: datetime = Field(sa_column=_ts(nullable=False))
    challenge: str = Field(max_length=512)
    status: str = Field(default="open", max_length=16)
    decided_at: datetime | None = Field(default=None, sa_column=_ts())
    decided_by_session_id: int | None = Field(default=None)
    consumed_at: datetime | None = Field(default=None, sa_column=_ts())
    requester_ip: str = Field(default="", max_length=64)
    requester_user_agent: str = Field(default="", max_length=255)


class Passkey(SQLModel, table=True):
    """A WebAuthn credential (passkey) of an account: its public key and signature counter.
    Nothing here is secret; the private key never leaves the authenticator."""

    __tablename__ = "passkey"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True, ondelete="CASCADE")
    credential_id: str = Field(max_length=1400, sa_column_kwargs={"unique": True})
    """base64url of the credential's raw id."""
    public_key: str = Field(max_length=4000)
    """base64url of the COSE public key."""
    sign_count: int = Field(default=0, sa_type=sa.BigInteger)
    name: str = Field(max_length=64)
    transports: str = Field(default="", max_length=255)
    created_at: datetime = Field(sa_column=_ts(nullable=False))
    last_used_at: datetime | None = Field(default=None, sa_column=_ts())


class PasskeyChallenge(SQLModel, table=True):
    """A WebAuthn challenge waiting for the browser's answer: one per binding (a session,
    a pending login or a connection, hashed) and purpose, single-use, short-lived."""

    __tablename__ = "passkey_challenge"
    __table_args__ = (
        sa.UniqueConstraint("binding", "purpose", name="uq_passkey_challenge_binding"),
    )

    id: int | None = Field(default=None, primary_key=True)
    binding: str = Field(max_length=64)
    purpose: str = Field(max_length=16)
    user_id: int | None = Field(
        default=None, foreign_key="app_user.id", index=True, ondelete="CASCADE"
    )
    challenge: str = Field(max_length=128)
    label: str = Field(default="", max_length=64)
    """The name given to a passkey being registered."""
    expires_at: datetime = Field(sa_column=_ts(nullable=False, index=True))
