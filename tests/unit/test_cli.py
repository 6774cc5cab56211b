"""The `rxapp` command line: exit codes and messages, in-process and as the installed script."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlmodel import select

from rxapp import cli
from rxapp.closed_network import apply_closed_network_settings
from rxapp.models import AuditEvent, AuthSession, KnownDevice, PendingLogin, User, UserTally
from rxapp.services import (
    accounts,
    audit,
    devices,
    passwords,
    secretbox,
    sessions,
    users_export,
)
from rxapp.settings import get_settings
from tests.conftest import run_command, secret_key_set_to

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
RXAPP_SCRIPT = Path(sys.executable).parent / "rxapp"


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def use_db(monkeypatch):
    """Point the command line at a database URL, with settings read afresh."""

    def use(url: str) -> None:
        monkeypatch.setenv("REFLEX_DB_URL", url)
        get_settings.cache_clear()

    yield use
    get_settings.cache_clear()


@pytest.fixture
def rxapp(db_url, use_db, monkeypatch, capsys):
    """Run `rxapp ARGS` in this process with `stdin` as standard input."""
    use_db(db_url)

    def run(*args: str, stdin: str | io.TextIOBase | None = "") -> Outcome:
        stream = io.StringIO(stdin) if isinstance(stdin, str) else stdin
        monkeypatch.setattr(sys, "stdin", stream)
        capsys.readouterr()
        code = cli.main(list(args))
        out, err = capsys.readouterr()
        return Outcome(code, out, err)

    return run


def _user(db, email: str) -> User | None:
    db.expire_all()
    return db.exec(select(User).where(User.email == email)).first()


# create-user ----------------------------------------------------------------------------------


def test_create_user_succeeds_with_the_password_from_stdin(rxapp, db):
    result = rxapp("create-user", "Bob@Example.com", "--password-stdin", stdin="bob-password-1\n")

    assert result == Outcome(0, "Created user bob@example.com.\n", "")
    user = _user(db, "bob@example.com")
    assert user is not None
    assert user.is_admin is False
    # The newline from `echo` is not part of the password.
    assert accounts.check_password_step(db, "bob@example.com", "bob-password-1", now=NOW).user
    assert not accounts.check_password_step(db, "bob@example.com", "bob-password-1\n", now=NOW).user


def test_create_user_with_admin_flag_makes_an_admin(rxapp, db):
    result = rxapp(
        "create-user", "root@example.com", "--password-stdin", "--admin", stdin="r00t-pass"
    )

    assert result == Outcome(0, "Created admin root@example.com.\n", "")
    assert _user(db, "root@example.com").is_admin is True


def test_only_one_trailing_newline_is_taken_off_the_password(rxapp, db):
    rxapp("create-user", "bob@example.com", "--password-stdin", stdin="  spaced pw  \n\n")

    assert accounts.check_password_step(db, "bob@example.com", "  spaced pw  \n", now=NOW).user
    assert not accounts.check_password_step(db, "bob@example.com", "  spaced pw  ", now=NOW).user


@pytest.mark.both_databases
def test_duplicate_email_is_refused_whatever_its_case(rxapp, db):
    rxapp("create-user", "bob@example.com", "--password-stdin", stdin="bob-password-1\n")

    result = rxapp("create-user", "BOB@example.com", "--password-stdin", stdin="other-password\n")

    assert result.code == 1
    assert result.out == ""
    assert result.err == (
        "rxapp: error: An account with the email bob@example.com already exists.\n"
    )
    assert accounts.check_password_step(db, "bob@example.com", "bob-password-1", now=NOW).user


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("", "Enter a password."),
        ("\n", "Enter a password."),
        ("seven77\n", "The password must have at least 8 characters."),
        ("x" * 1025, "The password must have at most 1024 characters."),
    ],
    ids=["empty", "only-newline", "7-chars", "1025-chars"],
)
def test_unusable_password_is_refused(rxapp, db, stdin, message):
    result = rxapp("create-user", "bob@example.com", "--password-stdin", stdin=stdin)

    assert result == Outcome(1, "", f"rxapp: error: {message}\n")
    assert _user(db, "bob@example.com") is None


@pytest.mark.parametrize("email", ["not-an-email", "bob@localhost", "b b@example.com", ""])
def test_bad_email_is_refused(rxapp, db, email):
    result = rxapp("create-user", email, "--password-stdin", stdin="bob-password-1\n")

    assert result.code == 1
    assert result.out == ""
    assert result.err.startswith("rxapp: error: Enter ")
    assert "email address" in result.err
    assert db.exec(select(User)).all() == []


def test_password_is_never_echoed_on_error(rxapp):
    password = "a-secret-password-123"

    result = rxapp("create-user", "not-an-email", "--password-stdin", stdin=password)

    assert password not in result.out + result.err


def test_missing_password_stdin_flag_is_refused(rxapp, db):
    result = rxapp("create-user", "bob@example.com", stdin="bob-password-1\n")

    assert result == Outcome(
        1, "", "rxapp: error: give the password on standard input with --password-stdin.\n"
    )
    assert _user(db, "bob@example.com") is None


def test_password_stdin_from_a_terminal_is_refused(rxapp, db):
    result = rxapp(
        "create-user", "bob@example.com", "--password-stdin", stdin=_Terminal("bob-password-1\n")
    )

    assert result.code == 1
    assert "--password-stdin reads the password from a pipe" in result.err
    assert _user(db, "bob@example.com") is None


def test_created_user_is_audited_without_the_password(rxapp, db):
    rxapp("create-user", "bob@example.com", "--password-stdin", stdin="bob-password-1\n")

    rows = db.exec(select(AuditEvent)).all()
    assert [(r.event, r.email) for r in rows] == [("user_created", "bob@example.com")]
    assert all("bob-password-1" not in str(v) for r in rows for v in r.model_dump().values())


@pytest.mark.parametrize(
    "args",
    [[], ["create-user"], ["no-such-command"], ["seed-demo", "--users", "many"]],
    ids=["no-command", "no-email", "unknown-command", "non-numeric-users"],
)
def test_usage_errors_exit_with_2(rxapp, capsys, args):
    with pytest.raises(SystemExit) as exited:
        rxapp(*args)

    assert exited.value.code == 2
    assert "usage: rxapp" in capsys.readouterr().err


@pytest.mark.both_databases
def test_unmigrated_database_gives_advice_not_a_traceback(rxapp, use_db, tmp_path):
    (tmp_path / "empty.db").touch()  # what `sqlite3 empty.db` or a failed migrate leaves
    use_db(f"sqlite:///{tmp_path / 'empty.db'}")

    result = rxapp("create-user", "bob@example.com", "--password-stdin", stdin="bob-password-1\n")

    assert result.code == 1
    assert result.err.startswith("rxapp: error: the database is not ready")
    assert "Traceback" not in result.err


# set-password ---------------------------------------------------------------------------------

OLD_PASSWORD = "erin's old password"
NEW_PASSWORD = "erin's new password"


@pytest.fixture
def erin(db) -> User:
    """An account with 2FA on, a session, a pending sign-in and a known browser."""
    now = datetime.now(UTC)
    user = accounts.create_user(db, "erin@example.com", OLD_PASSWORD, now=now)
    sealed = secretbox.encrypt("JBSWY3DPEHPK3PXP")  # the CLI checks that its key opens it
    user.totp_secret, user.totp_enabled_at, user.twofa_active = sealed, now, True
    db.add(user)
    db.commit()
    sessions.start_session(db, user, epoch=user.credential_epoch, now=now)
    sessions.start_pending_login(db, user, now=now)
    devices.remember(db, user.id, "d" * 64, now=now)
    db.commit()
    return user


def _signs_in(db, password: str) -> bool:
    db.expire_all()  # read afresh, as a new request would
    step = accounts.check_password_step(db, "erin@example.com", password, now=datetime.now(UTC))
    return step.user is not None


@pytest.mark.both_databases
def test_set_password_replaces_the_password_and_signs_every_session_out(rxapp, db, erin):
    result = rxapp(
        "set-password", " Erin@Example.com ", "--password-stdin", stdin=NEW_PASSWORD + "\n"
    )

    assert result.code == 0
    assert result.out.strip() == (
        "New password set for erin@example.com: every session of the account is signed out."
    )
    db.expire_all()
    now = datetime.now(UTC)
    assert db.exec(select(AuthSession).where(AuthSession.revoked_at.is_(None))).all() == []
    assert db.exec(select(PendingLogin).where(PendingLogin.ended_at.is_(None))).all() == []
    assert db.exec(select(KnownDevice)).all() == []
    assert not _signs_in(db, OLD_PASSWORD)
    assert _signs_in(db, NEW_PASSWORD)
    assert db.get(User, erin.id).twofa_active  # the second factor is the person's own
    assert sessions.live_sessions(db, [], now=now) == {}


def test_set_password_is_audited_without_the_password(rxapp, db, erin):
    rxapp("set-password", "erin@example.com", "--password-stdin", stdin=NEW_PASSWORD)

    db.expire_all()
    rows = db.exec(select(AuditEvent).where(AuditEvent.event == "password_reset")).all()
    assert [(row.user_id, row.detail) for row in rows] == [(erin.id, "via=command line")]
    everything = " ".join(f"{r.event} {r.detail} {r.email}" for r in db.exec(select(AuditEvent)))
    assert NEW_PASSWORD not in everything and OLD_PASSWORD not in everything


def test_set_password_lifts_the_wait_the_forgotten_password_ran_into(rxapp, db, erin):
    for _ in range(8):
        accounts.check_password_step(db, "erin@example.com", "a wrong guess", now=datetime.now(UTC))
    assert (
        accounts.check_password_step(
            db, "erin@example.com", OLD_PASSWORD, now=datetime.now(UTC)
        ).wait_seconds
        > 0
    )

    rxapp("set-password", "erin@example.com", "--password-stdin", stdin=NEW_PASSWORD)

    assert _signs_in(db, NEW_PASSWORD)


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("", "Enter a password."),
        ("\n", "Enter a password."),
        ("short", "The password must have at least"),
        ("x" * 5000, "The password must have at most"),
    ],
    ids=["empty", "newline", "short", "huge"],
)
def test_set_password_refuses_a_password_the_policy_refuses_and_changes_nothing(
    rxapp, db, erin, stdin, message
):
    result = rxapp("set-password", "erin@example.com", "--password-stdin", stdin=stdin)

    assert result.code == 1
    assert result.err.startswith(f"rxapp: error: {message}")
    assert "Traceback" not in result.err
    assert _signs_in(db, OLD_PASSWORD)
    db.expire_all()
    assert db.exec(select(AuthSession).where(AuthSession.revoked_at.is_(None))).all() != []


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("nobody@example.com", "no account with the email nobody@example.com."),
        ("not-an-email", "Enter a valid email address"),
    ],
    ids=["unknown", "malformed"],
)
def test_set_password_for_no_such_account_fails_clearly(rxapp, db, erin, email, message):
    result = rxapp("set-password", email, "--password-stdin", stdin=NEW_PASSWORD)

    assert result.code == 1
    assert result.err.startswith(f"rxapp: error: {message}")
    assert _signs_in(db, OLD_PASSWORD)


def test_set_password_reads_the_password_only_from_a_pipe(rxapp, db, erin):
    missing = rxapp("set-password", "erin@example.com", stdin=NEW_PASSWORD)
    typed = rxapp("set-password", "erin@example.com", "--password-stdin", stdin=_Terminal("x"))

    assert missing.code == typed.code == 1
    assert "--password-stdin" in missing.err
    assert "from a pipe" in typed.err
    assert _signs_in(db, OLD_PASSWORD)


def _closed() -> io.StringIO:
    stream = io.StringIO("a password")
    stream.close()
    return stream


def _undecodable() -> io.TextIOWrapper:
    """Bytes that are not UTF-8, as Python's own stdin passes them on (lone surrogates)."""
    return io.TextIOWrapper(io.BytesIO(b"caf\xe9-password"), errors="surrogateescape")


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        (_undecodable, "the password must be UTF-8 text."),
        (_closed, "standard input could not be read."),
        (lambda: None, "there is no standard input to read the password from."),
        (lambda: "p" * 10_000_000, "The password must have at most"),
    ],
    ids=["not-utf-8", "closed", "none", "ten-megabytes"],
)
@pytest.mark.parametrize("command", ["set-password", "create-user"])
def test_a_password_that_cannot_be_read_as_one_is_refused_in_one_line(
    rxapp, db, erin, stdin, message, command
):
    result = rxapp(command, "erin@example.com", "--password-stdin", stdin=stdin())

    assert result.code == 1
    assert result.err.startswith(f"rxapp: error: {message}")
    assert "Traceback" not in result.err
    assert _signs_in(db, OLD_PASSWORD)


def test_a_password_ending_with_a_windows_line_end_is_the_password_without_it(rxapp, db, erin):
    rxapp("set-password", "erin@example.com", "--password-stdin", stdin=NEW_PASSWORD + "\r\n")

    assert _signs_in(db, NEW_PASSWORD)


# set-admin ------------------------------------------------------------------------------------


def _roles(db) -> dict[str, bool]:
    db.expire_all()
    return {user.email: user.is_admin for user in db.exec(select(User))}


def _role_rows(db) -> list[tuple[str, str, str | None]]:
    rows = db.exec(
        select(AuditEvent).where(AuditEvent.event.in_(["admin_granted", "admin_removed"]))
    )
    return [(row.event, row.detail, row.email) for row in rows]


@pytest.mark.both_databases
def test_set_admin_makes_an_existing_account_an_admin_and_remove_takes_it_away(rxapp, db, erin):
    accounts.create_user(db, "root@example.com", "root's long password", now=NOW, is_admin=True)

    made = rxapp("set-admin", " Erin@Example.com ")
    assert made == Outcome(0, "erin@example.com is now an admin.\n", "")
    assert _roles(db) == {"erin@example.com": True, "root@example.com": True}

    taken = rxapp("set-admin", "erin@example.com", "--remove")
    assert taken == Outcome(0, "erin@example.com is no longer an admin.\n", "")
    assert _roles(db) == {"erin@example.com": False, "root@example.com": True}
    assert _role_rows(db) == [
        ("admin_granted", "via=command line", "erin@example.com"),
        ("admin_removed", "via=command line", "erin@example.com"),
    ]


def test_set_admin_tells_when_nothing_changes_and_writes_nothing(rxapp, db, erin):
    assert rxapp("set-admin", "erin@example.com", "--remove") == Outcome(
        0, "erin@example.com is not an admin; nothing changed.\n", ""
    )
    rxapp("set-admin", "erin@example.com")
    assert rxapp("set-admin", "erin@example.com") == Outcome(
        0, "erin@example.com is already an admin; nothing changed.\n", ""
    )
    assert [event for event, _, _ in _role_rows(db)] == ["admin_granted"]


def test_a_new_admin_without_2fa_is_told_what_opens_all_users(rxapp, db):
    accounts.create_user(db, "finn@example.com", "finn's long password", now=NOW)

    result = rxapp("set-admin", "finn@example.com")

    assert result.code == 0
    assert result.out == (
        "finn@example.com is now an admin. All users opens to them once they turn on "
        "two-factor authentication.\n"
    )


def test_taking_the_last_admin_role_away_says_how_to_make_one(rxapp, db, erin):
    rxapp("set-admin", "erin@example.com")

    result = rxapp("set-admin", "erin@example.com", "--remove")

    assert result.out == (
        "erin@example.com is no longer an admin. No admin is left: make one with "
        "`rxapp set-admin EMAIL`.\n"
    )


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("nobody@example.com", "no account with the email nobody@example.com."),
        ("not-an-email", "Enter a valid email address"),
        ("", "Enter your email address"),
        ("é" * 300 + "@example.com", "Enter a valid email address"),
    ],
    ids=["unknown", "malformed", "empty", "huge"],
)
def test_set_admin_for_no_such_account_fails_clearly(rxapp, db, erin, email, message):
    result = rxapp("set-admin", email)

    assert result.code == 1
    assert result.err.startswith(f"rxapp: error: {message}")
    assert "Traceback" not in result.err
    assert _roles(db) == {"erin@example.com": False}


# seed-demo ------------------------------------------------------------------------------------


def test_seed_demo_adds_the_demo_accounts_once(rxapp, db):
    first = rxapp("seed-demo")
    second = rxapp("seed-demo")

    assert first.code == 0
    assert "admin@example.com" in first.out
    assert second == Outcome(0, "Demo accounts already exist; nothing added.\n", "")
    assert len(db.exec(select(User)).all()) == 4


def test_seed_demo_users_n_adds_n_synthetic_users(rxapp, db):
    result = rxapp("seed-demo", "--users", "5")

    assert result.code == 0
    assert "5 synthetic users" in result.out
    assert "5 / 5 users" in result.err
    emails = db.exec(select(User.email)).all()
    assert len([e for e in emails if e.endswith("@users.example.com")]) == 5
    assert len(emails) == 4 + 5


def test_seed_demo_if_empty_skips_a_database_with_accounts(rxapp, db):
    rxapp("create-user", "bob@example.com", "--password-stdin", stdin="bob-password-1\n")

    result = rxapp("seed-demo", "--if-empty")

    assert result == Outcome(0, "Demo data skipped: the database already has accounts.\n", "")
    assert [u.email for u in db.exec(select(User)).all()] == ["bob@example.com"]


@pytest.mark.parametrize("count", ["-1", "10000001", "99999999999999999999"])
def test_seed_demo_refuses_a_negative_or_huge_count(rxapp, db, count):
    result = rxapp("seed-demo", "--users", count)

    error = "rxapp: error: --users must be between 0 and 10,000,000.\n"
    assert result == Outcome(1, "", error)
    assert db.exec(select(User)).all() == []


def test_seed_demo_checks_the_key_before_writing_anything(rxapp, db):
    with secret_key_set_to("not a key"):
        result = rxapp("seed-demo")
    assert result.code == 1
    assert result.err.startswith("rxapp: error: the key in RXAPP_SECRET_KEY is not a Fernet key")
    assert db.exec(select(User)).all() == []


def test_a_key_that_does_not_open_the_stored_secrets_is_refused(rxapp, db, erin):
    """A valid key, but not the one the database's TOTP secrets were made with: every
    code would be refused as wrong. The command stops before reading or writing."""
    with secret_key_set_to(Fernet.generate_key().decode()):
        result = rxapp("reset-2fa", "erin@example.com")
    assert result.code == 1
    assert "does not decrypt the TOTP secrets stored in this database" in result.err
    db.expire_all()
    assert db.exec(select(User).where(User.email == "erin@example.com")).one().twofa_active


# The installed console script -----------------------------------------------------------------


@pytest.mark.both_databases
def test_installed_console_script_creates_users_and_fails_on_bad_input(db_url, db):
    assert RXAPP_SCRIPT.is_file(), f"console script missing: {RXAPP_SCRIPT}"
    env = apply_closed_network_settings(dict(os.environ))
    env["REFLEX_DB_URL"] = db_url

    def run(*args: str, stdin: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(RXAPP_SCRIPT), *args],
            input=stdin,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    created = run("create-user", "carl@example.com", "--password-stdin", stdin="carl-password\n")
    duplicate = run("create-user", "carl@example.com", "--password-stdin", stdin="other-pass\n")
    bad_email = run("create-user", "not-an-email", "--password-stdin", stdin="carl-password\n")

    assert (created.returncode, created.stdout, created.stderr) == (
        0,
        "Created user carl@example.com.\n",
        "",
    )
    assert duplicate.returncode == 1
    assert (
        duplicate.stderr
        == "rxapp: error: An account with the email carl@example.com already exists.\n"
    )
    assert bad_email.returncode == 1
    assert bad_email.stderr.startswith("rxapp: error: Enter a valid email address")
    assert accounts.check_password_step(db, "carl@example.com", "carl-password", now=NOW).user


def test_make_runs_seed_leaves_a_server_database_alone(monkeypatch, capsys):
    # What `make run` calls: with REFLEX_DB_URL naming a server database, nothing is
    # written there (the demo admin's password is published in the README).
    monkeypatch.setenv("REFLEX_DB_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    get_settings.cache_clear()
    try:
        code = cli.main(["seed-demo", "--if-empty", "--embedded-only"])
    finally:
        get_settings.cache_clear()
    assert code == 0
    assert "server database" in capsys.readouterr().out


def test_seed_demo_if_empty_repeats_the_accounts_that_keep_their_demo_password(rxapp, db):
    rxapp("seed-demo")
    alice = db.exec(select(User).where(User.email == "alice@example.com")).one()
    alice.password_hash = passwords.hash_password("a-private-password")
    db.add(alice)
    db.commit()

    result = rxapp("seed-demo", "--if-empty")

    assert result.code == 0
    assert "admin@example.com  password: admin-demo-1234" in result.out
    assert "bob@example.com" in result.out
    assert "alice@example.com" not in result.out


def test_a_sqlite_file_in_a_missing_folder_without_a_key_is_one_line(tmp_path):
    env = apply_closed_network_settings(dict(os.environ))
    env.pop("RXAPP_SECRET_KEY", None)
    env["REFLEX_DB_URL"] = f"sqlite:///{tmp_path}/missing/x.db"
    done = run_command([str(RXAPP_SCRIPT), "reset-2fa", "a@example.com"], env=env)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        f"rxapp: error: there is no database at {tmp_path}/missing/x.db "
        f"(sqlite:///{tmp_path}/missing/x.db): check REFLEX_DB_URL, or create it: "
        "`make migrate` with the same REFLEX_DB_URL"
    )
    assert "Traceback" not in done.stderr


# delete-user and list-users ---------------------------------------------------------------


def _rows_of(db, model, user_id: int) -> int:
    db.expire_all()
    return len(db.exec(select(model).where(model.user_id == user_id)).all())


@pytest.mark.both_databases
def test_delete_user_deletes_the_account_and_what_hangs_on_it_and_keeps_the_audit(rxapp, db, erin):
    erin_id = erin.id
    assert _rows_of(db, AuthSession, erin_id) == 1
    activated_before = db.exec(select(UserTally)).one().activated
    rxapp("set-admin", "erin@example.com")  # something an admin changed, told at sign-in

    result = rxapp("delete-user", " Erin@Example.com ", "--yes")

    assert result.code == 0
    assert result.out.startswith(
        "Deleted erin@example.com with its sessions, authenticator key, backup codes and "
        "passkeys; its audit rows are kept."
    )
    assert _user(db, "erin@example.com") is None
    for model in (AuthSession, PendingLogin, KnownDevice):
        assert _rows_of(db, model, erin_id) == 0, model.__name__
    audit_rows = db.exec(
        select(AuditEvent).where(AuditEvent.user_id == erin_id).order_by(AuditEvent.id)
    ).all()
    assert audit_rows[-1].event == "account_deleted"
    assert audit_rows[-1].detail == "via=command line"
    assert len(audit_rows) > 1  # what happened before stays
    db.expire_all()
    tally = db.exec(select(UserTally)).one()
    assert tally.activated == activated_before - 1
    # The address is free again, for a new account with nothing of the old one.
    # (On SQLite it may even get the deleted account's id: none of its audit rows shows.)
    assert (
        rxapp("create-user", "erin@example.com", "--password-stdin", stdin=OLD_PASSWORD).code == 0
    )
    new = _user(db, "erin@example.com")
    assert not new.twofa_active
    assert audit.admin_changes_since(db, new.id, None) == []
    assert audit.failed_codes_since(db, new.id, None) is None
    assert audit.recent_activity(db, new.id) == []


def test_delete_user_without_yes_deletes_nothing_and_says_how(rxapp, db, erin):
    result = rxapp("delete-user", "erin@example.com")

    assert result.code == 2
    assert result.err == (
        "rxapp: error: deleting erin@example.com cannot be undone: run it again with --yes.\n"
    )
    assert _user(db, "erin@example.com") is not None


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("nobody@example.com", "no account with the email nobody@example.com."),
        ("not-an-email", "Enter a valid email address"),
        ("", "Enter your email address"),
    ],
    ids=["unknown", "malformed", "empty"],
)
def test_delete_user_of_no_such_account_fails_clearly(rxapp, db, erin, email, message):
    result = rxapp("delete-user", email, "--yes")

    assert result.code == 1
    assert result.err.startswith(f"rxapp: error: {message}")
    assert _user(db, "erin@example.com") is not None


def test_deleting_the_last_admin_says_how_to_make_one(rxapp, db, erin):
    rxapp("set-admin", "erin@example.com")

    result = rxapp("delete-user", "erin@example.com", "--yes")

    assert result.out.endswith(" No admin is left: make one with `rxapp set-admin EMAIL`.\n")


@pytest.mark.both_databases
def test_list_users_prints_the_dashboards_csv_filtered_and_searched(rxapp, db, erin):
    accounts.create_user(db, "frank@example.com", "frank's long password", now=NOW)

    everyone = rxapp("list-users")
    activated = rxapp("list-users", "--twofa", "Activated")
    searched = rxapp("list-users", "--search", " FR ")

    header = ",".join(users_export.HEADER)
    assert everyone.code == activated.code == searched.code == 0
    assert everyone.out.splitlines()[0] == header
    assert [line.split(",")[:2] for line in everyone.out.splitlines()[1:]] == [
        ["erin@example.com", "Activated"],
        ["frank@example.com", "Not activated"],
    ]
    assert [line.split(",")[0] for line in activated.out.splitlines()[1:]] == ["erin@example.com"]
    assert [line.split(",")[0] for line in searched.out.splitlines()[1:]] == ["frank@example.com"]


def test_list_users_refuses_an_unknown_filter_with_the_allowed_ones(db_url):
    done = run_command(
        [str(RXAPP_SCRIPT), "list-users", "--twofa", "bogus"],
        env={**os.environ, "REFLEX_DB_URL": db_url},
    )

    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines()[-1] == (
        "rxapp list-users: error: argument --twofa: Unknown 2FA filter 'bogus'. Use one of: "
        "all, activated, not_activated, required, has_passkey."
    )


def test_list_users_into_a_pipe_closed_early_ends_quietly(db_url, tmp_path):
    env = {**os.environ, "REFLEX_DB_URL": db_url}
    seeded = run_command([str(RXAPP_SCRIPT), "seed-demo", "--users", "3000"], env=env)
    assert seeded.returncode == 0, seeded.stderr

    done = subprocess.run(
        f"'{RXAPP_SCRIPT}' list-users | head -n 2",
        shell=True,  # a fixed command line: the pipe is the point
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.stdout.splitlines()[1].startswith("admin@example.com,")
    assert done.stderr == ""


def test_list_users_on_a_database_not_migrated_writes_no_header_before_the_error(tmp_path):
    (tmp_path / "new.db").touch()
    env = {**os.environ, "REFLEX_DB_URL": f"sqlite:///{tmp_path / 'new.db'}"}

    done = run_command([str(RXAPP_SCRIPT), "list-users"], env=env)

    assert done.returncode == 1
    assert done.stdout == ""  # `> users.csv` is not left looking like an empty list
    assert done.stderr.startswith("rxapp: error: the database is not ready")


@pytest.mark.parametrize(
    "command", [["list-users"], ["create-user", "bob@example.com", "--password-stdin"]]
)
def test_a_mistyped_database_path_is_named_and_nothing_is_created_there(tmp_path, command):
    typo = tmp_path / "rxap.db"
    env = {**os.environ, "REFLEX_DB_URL": f"sqlite:///{typo}"}

    done = run_command([str(RXAPP_SCRIPT), *command], env=env, input="bob-password-1\n")

    assert done.returncode == 1
    assert done.stderr == (
        f"rxapp: error: there is no database at {typo} (sqlite:///{typo}): check "
        "REFLEX_DB_URL, or create it: `make migrate` with the same REFLEX_DB_URL\n"
    )
    assert list(tmp_path.iterdir()) == []  # no empty database, no key file beside it


def test_list_users_refuses_a_search_that_is_not_utf8_and_a_full_disk_clearly(db_url):
    env = {**os.environ, "REFLEX_DB_URL": db_url}
    search = os.fsdecode(b"\xff")  # as the shell passes undecodable bytes

    undecodable = run_command([str(RXAPP_SCRIPT), "list-users", "--search", search], env=env)
    with open("/dev/full", "w") as full:
        unwritable = subprocess.run(
            [str(RXAPP_SCRIPT), "list-users"],
            env=env,
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )

    assert (undecodable.returncode, undecodable.stderr) == (
        2,
        "rxapp: error: --search must be UTF-8 text.\n",
    )
    assert (unwritable.returncode, unwritable.stderr) == (
        1,
        "rxapp: error: could not write the list: No space left on device.\n",
    )
