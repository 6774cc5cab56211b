"""Shared fixtures: a real, migrated database for service tests, on SQLite and PostgreSQL.

Every test that uses `db_url` or `db` runs on a fresh SQLite file (the embedded default),
migrated with Reflex's own `reflex db migrate`. Tests marked `both_databases` (where
PostgreSQL behaves differently: locking, concurrency, collation, case, types, dialect SQL)
run on PostgreSQL (the scale-out database) too; RXAPP_TEST_ALL_DATABASES=1 (`make test-all`)
runs every database test on both. PostgreSQL comes from RXAPP_TEST_POSTGRES_URL (default:
the local server, database `test`); a database of its own is created for each test worker
and dropped after. Without a reachable server those tests are skipped, unless
RXAPP_REQUIRE_SERVICES=1 (as in CI), where they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.config import Config
from cryptography.fernet import Fernet
from sqlalchemy.engine import make_url
from sqlmodel import Session

from alembic import command
from rxapp import runtime
from rxapp.services import secretbox
from rxapp.services.database import engine_for
from rxapp.settings import PROJECT_ROOT, get_settings

POSTGRES_ADMIN_URL = os.environ.get(
    "RXAPP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("RXAPP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SERVICES_REQUIRED = os.environ.get("RXAPP_REQUIRE_SERVICES") == "1"
ALL_DATABASES = os.environ.get("RXAPP_TEST_ALL_DATABASES") == "1"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "both_databases: also run on PostgreSQL, where it behaves unlike SQLite "
        "(locking, concurrency, collation, case, types, dialect SQL)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`db_url` is SQLite; also PostgreSQL for `both_databases` tests (or all, on request)."""
    if "db_url" in metafunc.fixturenames:
        both = ALL_DATABASES or metafunc.definition.get_closest_marker("both_databases")
        kinds = ["sqlite", "postgresql"] if both else ["sqlite"]
        metafunc.parametrize("db_url", kinds, indirect=True)


def run_command(
    command: list[str],
    *,
    env: dict[str, str],
    cwd: Path = PROJECT_ROOT,
    timeout: float = 120,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `command` as an operator would, its output captured as text (never raises on a
    non-zero exit: the tests read it)."""
    return subprocess.run(
        command,
        cwd=cwd,
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def services_unavailable(what: str, error: Exception) -> None:
    """Skip (on a developer's machine) or fail (in CI) when PostgreSQL or Redis is missing."""
    message = f"{what} is not reachable ({error.__class__.__name__}: {error})"
    if SERVICES_REQUIRED:
        pytest.fail(message + "; RXAPP_REQUIRE_SERVICES=1 requires it")
    pytest.skip(message + "; set RXAPP_TEST_POSTGRES_URL / start the service to run these")


def migrate(db_url: str) -> None:
    """Apply the committed migrations with Reflex's own command, as `make run` does."""
    runtime.migrate(db_url, cwd=PROJECT_ROOT)


def _alembic(db_url: str) -> Config:
    # No alembic.ini: its logging section would silence every logger already made (and
    # later tests' log captures).
    config = Config()
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    config.set_main_option("sqlalchemy.url", db_url)
    return config


def upgrade_to(db_url: str, revision: str) -> None:
    """Apply the migrations up to `revision`, in this process."""
    command.upgrade(_alembic(db_url), revision)


def downgrade_to(db_url: str, revision: str) -> None:
    """Undo the migrations after `revision`, in this process."""
    command.downgrade(_alembic(db_url), revision)


@contextmanager
def fresh_postgres_database(prefix: str, *, migrated: bool = True) -> Iterator[str]:
    """A migrated (or, with migrated=False, empty) PostgreSQL database of its own, dropped
    afterwards (skip or fail without a server, see `services_unavailable`)."""
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        admin.dispose()
        services_unavailable("PostgreSQL", error)
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        if migrated:
            migrate(url)
        yield url
    finally:
        engine_for(url).dispose()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def secret_key_set_to(key: str) -> Iterator[None]:
    """RXAPP_SECRET_KEY set to `key` for a while (settings and keys read afresh), then
    back as it was."""
    was = os.environ["RXAPP_SECRET_KEY"]
    os.environ["RXAPP_SECRET_KEY"] = key
    get_settings.cache_clear()
    secretbox.forget_keys()
    try:
        yield
    finally:
        os.environ["RXAPP_SECRET_KEY"] = was
        get_settings.cache_clear()
        secretbox.forget_keys()


@pytest.fixture(autouse=True, scope="session")
def _secret_key_for_tests() -> Iterator[None]:
    """A throwaway encryption key, so no test writes a key file into the project."""
    previous = os.environ.get("RXAPP_SECRET_KEY")
    os.environ["RXAPP_SECRET_KEY"] = previous or Fernet.generate_key().decode()
    get_settings.cache_clear()
    secretbox.forget_keys()
    yield
    if previous is None:
        os.environ.pop("RXAPP_SECRET_KEY", None)
    get_settings.cache_clear()
    secretbox.forget_keys()


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with every migration applied, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A migrated PostgreSQL database of this test session's own."""
    with fresh_postgres_database("rxapp_test") as url:
        yield url


def empty_postgres(url: str) -> None:
    """Delete every row (not the schema) of a PostgreSQL test database."""
    engine = engine_for(url)
    with engine.begin() as connection:
        tables = connection.execute(
            sa.text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            )
        ).scalars()
        names = ", ".join(f'"{t}"' for t in tables)
        connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def sqlite_db_url(migrated_sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh, migrated SQLite file for this test."""
    path = tmp_path / "test.db"
    shutil.copyfile(migrated_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def db_url(request: pytest.FixtureRequest) -> str:
    """The URL of a fresh, migrated database for this test (once per database kind, see
    `pytest_generate_tests`)."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_db_url")
    url = request.getfixturevalue("postgres_database")
    empty_postgres(url)
    return url


@pytest.fixture
def db(db_url: str) -> Iterator[Session]:
    """A session on a fresh, migrated database."""
    with Session(engine_for(db_url), expire_on_commit=False) as session:
        yield session


def stored_bytes(db_url: str) -> bytes:
    """Everything the database holds, as bytes, to search for what must never be stored."""
    if db_url.startswith("sqlite"):
        path = Path(db_url.removeprefix("sqlite:///"))
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    engine = engine_for(db_url)
    chunks = []
    with engine.connect() as connection:
        for table in sa.inspect(connection).get_table_names():
            rows = connection.execute(sa.text(f'SELECT t::text FROM "{table}" t')).scalars()
            chunks.extend(row.encode() for row in rows)
    return b"\n".join(chunks)
