"""`make migrate` (and so `make run`) on a server database: one line when it cannot."""

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
