"""Shared fixtures: a real, migrated database for service tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session

from rxapp.closed_network import apply_closed_network_settings
from rxapp.services.database import engine_for
from rxapp.settings import PROJECT_ROOT


def migrate(db_url: str) -> None:
    """Apply the committed migrations with Reflex's own command, as `make run` does."""
    env = apply_closed_network_settings(dict(__import__("os").environ))
    env["REFLEX_DB_URL"] = db_url
    result = subprocess.run(
        [sys.executable, "-m", "reflex", "db", "migrate"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"migrations failed:\n{result.stdout}\n{result.stderr}")


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with every migration applied, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
def db_url(migrated_sqlite_template: Path, tmp_path: Path) -> str:
    """The URL of a fresh, migrated database for this test."""
    path = tmp_path / "test.db"
    shutil.copyfile(migrated_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def db(db_url: str) -> Iterator[Session]:
    """A session on a fresh, migrated database."""
    with Session(engine_for(db_url), expire_on_commit=False) as session:
        yield session
