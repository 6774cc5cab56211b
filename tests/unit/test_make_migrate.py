"""`make migrate` and `make run` refuse what they cannot use in one line, before acting."""

from __future__ import annotations

import os
import re

from cryptography.fernet import Fernet

from rxapp.closed_network import apply_closed_network_settings
from tests.conftest import run_command

MAKE_SAYS = re.compile(r"make(\[\d+\])?: ")


def test_an_unreachable_postgresql_database_is_one_line_not_a_traceback() -> None:
    env = apply_closed_network_settings(dict(os.environ))
    env["REFLEX_DB_URL"] = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"
    env["RXAPP_SECRET_KEY"] = Fernet.generate_key().decode()
    done = run_command(["make", "-s", "migrate"], env=env)
    assert done.returncode != 0
    # make's own "make: *** ... Error 1" ("make[1]: ..." under another make) aside.
    errors = [line for line in done.stderr.splitlines() if not MAKE_SAYS.match(line)]
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith("rxapp: error: the database at REFLEX_DB_URL: connection failed")
    assert "Traceback" not in done.stderr + done.stdout


def test_make_run_refuses_a_wrong_port_before_it_migrates_anything(tmp_path) -> None:
    env = apply_closed_network_settings(dict(os.environ))
    database = tmp_path / "never.db"
    env["REFLEX_DB_URL"] = f"sqlite:///{database}"
    done = run_command(["make", "-s", "run", "PORT=70000"], env=env)
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if not MAKE_SAYS.match(line)]
    assert errors == ["rxapp: error: the port must be a number from 1 to 65535, got '70000'"]
    assert "Bringing the database up to date" not in done.stdout
    assert not database.exists()
