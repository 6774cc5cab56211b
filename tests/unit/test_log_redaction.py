"""Client tokens never reach the log through Reflex's own warnings."""

from __future__ import annotations

import logging
import uuid

import pytest

from rxapp import log_redaction


@pytest.fixture(autouse=True)
def installed():
    log_redaction.install()


@pytest.mark.parametrize("name", log_redaction.LOGGERS)
def test_a_client_token_in_a_reflex_warning_is_withheld(caplog, name):
    token = str(uuid.uuid4())
    with caplog.at_level(logging.WARNING, logger=name):
        # Reflex's own wording (reflex/app.py, emit_update).
        logging.getLogger(name).warning(
            f"Attempting to send delta to disconnected client {token!r}"
        )
        logging.getLogger(name).warning("Lock for token %s_%s was held too long", token, "state")

    text = caplog.text
    assert token not in text and token.upper() not in text
    assert "disconnected client '<client token>'" in text
    assert "Lock for token <client token>_state" in text


def test_installing_twice_adds_one_filter():
    log_redaction.install()
    for name in log_redaction.LOGGERS:
        filters = logging.getLogger(name).filters
        assert sum(isinstance(f, log_redaction.RedactClientTokens) for f in filters) == 1


def test_lines_without_a_token_are_left_as_they_are(caplog):
    with caplog.at_level(logging.WARNING, logger="reflex.app"):
        logging.getLogger("reflex.app").warning("No token provided in connection for %s", "sid")
    assert "No token provided in connection for sid" in caplog.text


def test_a_malformed_logging_call_is_not_made_worse():
    record = logging.LogRecord("reflex.app", logging.WARNING, __file__, 1, "%s %s", ("one",), None)

    assert log_redaction.RedactClientTokens().filter(record) is True
