"""Engine helpers shared by the app, the command line and the tests."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from rxapp.settings import SettingsError


@sa.event.listens_for(Engine, "connect")
def _tune_sqlite(dbapi_connection: object, _record: object) -> None:
    """WAL lets readers and one writer proceed together; busy_timeout makes writers queue
    instead of failing at once when several threads or processes write."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


@sa.event.listens_for(Engine, "engine_connect")
def _hide_parameters(connection: sa.Connection) -> None:
    """A database error's message (logged with its traceback) never carries the statement's
    parameters, which may be token digests, password hashes or encrypted secrets: for every
    engine, Reflex's included (its `get_engine` takes no such option)."""
    connection.engine.hide_parameters = True


def create_private_sqlite_file(url: str) -> None:
    """Create the file of a SQLite URL, readable by its owner only, if it does not exist yet
    (SQLite gives its -wal and -shm files the same mode)."""
    if not url.startswith("sqlite:///") or ":memory:" in url or "mode=memory" in url:
        return
    path = Path(url.split(":///", 1)[1].split("?", 1)[0])
    if not path.name:
        return
    if not path.parent.is_dir():  # a typo in the path: not a new, empty database elsewhere
        raise SettingsError(
            f"REFLEX_DB_URL names a SQLite file in {path.parent}, a folder that does not "
            "exist: create it first, or check the address"
        )
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)


@cache
def engine_for(url: str) -> Engine:
    """One engine per database URL for this process."""
    if url.startswith("sqlite"):
        # A streamed response may resume its generator on another thread of the pool; the
        # connection is never used by two threads at once.
        return create_engine(url, connect_args={"check_same_thread": False})
    return create_engine(url, pool_pre_ping=True)


@contextmanager
def session_for(url: str) -> Iterator[Session]:
    """A session on `url`; the caller commits."""
    with Session(engine_for(url), expire_on_commit=False) as db:
        yield db
