"""The `rxapp` command line: accounts and demo data, with clear errors and exit codes."""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.exc import OperationalError, ProgrammingError

from rxapp.closed_network import apply_closed_network_settings
from rxapp.settings import SettingsError

EXIT_OK, EXIT_USAGE, EXIT_ERROR = 0, 2, 1


class CommandError(Exception):
    """A message for the person at the terminal; the command exits non-zero."""


class UsageError(CommandError):
    """Arguments that do not go together; the command exits 2, as argparse's own errors."""


def _read_password(stdin: object) -> str:
    from rxapp.services.passwords import MAX_PASSWORD_LENGTH

    if stdin is None:
        raise CommandError("there is no standard input to read the password from.")
    try:
        if stdin.isatty():  # type: ignore[attr-defined]
            raise CommandError(
                "--password-stdin reads the password from a pipe, e.g. `echo ... |`."
            )
        # Enough to tell a password too long (refused as such), never a whole file.
        raw = stdin.read(MAX_PASSWORD_LENGTH + 3)  # type: ignore[attr-defined]
        raw.encode("utf-8")  # undecodable bytes arrive as lone surrogates
    except UnicodeError:
        raise CommandError("the password must be UTF-8 text.") from None
    except (OSError, ValueError):  # a closed or unreadable stream
        raise CommandError("standard input could not be read.") from None
    # One line ending comes from `echo` (or a Windows editor); the rest is the password.
    return raw.removesuffix("\n").removesuffix("\r") if raw.endswith("\n") else raw


def _create_user(args: argparse.Namespace) -> str:
    from rxapp.services import accounts
    from rxapp.services.clock import utcnow

    if not args.password_stdin:
        raise CommandError("give the password on standard input with --password-stdin.")
    password = _read_password(sys.stdin)
    with _Database() as db:
        try:
            user = accounts.create_user(db, args.email, password, now=utcnow(), is_admin=args.admin)
        except accounts.AccountError as error:
            raise CommandError(str(error)) from None
    role = "admin" if user.is_admin else "user"
    return f"Created {role} {user.email}."


def _existing_email(raw: str) -> str:
    """The email as accounts are stored by, or a clear refusal of a malformed one."""
    from rxapp.services.emails import email_problem, normalize_email

    email = normalize_email(raw)
    if problem := email_problem(email):
        raise CommandError(problem)
    return email


def _account(db, email: str):  # noqa: ANN001 (a Session, a User: imported late)
    """The account with `email`, or a clear refusal."""
    from rxapp.services import accounts

    user = accounts.find_user(db, email)
    if user is None:
        raise CommandError(f"no account with the email {email}.")
    return user


def _reset_2fa(args: argparse.Namespace) -> str:
    from rxapp.services import admin
    from rxapp.services.clock import utcnow
    from rxapp.services.mfa import flow as mfa

    if args.lost_key:
        if args.email is not None:
            raise UsageError("--lost-key resets every account the key cannot open: give no EMAIL.")
        return _reset_after_lost_key()
    if args.email is None:
        raise UsageError("give the account's email (or --lost-key after losing the key).")
    email = _existing_email(args.email)
    with _Database() as db:
        user = _account(db, email)
        if not mfa.has_second_factor(user) and user.totp_pending_secret is None:
            return f"Two-factor authentication is not active for {email}; nothing to reset."
        admin.reset_2fa(db, user.id, now=utcnow(), actor_id=None, via="command line")
    return f"Two-factor authentication reset for {email}: key, passkeys and backup codes deleted."


def _reset_after_lost_key() -> str:
    from rxapp.services import admin
    from rxapp.services.clock import utcnow

    with _Database(check_key=False) as db:
        done = admin.reset_after_lost_key(db, now=utcnow(), via="command line, lost key")
    if not (done.reset or done.enrolments_dropped or done.transient_dropped):
        return "The key opens every secret stored in the database: nothing to reset."
    lines = [
        f"Two-factor authentication reset for {len(done.reset):,} account(s) whose "
        "authenticator key the configured key cannot open (they sign in with their password "
        "alone, are told, and set 2FA up again):",
        *(f"  {email}" for email in done.reset),
    ]
    if done.enrolments_dropped:
        lines.append(f"{done.enrolments_dropped:,} 2FA setup(s) in progress start again.")
    if done.transient_dropped:
        lines.append(f"{done.transient_dropped:,} approval request(s) or code reveal(s) dropped.")
    return "\n".join(lines)


def _set_password(args: argparse.Namespace) -> str:
    from rxapp.services import accounts
    from rxapp.services.clock import utcnow

    email = _existing_email(args.email)
    if not args.password_stdin:
        raise CommandError("give the new password on standard input with --password-stdin.")
    password = _read_password(sys.stdin)
    with _Database() as db:
        problem = accounts.set_password(
            db, _account(db, email), password, now=utcnow(), via="command line"
        )
    if problem:
        raise CommandError(problem)
    return f"New password set for {email}: every session of the account is signed out."


def _set_admin(args: argparse.Namespace) -> str:
    from rxapp.services import admin
    from rxapp.services.clock import utcnow

    email = _existing_email(args.email)
    grant = not args.remove
    with _Database() as db:
        user = _account(db, email)
        changed = admin.set_admin(
            db, user, admin=grant, now=utcnow(), actor_id=None, via="command line"
        )
        none_left = not grant and not admin.has_admin(db)
    if not changed:
        return f"{email} {'is already' if grant else 'is not'} an admin; nothing changed."
    if grant:
        told = f"{email} is now an admin."
        if not user.twofa_active:
            told += " All users opens to them once they turn on two-factor authentication."
        return told
    told = f"{email} is no longer an admin."
    if none_left:
        told += " No admin is left: make one with `rxapp set-admin EMAIL`."
    return told


def _delete_user(args: argparse.Namespace) -> str:
    from rxapp.services import admin
    from rxapp.services.clock import utcnow

    email = _existing_email(args.email)
    with _Database() as db:
        user = _account(db, email)
        if not args.yes:
            raise UsageError(f"deleting {email} cannot be undone: run it again with --yes.")
        was_admin = user.is_admin
        admin.delete_account(db, user, now=utcnow(), actor_id=None, via="command line")
        none_left = was_admin and not admin.has_admin(db)
    told = (
        f"Deleted {email} with its sessions, authenticator key, backup codes and passkeys; "
        "its audit rows are kept."
    )
    if none_left:
        told += " No admin is left: make one with `rxapp set-admin EMAIL`."
    return told


def _status_filter(raw: str):  # a users_query.StatusFilter (imported late)
    """`--twofa`'s value as the dashboard's URL takes it, or argparse's usage error."""
    from rxapp.services import users_query

    try:
        return users_query.parse_filter(raw)
    except users_query.QueryError as error:
        allowed = ", ".join(status.value for status in users_query.StatusFilter)
        raise argparse.ArgumentTypeError(f"{error} Use one of: {allowed}.") from None


def _list_users(args: argparse.Namespace) -> None:
    from rxapp.services import users_export, users_query

    try:
        args.search.encode("utf-8")  # undecodable bytes arrive as lone surrogates
    except UnicodeError:
        raise UsageError("--search must be UTF-8 text.") from None
    with _Database() as db:
        lines = users_export.csv_lines(
            db,
            status=args.twofa,
            search=users_query.normalize_search(args.search),
            sort=users_query.SortKey.EMAIL,
            descending=False,
        )
        # The header and the first row before anything is written: a database that is not
        # ready fails here, not after a header that looks like an empty list.
        started = list(itertools.islice(lines, 2))
        try:
            for line in itertools.chain(started, lines):
                sys.stdout.write(line)
            sys.stdout.flush()
        except BrokenPipeError:  # `rxapp list-users | head`: the reader has what it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except OSError as error:  # a full disk, say
            raise CommandError(f"could not write the list: {error.strerror}.") from None


# Enough for any benchmark (the dashboard's is measured at 1,000,000), and a typo's
# extra digits stop here rather than filling the disk.
MAX_DEMO_USERS = 10_000_000


def _seed_demo(args: argparse.Namespace) -> str:
    from rxapp.services import demo, secretbox
    from rxapp.services.accounts import AccountError
    from rxapp.services.clock import utcnow
    from rxapp.settings import get_settings

    if not 0 <= args.users <= MAX_DEMO_USERS:
        raise CommandError(f"--users must be between 0 and {MAX_DEMO_USERS:,}.")
    secretbox.box()  # a usable key before anything is written
    if args.embedded_only and not get_settings().is_sqlite:
        # The demo admin's password is published: never seed it into a server database
        # by accident (make run honours REFLEX_DB_URL).
        return "Demo data skipped: REFLEX_DB_URL is a server database (seed it explicitly)."
    with _Database() as db:
        if args.if_empty and demo.has_users(db):
            return demo.still_demo(db) or "Demo data skipped: the database already has accounts."
        try:
            report = demo.seed(db, extra_users=args.users, now=utcnow(), progress=_progress)
        except AccountError as error:  # another seed-demo ran at the same time
            raise CommandError(f"{error} (another seed-demo may have run meanwhile)") from None
    return report


def _cluster_status(_args: argparse.Namespace) -> str:
    from rxapp.cluster.config import ClusterError, run_dir
    from rxapp.cluster.supervisor import Supervisor

    try:
        return "\n".join(s.line() for s in Supervisor(run_dir()).status())
    except ClusterError as error:
        raise CommandError(str(error)) from None


def _cluster_restart(args: argparse.Namespace) -> str:
    from rxapp.cluster.config import ClusterError, run_dir
    from rxapp.cluster.supervisor import Supervisor

    try:
        return Supervisor(run_dir()).restart(args.number).line()
    except ClusterError as error:
        raise CommandError(str(error)) from None


def _progress(done: int, total: int) -> None:
    print(f"  {done:,} / {total:,} users", file=sys.stderr, flush=True)


def _database_name() -> str:
    """The configured database for people: its URL without a password."""
    from sqlalchemy.engine import make_url

    from rxapp.settings import get_settings

    return make_url(get_settings().db_url).render_as_string(hide_password=True)


class _Database:
    """A session on the configured database, turning a missing schema into advice; the key
    is checked first (`check_key`: unless the command exists for a lost one)."""

    def __init__(self, *, check_key: bool = True) -> None:
        self._check_key = check_key

    def __enter__(self):
        from rxapp.services import secretbox
        from rxapp.services.database import session_for
        from rxapp.services.key_check import check_key
        from rxapp.settings import get_settings

        if not os.environ.get("REFLEX_DB_URL"):
            # Say so: an operator who forgot to export REFLEX_DB_URL would otherwise
            # create accounts in a file no instance of the cluster reads.
            print(
                "rxapp: note: REFLEX_DB_URL is not set: using the embedded database "
                f"{_database_name()}",
                file=sys.stderr,
            )
        missing = _missing_sqlite_file(get_settings().db_url)
        if missing is not None:  # a mistyped path: no empty database, no key file beside it
            raise CommandError(
                f"there is no database at {missing} ({_database_name()}): check REFLEX_DB_URL, "
                "or create it: `make migrate` with the same REFLEX_DB_URL"
            )
        if self._check_key:  # a wrong key: nothing is read or written with it
            check_key(get_settings().db_url)
        else:
            secretbox.box()  # a usable key all the same
        self._context = session_for(get_settings().db_url)
        return self._context.__enter__()

    def __exit__(self, kind, error, trace) -> bool:  # noqa: ANN001
        self._context.__exit__(kind, error, trace)
        if isinstance(error, OperationalError | ProgrammingError):
            if _schema_missing(error):
                raise CommandError(
                    f"the database is not ready: {_database_name()} (apply the migrations to "
                    f"it: `make migrate` with the same REFLEX_DB_URL): "
                    f"{str(error.orig).strip().splitlines()[0]}"
                ) from None
            reason = " ".join(str(error.orig).split())  # one line
            raise CommandError(
                f"the database cannot be used: {_database_name()}: {reason}"
            ) from None
        return False


def _missing_sqlite_file(db_url: str) -> Path | None:
    """The file of a SQLite URL when it does not exist (SQLite would create it empty)."""
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        return None
    if url.database.startswith("file:"):
        return None  # a URI: its own options say whether it may be created
    path = Path(url.database)
    return None if path.exists() else path


def _schema_missing(error: OperationalError | ProgrammingError) -> bool:
    """Whether the database answered but lacks the app's tables (not migrated yet), as
    opposed to being unreachable, missing or read-only."""
    text = str(error.orig)
    return (
        isinstance(error, ProgrammingError) or "no such table" in text or "no such column" in text
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `rxapp`."""
    parser = argparse.ArgumentParser(prog="rxapp", description="Manage rxapp accounts.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    create = commands.add_parser("create-user", help="create an account")
    create.add_argument("email")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    create.add_argument("--admin", action="store_true", help="make the account an admin")
    create.set_defaults(handler=_create_user)

    reset = commands.add_parser(
        "reset-2fa", help="turn a user's 2FA off (for a lost phone and lost backup codes)"
    )
    reset.add_argument("email", nargs="?")
    reset.add_argument(
        "--lost-key",
        action="store_true",
        help="after losing RXAPP_SECRET_KEY (or the key file): reset every account whose "
        "authenticator key the configured key cannot open",
    )
    reset.set_defaults(handler=_reset_2fa)

    password = commands.add_parser(
        "set-password", help="give a user a new password (for a forgotten one)"
    )
    password.add_argument("email")
    password.add_argument(
        "--password-stdin", action="store_true", help="read the new password from standard input"
    )
    password.set_defaults(handler=_set_password)

    role = commands.add_parser(
        "set-admin", help="make an account an admin (--remove: take the role away)"
    )
    role.add_argument("email")
    role.add_argument("--remove", action="store_true", help="take the admin role away")
    role.set_defaults(handler=_set_admin)

    remove = commands.add_parser(
        "delete-user", help="delete an account and everything tied to it (not its audit rows)"
    )
    remove.add_argument("email")
    remove.add_argument("--yes", action="store_true", help="confirm: it cannot be undone")
    remove.set_defaults(handler=_delete_user)

    listing = commands.add_parser(
        "list-users", help="every account as CSV, as the dashboard exports it, by email"
    )
    listing.add_argument(
        "--twofa",
        type=_status_filter,
        default="all",
        metavar="STATUS",
        help="only these accounts: activated, not_activated, required or has_passkey",
    )
    listing.add_argument(
        "--search",
        default="",
        help="only emails that start with this text (as the dashboard searches)",
    )
    listing.set_defaults(handler=_list_users)

    seed = commands.add_parser("seed-demo", help="add the demo accounts (and N synthetic users)")
    seed.add_argument("--users", type=int, default=0, metavar="N", help="synthetic users to add")
    seed.add_argument(
        "--if-empty", action="store_true", help="do nothing when accounts already exist"
    )
    seed.add_argument(
        "--embedded-only",
        action="store_true",
        help="do nothing unless the database is the embedded SQLite file",
    )
    seed.set_defaults(handler=_seed_demo)

    cluster = commands.add_parser(
        "cluster", help="the instances of `make run-cluster` (RXAPP_CLUSTER_DIR: its run folder)"
    )
    cluster_commands = cluster.add_subparsers(dest="action", required=True, metavar="ACTION")
    status = cluster_commands.add_parser("status", help="one line per instance")
    status.set_defaults(handler=_cluster_status)
    restart = cluster_commands.add_parser("restart", help="restart instance N")
    restart.add_argument("number", metavar="N", help="the instance's number, from 1")
    restart.set_defaults(handler=_cluster_restart)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; print errors as `rxapp: error: ...` and return an exit code."""
    apply_closed_network_settings()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        message = args.handler(args)
    except (CommandError, SettingsError) as error:
        print(f"rxapp: error: {error}", file=sys.stderr)
        return EXIT_USAGE if isinstance(error, UsageError) else EXIT_ERROR
    except KeyboardInterrupt:
        print("rxapp: interrupted (what was done before stays done)", file=sys.stderr)
        return 130
    if message is not None:
        print(message)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
